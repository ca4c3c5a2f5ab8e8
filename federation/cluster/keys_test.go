package cluster_test

import (
	"context"
	"crypto/ed25519"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestExpiredCertificateRefused: the district registered a village's key
// with its certificate; once the leader's clock passes the certificate's
// NotAfter, the village's new entries are refused (KEY_EXPIRED) although
// their signatures are good and their recorded time is whatever the signer
// wrote; a key rotation to a new certificate, signed by the old key, lets the
// chain go on.
func TestExpiredCertificateRefused(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := NewCluster(t, 1, func(cfg *cluster.Config) { cfg.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	const org = "350505100201"
	old, err := c.ca.Issue(org, pki.RoleVillage, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader := c.Client(c.Leader().id)
	if _, err := leader.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: org, PublicKey: old.Key.Public().(ed25519.PublicKey), Certificate: old.Cert.Raw}); err != nil {
		t.Fatal(err)
	}
	var head ledger.Head
	seal := func(key ed25519.PrivateKey, typ sanziv1.EntryType, payload []byte) []byte {
		s, err := ledger.Seal(key, head, ledger.Record{Origin: org, Type: typ, Payload: payload}, old.Cert.NotBefore.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
		return s.Raw
	}
	tx := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	if _, err := push(t, leader, [][]byte{seal(old.Key, tx, []byte("a"))}); err != nil {
		t.Fatalf("push while the certificate is valid: %v", err)
	}

	now.Store(old.Cert.NotAfter.Add(time.Hour).UnixNano())
	late := seal(old.Key, tx, []byte("b")) // recorded "within" the certificate's life: the signer's claim
	_, err = push(t, leader, [][]byte{late})
	if reason, ok := relay.RefusedFor(err); !ok || reason != relay.ReasonKeyExpired || !strings.Contains(err.Error(), "expired on") {
		t.Fatalf("push after the certificate expired: %v, want KEY_EXPIRED", err)
	}

	fresh, err := c.ca.Issue(org, pki.RoleVillage, nil, old.Cert.NotAfter)
	if err != nil {
		t.Fatal(err)
	}
	rot, _ := proto.Marshal(&sanziv1.KeyRotation{PublicKey: fresh.Key.Public().(ed25519.PublicKey), Certificate: fresh.Cert.Raw})
	batch := [][]byte{late, seal(old.Key, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, rot), seal(fresh.Key, tx, []byte("c"))}
	resp, err := push(t, leader, batch)
	if err != nil || ackOf(resp, org) != 4 {
		t.Fatalf("push after rotating to a new certificate: %v, ack %d", err, ackOf(resp, org))
	}
	if _, err := push(t, leader, [][]byte{seal(old.Key, tx, []byte("d"))}); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("the old key after the rotation: %v, want refused by signature", err)
	}
}
