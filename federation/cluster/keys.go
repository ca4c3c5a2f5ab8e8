package cluster

import (
	"crypto/ed25519"
	"crypto/x509"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
)

// keyOptions is what the leader checks of origin's keys on a push, beyond
// the chain: rotations' certificates against the district CA, the
// revocations in the replicated state, and the expiry of the certificate of
// pub (the key at the district's head) against the leader's clock at
// receipt, since recorded_at is written by the signer and a stolen key
// could backdate entries into its certificate's life.
func (n *Node) keyOptions(origin string, pub ed25519.PublicKey) ledger.KeyOptions {
	o := ledger.KeyOptions{Revoked: n.fsm, Now: n.cfg.Now()}
	if n.cfg.CertPool != nil {
		o.CheckCert = pki.Rotation(n.cfg.CertPool)
	}
	if der := n.fsm.Certificate(origin); der != nil {
		if c, err := x509.ParseCertificate(der); err == nil {
			if k, ok := c.PublicKey.(ed25519.PublicKey); ok && k.Equal(pub) {
				o.NotAfter = c.NotAfter
			}
		}
	}
	return o
}
