package pki

import (
	"context"
	"crypto/x509"
	"errors"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerCertificate is the certificate the peer of a gRPC call presented over
// mutual TLS (the verified leaf when verification kept a chain), so that
// servers read the caller's org, role and key from one place.
func PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, errors.New("no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	switch {
	case ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0:
		return ti.State.VerifiedChains[0][0], nil
	case ok && len(ti.State.PeerCertificates) > 0:
		return ti.State.PeerCertificates[0], nil
	}
	return nil, errors.New("no verified client certificate")
}

// PeerIdentity is the peer's certificate with the org and role it names.
func PeerIdentity(ctx context.Context) (*x509.Certificate, string, Role, error) {
	c, err := PeerCertificate(ctx)
	if err != nil {
		return nil, "", "", err
	}
	org, role, err := Identity(c)
	return c, org, role, err
}
