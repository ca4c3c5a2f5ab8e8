package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const testTown = "350505100000"

// townChain is a parent's copy of testTown's chain, served by SyncPull
// with the certificate cert (what the parent says signs the chain now).
type townChain struct {
	sanziv1.SyncServiceClient
	head ledger.Head
	raws [][]byte
	cert []byte
	// first is served as the certificate of the chain's first key.
	first []byte
}

func (c *townChain) SyncPull(_ context.Context, r *sanziv1.SyncPullRequest, _ ...grpc.CallOption) (*sanziv1.SyncPullResponse, error) {
	out := &sanziv1.SyncPullResponse{SignerCertificate: c.cert, FirstSignerCertificate: c.first}
	if from := r.GetFromSeq(); from >= 1 && from <= uint64(len(c.raws)) {
		out.Entries = c.raws[from-1:]
	}
	return out, nil
}

func (c *townChain) add(t *testing.T, by *pki.Issued, typ sanziv1.EntryType, payload []byte) {
	t.Helper()
	s, err := ledger.Seal(by.Key, c.head, ledger.Record{Origin: testTown, Author: "town", Type: typ, Payload: payload}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
	c.raws = append(c.raws, s.Raw)
}

func (c *townChain) tx(t *testing.T, by *pki.Issued) {
	c.add(t, by, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, []byte("decision"))
}

// rotate adds a rotation to to's key, carrying cert, signed by signer.
func (c *townChain) rotate(t *testing.T, signer, to *pki.Issued, cert []byte) {
	t.Helper()
	p, err := proto.Marshal(&sanziv1.KeyRotation{PublicKey: to.Key.Public().(ed25519.PublicKey), Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	c.add(t, signer, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, p)
}

// follower is a village's ledger and data folder pulling c's chain.
type follower struct {
	l    *ledger.Ledger
	data string
	pool *pki.CA
}

func (f *follower) puller(t *testing.T, c *townChain) *Puller {
	t.Helper()
	p, err := NewPuller(PullConfig{Ledger: f.l, Origin: testTown, Role: pki.RoleTown, Pool: f.pool.Pool(), DataDir: f.data,
		Dial:   func(context.Context) (sanziv1.SyncServiceClient, func(), error) { return c, func() {}, nil },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func newFollower(t *testing.T, ca *pki.CA) *follower {
	t.Helper()
	data := t.TempDir()
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(data, "ledger.db"), Keys: keys.NewRing(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &follower{l: l, data: data, pool: ca}
}

func (f *follower) key(t *testing.T, name string) ed25519.PublicKey {
	t.Helper()
	k, err := keys.ReadPublic(filepath.Join(f.data, "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPullerKeys: a follower pins the town's key at its first pull and
// from then on trusts only what the chain says: a rotation signed by the
// pinned key (or by its new key under a certificate of the district CA)
// changes the key it verifies with, across a restart too; a certificate
// the parent serves does not.
func TestPullerKeys(t *testing.T) {
	ctx := context.Background()
	ca, rogueCA := twoCAs(t)
	issue := func(ca *pki.CA) *pki.Issued {
		i, err := ca.Issue(testTown, pki.RoleTown, nil, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	k1, k2, k3, rogue := issue(ca), issue(ca), issue(ca), issue(rogueCA)
	pub := func(i *pki.Issued) ed25519.PublicKey { return i.Key.Public().(ed25519.PublicKey) }

	for _, tc := range []struct {
		name string
		// after builds what the town writes after the two entries the
		// follower pinned k1 with, and the certificate it serves then.
		after   func(t *testing.T, c *townChain) []byte
		wantErr string // "": pulled whole, signed by k2 at the head
		// revokeK1 stores the district's revocation of k1 after seq 2
		// in the follower's copy of the district's chain first.
		revokeK1 bool
	}{
		{name: "rotation signed by the pinned key", after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, k1, k2, k2.Cert.Raw)
			c.tx(t, k2)
			return k2.Cert.Raw
		}},
		{name: "rotation signed by its new key, certified by the district CA (old key lost)", after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, k2, k2, k2.Cert.Raw)
			c.tx(t, k2)
			return k2.Cert.Raw
		}},
		{name: "another key served, no rotation", wantErr: "signature of the last entry does not verify", after: func(t *testing.T, c *townChain) []byte {
			c.tx(t, k3)
			return k3.Cert.Raw
		}},
		{name: "rotation signed by its new key, certified by another CA", wantErr: "not valid under this district's CA", after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, rogue, rogue, rogue.Cert.Raw)
			c.tx(t, rogue)
			return rogue.Cert.Raw
		}},
		{name: "rotation signed by neither key", wantErr: "signed neither by the key it replaces nor by its new key", after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, k3, k2, k2.Cert.Raw)
			c.tx(t, k2)
			return k2.Cert.Raw
		}},
		{name: "rotation signed by the pinned key after the district revoked it", revokeK1: true,
			wantErr: "the old key is revoked at this seq", after: func(t *testing.T, c *townChain) []byte {
				c.rotate(t, k1, k2, k2.Cert.Raw)
				c.tx(t, k2)
				return k2.Cert.Raw
			}},
		{name: "rotation signed by its new key after the district revoked the pinned key", revokeK1: true, after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, k2, k2, k2.Cert.Raw)
			c.tx(t, k2)
			return k2.Cert.Raw
		}},
		{name: "the old key signs after its rotation", wantErr: "signature of the last entry does not verify", after: func(t *testing.T, c *townChain) []byte {
			c.rotate(t, k1, k2, k2.Cert.Raw)
			c.tx(t, k1)
			return k1.Cert.Raw
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &townChain{cert: k1.Cert.Raw}
			c.tx(t, k1)
			c.tx(t, k1)
			f := newFollower(t, ca)
			if n, err := f.puller(t, c).PullNow(ctx); err != nil || n != 2 {
				t.Fatalf("first pull: %d %v", n, err)
			}
			if tc.revokeK1 {
				revoke(t, f.l, pub(k1), 2)
			}
			c.cert = tc.after(t, c)
			p := f.puller(t, c) // a restarted node: the key in force is read from the chain
			n, err := p.PullNow(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("pull: %d %v, want an error naming %q", n, err, tc.wantErr)
				}
				if h := f.l.Head(testTown).Seq; h != 2 {
					t.Fatalf("head %d after a refused pull, want 2", h)
				}
				if !f.key(t, testTown+".pub").Equal(pub(k1)) {
					t.Fatal("the pinned key changed after a refused pull")
				}
				return
			}
			if err != nil || n != 2 {
				t.Fatalf("pull across the rotation: %d %v", n, err)
			}
			if !f.key(t, testTown+".first.pub").Equal(pub(k1)) || !f.key(t, testTown+".pub").Equal(pub(k2)) {
				t.Fatal("key files after the rotation: want .first.pub k1, .pub k2")
			}
			// Further entries under k2, by this puller and by a restarted one.
			c.tx(t, k2)
			if n, err := p.PullNow(ctx); err != nil || n != 1 {
				t.Fatalf("pull under the new key: %d %v", n, err)
			}
			c.tx(t, k2)
			if n, err := f.puller(t, c).PullNow(ctx); err != nil || n != 1 {
				t.Fatalf("pull under the new key after a restart: %d %v", n, err)
			}
		})
	}
}

// TestPullerFirstPullAfterRotation: a follower whose first pull comes
// after the town rotated its key pins the first key from the certificate
// of it the parent serves, and follows the chain's rotation to the current
// key; a certificate not of the district CA (even for the right key), or
// whose key did not sign seq 1, is refused and nothing is stored or pinned.
func TestPullerFirstPullAfterRotation(t *testing.T) {
	ctx := context.Background()
	ca, rogueCA := twoCAs(t)
	issue := func(ca *pki.CA, org string, role pki.Role) *pki.Issued {
		i, err := ca.Issue(org, role, nil, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	k1, k2, k3 := issue(ca, testTown, pki.RoleTown), issue(ca, testTown, pki.RoleTown), issue(ca, testTown, pki.RoleTown)
	otherTown := issue(ca, "350505200000", pki.RoleTown)
	pub := func(i *pki.Issued) ed25519.PublicKey { return i.Key.Public().(ed25519.PublicKey) }
	// k1's own key and identity, certified by another CA.
	tmpl := *k1.Cert
	rogueDER, err := x509.CreateCertificate(rand.Reader, &tmpl, rogueCA.Cert, pub(k1), rogueCA.Key)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		first   []byte // served as first_signer_certificate
		wantErr string // "": pulled whole, .first.pub k1 and .pub k2
		// lost signs the rotation with its new key (the old key lost):
		// then no signature by the first key is checked but seq 1's.
		lost bool
	}{
		{name: "the first key's certificate", first: k1.Cert.Raw},
		{name: "none served (a parent that did not keep it)", wantErr: "did not sign its seq 1"},
		{name: "the first key, certified by another CA", first: rogueDER, wantErr: "not from this district's CA"},
		{name: "a key of the district CA that did not sign seq 1", first: k3.Cert.Raw, wantErr: "did not sign its seq 1"},
		{name: "the first key's certificate, rotation by the new key", first: k1.Cert.Raw, lost: true},
		{name: "a key that did not sign seq 1, rotation by the new key", first: k3.Cert.Raw, lost: true, wantErr: "did not sign its seq 1"},
		{name: "another town's certificate", first: otherTown.Cert.Raw, wantErr: "not the town " + testTown},
		{name: "not a certificate", first: []byte("junk"), wantErr: "the certificate of chain " + testTown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &townChain{cert: k2.Cert.Raw, first: tc.first}
			c.tx(t, k1)
			c.tx(t, k1)
			signer := k1
			if tc.lost {
				signer = k2
			}
			c.rotate(t, signer, k2, k2.Cert.Raw)
			c.tx(t, k2)
			f := newFollower(t, ca)
			n, err := f.puller(t, c).PullNow(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("first pull: %d %v, want an error naming %q", n, err, tc.wantErr)
				}
				if h := f.l.Head(testTown).Seq; h != 0 {
					t.Fatalf("head %d after a refused first pull, want 0", h)
				}
				for _, name := range []string{"keys/" + testTown + ".pub", "keys/" + testTown + ".first.pub", "peers/" + testTown + ".crt"} {
					if _, err := os.Stat(filepath.Join(f.data, name)); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("%s after a refused first pull: %v, want none", name, err)
					}
				}
				return
			}
			if err != nil || n != 4 {
				t.Fatalf("first pull after the rotation: %d %v", n, err)
			}
			if !f.key(t, testTown+".first.pub").Equal(pub(k1)) || !f.key(t, testTown+".pub").Equal(pub(k2)) {
				t.Fatal("key files after the first pull: want .first.pub k1, .pub k2")
			}
			if der, err := os.ReadFile(filepath.Join(f.data, "peers", testTown+".first.crt")); err != nil || !bytes.Equal(der, k1.Cert.Raw) {
				t.Fatalf("peers/%s.first.crt: %v, want k1's certificate (served on to this node's children)", testTown, err)
			}
			if der, err := os.ReadFile(filepath.Join(f.data, "peers", testTown+".crt")); err != nil || !bytes.Equal(der, k2.Cert.Raw) {
				t.Fatalf("peers/%s.crt: %v, want the rotation's certificate", testTown, err)
			}
			c.tx(t, k2)
			if n, err := f.puller(t, c).PullNow(ctx); err != nil || n != 1 {
				t.Fatalf("pull under the new key after a restart: %d %v", n, err)
			}
		})
	}
}

