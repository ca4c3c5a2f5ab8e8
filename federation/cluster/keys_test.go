package cluster_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/keys"
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

// TestFirstPullAfterRotationFromDistrict: a town's chain the district
// holds rotated from its first key to a new one; a village under the
// district directly whose first pull of it comes after the rotation gets the
// certificate of the first key along (first_signer_certificate, kept by the
// FSM at the rotation), pins that key after checking it against the CA and
// seq 1, and follows the rotation to the new key. Served without it (the
// rotation's certificate only), the village refuses the chain at seq 1.
func TestFirstPullAfterRotationFromDistrict(t *testing.T) {
	c := NewCluster(t, 1, nil)
	const town, vorg = "350505100000", "350505100201"
	old, err := c.ca.Issue(town, pki.RoleTown, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := c.ca.Issue(town, pki.RoleTown, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leader := c.Client(c.Leader().id)
	if _, err := leader.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: town, PublicKey: old.Key.Public().(ed25519.PublicKey), Certificate: old.Cert.Raw}); err != nil {
		t.Fatal(err)
	}
	var head ledger.Head
	seal := func(key ed25519.PrivateKey, typ sanziv1.EntryType, payload []byte) []byte {
		s, err := ledger.Seal(key, head, ledger.Record{Origin: town, Author: "town", Type: typ, Payload: payload}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
		return s.Raw
	}
	tx := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	rot, _ := proto.Marshal(&sanziv1.KeyRotation{PublicKey: fresh.Key.Public().(ed25519.PublicKey), Certificate: fresh.Cert.Raw})
	batch := [][]byte{seal(old.Key, tx, []byte("a")), seal(old.Key, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, rot), seal(fresh.Key, tx, []byte("b"))}
	if resp, err := push(t, leader, batch); err != nil || ackOf(resp, town) != 3 {
		t.Fatalf("push the town's chain with its rotation: %v", err)
	}

	vcert, err := c.ca.Issue(vorg, pki.RoleVillage, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.Leader().apiAddr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(c.ca.Pool(), vcert.TLSCertificate(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := sanziv1.NewSyncServiceClient(conn)
	resp, err := client.SyncPull(ctx, &sanziv1.SyncPullRequest{Origin: town, FromSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.GetFirstSignerCertificate(), old.Cert.Raw) || !bytes.Equal(resp.GetSignerCertificate(), fresh.Cert.Raw) {
		t.Fatalf("the district serves first certificate of the first key %v, signer certificate of the new key %v",
			bytes.Equal(resp.GetFirstSignerCertificate(), old.Cert.Raw), bytes.Equal(resp.GetSignerCertificate(), fresh.Cert.Raw))
	}

	for _, tc := range []struct {
		name  string
		serve sanziv1.SyncServiceClient
		want  string // "" pulls the whole chain, else the refusal
	}{
		{"as served", client, ""},
		{"without the first certificate", dropFirst{client}, "did not sign its seq 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			l, err := ledger.Open(ledger.Config{Path: filepath.Join(data, "ledger.db"), Keys: keys.NewRing(), NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			p, err := relay.NewPuller(relay.PullConfig{Ledger: l, Origin: town, Role: pki.RoleTown, Pool: c.ca.Pool(), DataDir: data,
				Dial:   func(context.Context) (sanziv1.SyncServiceClient, func(), error) { return tc.serve, func() {}, nil },
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			n, err := p.PullNow(ctx)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || l.Head(town).Seq != 0 {
					t.Fatalf("first pull: %d entries, %v; want refused (%s), nothing stored", n, err, tc.want)
				}
				return
			}
			if err != nil || n != 3 {
				t.Fatalf("first pull after the rotation: %d entries, %v; want the 3 of the chain", n, err)
			}
			first, err := keys.ReadPublic(filepath.Join(data, "keys", town+".first.pub"))
			if err != nil || !first.Equal(old.Key.Public()) {
				t.Errorf("%s.first.pub: %v, want the town's first key", town, err)
			}
			cur, err := keys.ReadPublic(filepath.Join(data, "keys", town+".pub"))
			if err != nil || !cur.Equal(fresh.Key.Public()) {
				t.Errorf("%s.pub: %v, want the town's new key", town, err)
			}
		})
	}
}

// dropFirst serves pulls as the district did before it kept the first
// certificate.
type dropFirst struct{ sanziv1.SyncServiceClient }

func (d dropFirst) SyncPull(ctx context.Context, r *sanziv1.SyncPullRequest, opts ...grpc.CallOption) (*sanziv1.SyncPullResponse, error) {
	resp, err := d.SyncServiceClient.SyncPull(ctx, r, opts...)
	if resp != nil {
		resp.FirstSignerCertificate = nil
	}
	return resp, err
}
