package fsm

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const district = "350505000000"

// sealer makes entries of any chain with any key: the FSM checks links, not
// signatures (the leader did), so apply tests need no valid signer.
type sealer map[string]ledger.Head

func (s sealer) entry(t *testing.T, origin string, typ sanziv1.EntryType, m proto.Message) []byte {
	t.Helper()
	p, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.Seal(ed25519.NewKeyFromSeed(seed(9)), s[origin], ledger.Record{Origin: origin, Type: typ, Payload: p}, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	s[origin] = ledger.Head{Seq: st.Seq, Hash: st.Hash}
	return st.Raw
}

func (s sealer) revocation(t *testing.T, origin string, of ed25519.PublicKey, after uint64) []byte {
	return s.entry(t, origin, sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION,
		&sanziv1.KeyRevocation{Origin: oA, Fingerprint: keys.Fingerprint(of), AfterSeq: after, Reason: "stolen"})
}

// TestApplyKeyEntries applies raw logs holding a key rotation of a village
// and revocations in the district's chain (and one in a village's chain,
// which revokes nothing), and checks the replicated key state: after apply,
// after a reopen, and after a snapshot restored elsewhere.
func TestApplyKeyEntries(t *testing.T) {
	k1, k2 := ed25519.NewKeyFromSeed(seed(1)).Public().(ed25519.PublicKey), ed25519.NewKeyFromSeed(seed(2)).Public().(ed25519.PublicKey)
	s := sealer{}
	tx := func(origin string) []byte {
		return s.entry(t, origin, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.KeyRotation{})
	}
	logs := []*raft.Log{
		registerLog(t, 1, oA, k1),
		appendLog(t, 2, tx(oA), s.entry(t, oA, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, &sanziv1.KeyRotation{PublicKey: k2, Certificate: []byte("CERT")}), tx(oA)),
		appendLog(t, 3, s.revocation(t, district, k1, 2)),
		appendLog(t, 4, s.revocation(t, district, k1, 5)),         // later, looser: ignored
		appendLog(t, 5, s.revocation(t, district, k2, 1), tx(oB)), // another key
		appendLog(t, 6, s.revocation(t, oB, k2, 0)),               // not the district: revokes nothing
		appendLog(t, 7, s.entry(t, district, sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION, &sanziv1.KeyRevocation{Origin: oA, Fingerprint: "xyz"})),
	}
	f := openFSM(t)
	f.ApplyBatch(logs[:3])
	withOne := digest(t, f)
	for _, l := range logs[3:] {
		f.Apply(l)
	}
	check := func(t *testing.T, f *FSM) {
		t.Helper()
		if k, _ := f.Current(oA); !k.Equal(k2) {
			t.Errorf("current key of %s is %s, want the rotated %s", oA, keys.Fingerprint(k), keys.Fingerprint(k2))
		}
		if k, _ := f.Public(oA); !k.Equal(k1) {
			t.Errorf("the key %s's chain starts with changed to %s", oA, keys.Fingerprint(k))
		}
		if c := f.Certificate(oA); string(c) != "CERT" {
			t.Errorf("certificate of %s = %q, want the rotation's", oA, c)
		}
		r, ok := f.Revoked(oA, keys.Fingerprint(k1))
		want := ledger.Revocation{Origin: oA, Fingerprint: keys.Fingerprint(k1), AfterSeq: 2, Reason: "stolen", Entry: district + "-1"}
		if !ok || r != want {
			t.Errorf("revocation of k1 = %+v, %v; want %+v", r, ok, want)
		}
		if got := f.Revocations(); len(got) != 2 {
			t.Errorf("revocations %+v, want k1 and k2 of %s only", got, oA)
		}
	}
	t.Run("applied", func(t *testing.T) { check(t, f) })
	if withOne == digest(t, f) {
		t.Error("the digest does not cover revocations")
	}
	t.Run("a revocation moves only earlier", func(t *testing.T) {
		g := openFSM(t)
		g.ApplyBatch(logs)
		g.Apply(appendLog(t, 8, s.revocation(t, district, k1, 1)))
		if r, _ := g.Revoked(oA, keys.Fingerprint(k1)); r.AfterSeq != 1 || r.Entry != district+"-5" {
			t.Errorf("after an earlier revocation: %+v", r)
		}
	})
	t.Run("reopened", func(t *testing.T) {
		path := f.Path()
		want := digest(t, f)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		g, err := Open(Config{Path: path, Logger: quiet, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		check(t, g)
		if digest(t, g) != want {
			t.Error("digest changed across a reopen")
		}
		h := restoredCopy(t, g)
		t.Run("restored", func(t *testing.T) { check(t, h) })
		if !reflect.DeepEqual(h.Revocations(), g.Revocations()) || digest(t, h) != want {
			t.Error("restored state differs")
		}
	})
}

// certOf is a self-signed certificate of key's public key: the FSM only
// compares the key a certificate carries with the registered one.
func certOf(t *testing.T, key ed25519.PrivateKey, serial int64) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: oA},
		NotBefore: time.Unix(1e9, 0), NotAfter: time.Unix(2e9, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestFirstCertificateKept: a rotation replaces an origin's certificate
// with its own, and the first rotation keeps the one its first key was
// registered with, which later rotations, a reopen and a snapshot restored
// on another member leave as it is. A state whose held certificate is not
// of the registered key (one that rotated before the first was kept) keeps
// none rather than a wrong one.
func TestFirstCertificateKept(t *testing.T) {
	k1, k2, k3 := ed25519.NewKeyFromSeed(seed(1)), ed25519.NewKeyFromSeed(seed(2)), ed25519.NewKeyFromSeed(seed(3))
	c1, c2, c3 := certOf(t, k1, 1), certOf(t, k2, 2), certOf(t, k3, 3)
	register := func(cert []byte) *raft.Log {
		return cmdLog(t, 1, clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, false,
			&clusterv1.RegisterOrigin{Origin: oA, PublicKey: k1.Public().(ed25519.PublicKey), Certificate: cert})
	}
	rotate := func(s sealer, index uint64, to ed25519.PrivateKey, cert []byte) *raft.Log {
		return appendLog(t, index, s.entry(t, oA, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION,
			&sanziv1.KeyRotation{PublicKey: to.Public().(ed25519.PublicKey), Certificate: cert}))
	}
	for _, tc := range []struct {
		name                   string
		registered             []byte
		rotations              int // to k2, then to k3
		wantFirst, wantCurrent []byte
	}{
		{"never rotated", c1, 0, nil, c1},
		{"one rotation", c1, 1, c1, c2},
		{"two rotations", c1, 2, c1, c3},
		{"registered without a certificate", nil, 2, nil, c3},
		{"held certificate of another key", c2, 2, nil, c3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sealer{}
			logs := []*raft.Log{register(tc.registered), appendLog(t, 2, s.entry(t, oA, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.KeyRotation{}))}
			for i, r := range []struct {
				key  ed25519.PrivateKey
				cert []byte
			}{{k2, c2}, {k3, c3}}[:tc.rotations] {
				logs = append(logs, rotate(s, uint64(3+i), r.key, r.cert))
			}
			f := openFSM(t)
			for _, l := range logs {
				f.Apply(l)
			}
			check := func(t *testing.T, f *FSM) {
				t.Helper()
				if got := f.FirstCertificate(oA); !bytes.Equal(got, tc.wantFirst) {
					t.Errorf("first certificate: %d bytes, want %d (the registered one's: %v)", len(got), len(tc.wantFirst), bytes.Equal(got, c1))
				}
				if got := f.Certificate(oA); !bytes.Equal(got, tc.wantCurrent) {
					t.Errorf("current certificate: %d bytes, want %d", len(got), len(tc.wantCurrent))
				}
			}
			check(t, f)
			g := restoredCopy(t, f)
			t.Run("restored", func(t *testing.T) { check(t, g) })
			if digest(t, g) != digest(t, f) {
				t.Error("the restored state differs")
			}
			// Another member applying the same log holds the same state.
			h := openFSM(t)
			h.ApplyBatch(logs)
			t.Run("applied as a batch", func(t *testing.T) { check(t, h) })
			if digest(t, h) != digest(t, f) {
				t.Error("a member applying the same logs in one batch differs")
			}
		})
	}
}

// restoredCopy is a new FSM restored from a snapshot of f, as a member
// that installs f's snapshot would have it.
func restoredCopy(t *testing.T, f *FSM) *FSM {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufSink{}
	err = snap.Persist(sink)
	snap.Release()
	if err != nil {
		t.Fatal(err)
	}
	g := openFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	return g
}