// revoke stores in l a district chain (350505000000) whose one entry
// revokes key of testTown after seq after.
func revoke(t *testing.T, l *ledger.Ledger, key ed25519.PublicKey, after uint64) {
	t.Helper()
	p, err := proto.Marshal(&sanziv1.KeyRevocation{Origin: testTown, Fingerprint: keys.Fingerprint(key), AfterSeq: after, Reason: "stolen"})
	if err != nil {
		t.Fatal(err)
	}
	_, district, _ := ed25519.GenerateKey(nil)
	s, err := ledger.Seal(district, ledger.Head{}, ledger.Record{Origin: "350505000000", Author: "district", Type: sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION, Payload: p}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), ledger.Record{Raw: s.Raw}); err != nil {
		t.Fatal(err)
	}
}

// TestCatchUpAcrossRotation: a node restored from a backup taken after it
// re-keyed catches up from its parent's copy, verified from the key its
// chain is at (not the first key, which keys.Ring.Public gives), and
// across a rotation the parent's copy holds.
func TestCatchUpAcrossRotation(t *testing.T) {
	ctx := context.Background()
	ca, err := pki.NewCA("350505", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var k [3]*pki.Issued
	for i := range k {
		if k[i], err = ca.Issue(testTown, pki.RoleTown, nil, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	first := k[0].Key.Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name   string
		backup int // entries of the parent's copy held by the backup
	}{
		{name: "backup before the first rotation", backup: 1},
		{name: "backup after the first rotation", backup: 3},
		{name: "backup after both rotations", backup: 5},
		{name: "backup holds everything", backup: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &townChain{}
			c.tx(t, k[0])
			c.rotate(t, k[0], k[1], k[1].Cert.Raw)
			c.tx(t, k[1])
			c.tx(t, k[1])
			c.rotate(t, k[1], k[2], k[2].Cert.Raw)
			c.tx(t, k[2])
			f := newFollower(t, ca)
			for _, raw := range c.raws[:tc.backup] {
				if _, err := f.l.Append(ctx, ledger.Record{Raw: raw}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := CatchUp(ctx, c, f.l, testTown, first)
			if err != nil || n != len(c.raws)-tc.backup || f.l.Head(testTown) != c.head {
				t.Fatalf("catch up: %d %v, head %d; want %d pulled up to %d", n, err, f.l.Head(testTown).Seq, len(c.raws)-tc.backup, c.head.Seq)
			}
		})
	}
	t.Run("a copy signed by another key", func(t *testing.T) {
		c := &townChain{}
		c.tx(t, k[0])
		c.tx(t, k[2])
		f := newFollower(t, ca)
		if _, err := f.l.Append(ctx, ledger.Record{Raw: c.raws[0]}); err != nil {
			t.Fatal(err)
		}
		if n, err := CatchUp(ctx, c, f.l, testTown, first); !errors.Is(err, ErrFork) || n != 0 {
			t.Fatalf("catch up: %d %v, want a fork", n, err)
		}
	})
}

// twoCAs makes the district's CA and a rogue one for the same district.
func twoCAs(t *testing.T) (ca, rogue *pki.CA) {
	t.Helper()
	var err error
	if ca, err = pki.NewCA("350505", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if rogue, err = pki.NewCA("350505", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	return ca, rogue
}
