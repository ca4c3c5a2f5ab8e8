package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	"github.com/sanzi/sanzi/node/town"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// What a town node runs besides what every node does: the inbox its
// villages push to, and its look across their chains after each batch.

// serveInbox takes the pushes of the town's villages on cfg.SyncAddr,
// over mutual TLS with village certificates of the district's CA.
func (n *Node) serveInbox(iss *pki.Issued) error {
	pool, err := pki.LoadPool(n.cfg.TLSDir)
	if err != nil {
		return err
	}
	in, err := town.NewInbox(n.ledger, n.cfg.Orgs[0], n.cfg.DataDir, n.log.With("subsystem", "inbox"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.SyncAddr)
	if err != nil {
		return fmt.Errorf("listen for villages on %s: %w", n.cfg.SyncAddr, err)
	}
	in.OnFork = func(ctx context.Context, village string, seq uint64, heldHash, sentHash string) {
		if _, err := n.books.RecordTamper(ctx, village, seq, map[string]string{"village": village, "seq": fmt.Sprint(seq),
			"held_hash": heldHash, "sent_hash": sentHash}); err != nil {
			n.log.Error("record TAMPER alert", "village", village, "seq", seq, "err", err)
		}
	}
	tampers := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanzi_town_tamper_refused_total",
		Help: "Village entries refused because they do not verify (TAMPER), by the check that failed; each distinct one is an alert."}, []string{"failure"})
	n.registry.MustRegister(tampers)
	in.OnTamper = func(ctx context.Context, village string, ve *ledger.VerifyError, raw []byte) {
		tampers.WithLabelValues(string(ve.Failure)).Inc()
		if _, err := n.books.RecordRefusedEntry(ctx, ve, relay.SentHash(raw), raw); err != nil {
			n.log.Error("record TAMPER alert", "village", village, "seq", ve.Seq, "err", err)
		}
	}
	// The town looks across its villages after each stored batch, off the
	// push path: acks do not wait for it, and a burst of batches is looked
	// at once.
	// The outbox is woken too: what a village pushed goes on up at once,
	// not at the outbox's next poll.
	n.crossKick, n.outboxKick = make(chan struct{}, 1), make(chan struct{}, 1)
	in.Stored = func(_ context.Context, stored []*ledger.Stored) error {
		n.sup.Held(stored)
		for _, kick := range []chan struct{}{n.crossKick, n.outboxKick} {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		return nil
	}
	in.Attachments, in.Named = relay.StoreSink{Store: n.books.Attachments()}, entries.Attachments
	in.OwnCertificate = iss.Cert.Raw
	if in.OwnFirstCertificate, err = keepFirstCertificate(n.cfg.DataDir, n.cfg.Orgs[0], iss); err != nil {
		return err
	}
	in.Revoked = relay.NewChainRevocations(n.ledger, n.cfg.Orgs[0][:6]+"000000")
	in.CheckCert, in.Now = pki.Rotation(pool), n.cfg.Now
	n.inbox = in
	n.inboxLn = ln
	n.inboxSrv = grpc.NewServer(append(limits.ServerOptions(n.cfg.GRPCMaxStreams, n.log),
		grpc.Creds(credentials.NewTLS(pki.ServerConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleVillage)))),
		grpc.MaxRecvMsgSize(limits.MaxMessageSize))...)
	sanziv1.RegisterSyncServiceServer(n.inboxSrv, in)
	// Read-only, a village's own: what a restored village pulls back
	// (catchUpRestored).
	sanziv1.RegisterAttachmentServiceServer(n.inboxSrv, &town.VillageAttachments{In: in, Store: n.books.Attachments()})
	return nil
}

// InboxAddr is the bound address villages push to ("" for a village).
func (n *Node) InboxAddr() string {
	if n.inboxLn == nil {
		return ""
	}
	return n.inboxLn.Addr().String()
}

// followVillages brings the town's supervision across its villages up to
// date each time the inbox stored a batch, until ctx ends.
func (n *Node) followVillages(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.crossKick:
			if err := n.sup.Follow(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("town supervision across villages", "err", err)
			}
		}
	}
}

// keepFirstCertificate keeps the certificate of the key origin's chain
// starts with in keys/<origin>.first.crt, and returns it once the chain
// rotated away from that key (nil before: signer_certificate is then the
// same). The town serves it to a village whose first pull comes after the
// rotation (relay.Puller.pin). It is written while iss still holds the
// first key, at every start before a rekey: sanzi ca issue overwrites the
// certificate file of the old key, so rekey cannot find it.
func keepFirstCertificate(dataDir, origin string, iss *pki.Issued) ([]byte, error) {
	keysDir := filepath.Join(dataDir, "keys")
	path := filepath.Join(keysDir, origin+".first.crt")
	first, err := keys.ReadPublic(filepath.Join(keysDir, origin+".first.pub"))
	if errors.Is(err, os.ErrNotExist) {
		// Not rotated: the chain is signed with the node's key, which
		// installIssuedKey checked is iss's. Written when it changed
		// (a renewed certificate), not at every start.
		if held, err := os.ReadFile(path); err == nil && bytes.Equal(held, iss.Cert.Raw) {
			return nil, nil
		}
		if err := keys.WriteFile(path, iss.Cert.Raw, 0o644); err != nil {
			return nil, fmt.Errorf("keep the certificate of chain %s's first key: %w", origin, err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the first key of chain %s: %w", origin, err)
	}
	der, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// Re-keyed before the certificate was kept: a village's first
		// pull pins the current certificate and cannot verify seq 1.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the certificate of chain %s's first key: %w", origin, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil || !first.Equal(c.PublicKey) {
		return nil, fmt.Errorf("%s does not hold the certificate of chain %s's first key %s", path, origin, keys.Fingerprint(first))
	}
	return der, nil
}
