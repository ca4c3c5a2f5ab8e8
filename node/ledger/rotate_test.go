package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// keyFixture is a district CA and three certified keys of testOrigin, plus
// one certificate of another village.
type keyFixture struct {
	ca         *pki.CA
	k1, k2, k3 *pki.Issued
	other      *pki.Issued
}

func newKeyFixture(t *testing.T) *keyFixture {
	t.Helper()
	ca, err := pki.NewCA("350505", t0)
	if err != nil {
		t.Fatal(err)
	}
	f := &keyFixture{ca: ca}
	for _, p := range []**pki.Issued{&f.k1, &f.k2, &f.k3} {
		if *p, err = ca.Issue(testOrigin, pki.RoleVillage, nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	if f.other, err = ca.Issue("350505100202", pki.RoleVillage, nil, t0); err != nil {
		t.Fatal(err)
	}
	return f
}

func pubOf(i *pki.Issued) ed25519.PublicKey { return i.Key.Public().(ed25519.PublicKey) }

// stretch builds a chain of testOrigin entry by entry, each signed by the
// key given.
type stretch struct {
	head  Head
	links []Link
	raws  [][]byte
}

func (s *stretch) add(t *testing.T, key ed25519.PrivateKey, typ sanziv1.EntryType, payload []byte) {
	t.Helper()
	st, err := Seal(key, s.head, Record{Origin: testOrigin, Author: "a", Type: typ, Payload: payload}, t0.Add(time.Duration(len(s.links))*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Peek(st.Raw)
	if err != nil {
		t.Fatal(err)
	}
	s.head = Head{Seq: st.Seq, Hash: st.Hash}
	s.links, s.raws = append(s.links, l), append(s.raws, st.Raw)
}

func (s *stretch) tx(t *testing.T, by *pki.Issued) {
	s.add(t, by.Key, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, []byte("tx"))
}

// rotate adds a rotation to to's key and certificate (cert overrides it),
// signed by signer.
func (s *stretch) rotate(t *testing.T, signer, to *pki.Issued, cert []byte) {
	t.Helper()
	if cert == nil {
		cert = to.Cert.Raw
	} else if len(cert) == 0 {
		cert = nil
	}
	p, err := proto.Marshal(&sanziv1.KeyRotation{PublicKey: pubOf(to), Certificate: cert, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s.add(t, signer.Key, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, p)
}

type revList map[string]Revocation

func (r revList) Revoked(origin, fp string) (Revocation, bool) {
	v, ok := r[origin+"/"+fp]
	return v, ok
}

func revoke(k *pki.Issued, after uint64) revList {
	fp := keys.Fingerprint(pubOf(k))
	return revList{testOrigin + "/" + fp: {Origin: testOrigin, Fingerprint: fp, AfterSeq: after, Reason: "stolen", Entry: "350505000000-7"}}
}

// TestChainVerifierKeys covers rotations, revocations and expiry as a
// parent checks a pushed stretch: each case builds a real signed stretch
// from seq 1 with the origin's first key k1.
func TestChainVerifierKeys(t *testing.T) {
	f := newKeyFixture(t)
	check := CertCheck(pki.Rotation(f.ca.Pool()))
	rogueCA, err := pki.NewCA("350505", t0)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rogueCA.Issue(testOrigin, pki.RoleVillage, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		build   func(*testing.T, *stretch)
		opts    KeyOptions
		wantErr string // "" passes; else a part of the error
		is      error
		key     *pki.Issued // the key in force after the stretch
	}{
		{name: "rotation signed by the old key", opts: KeyOptions{CheckCert: check}, key: f.k2,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, nil); s.tx(t, f.k2) }},
		{name: "rotation signed by the old key, no CA to check", key: f.k2,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, nil); s.tx(t, f.k2) }},
		{name: "old key signs after its rotation", opts: KeyOptions{CheckCert: check}, wantErr: "signature of the last entry",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, nil); s.tx(t, f.k1) }},
		{name: "rotation signed by the new key, vouched by the CA", opts: KeyOptions{CheckCert: check}, key: f.k2,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k2, f.k2, nil); s.tx(t, f.k2) }},
		{name: "rotation signed by the new key, no CA", wantErr: "needs the district CA",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k2, f.k2, nil) }},
		{name: "rotation with another village's certificate", opts: KeyOptions{CheckCert: check}, wantErr: "certificate names 350505100202",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, f.other.Cert.Raw) }},
		{name: "rotation with a certificate of another key", opts: KeyOptions{CheckCert: check}, wantErr: "certificate's key is not",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, f.k3.Cert.Raw) }},
		{name: "rotation with a certificate of another CA", opts: KeyOptions{CheckCert: check}, wantErr: "not valid under this district's CA",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, rogue, nil) }},
		{name: "rotation without a certificate", opts: KeyOptions{CheckCert: check}, wantErr: "no certificate",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, []byte{}) }},
		{name: "rotation signed by a stranger", opts: KeyOptions{CheckCert: check}, wantErr: "signed neither",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k3, f.k2, nil) }},
		{name: "revoked key signs after the point", opts: KeyOptions{CheckCert: check, Revoked: revoke(f.k1, 1)}, wantErr: "revoked by the district after seq 1", is: ErrKeyRevoked,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.tx(t, f.k1) }},
		{name: "revoked key up to the point", opts: KeyOptions{CheckCert: check, Revoked: revoke(f.k1, 2)}, key: f.k1,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.tx(t, f.k1) }},
		{name: "entries after the point kept by a CA rotation", opts: KeyOptions{CheckCert: check, Revoked: revoke(f.k1, 1)}, key: f.k2,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.tx(t, f.k1); s.rotate(t, f.k2, f.k2, nil) }},
		{name: "thief rotates with the revoked key", opts: KeyOptions{CheckCert: check, Revoked: revoke(f.k1, 1)}, wantErr: "old key is revoked",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k3, nil) }},
		{name: "rotation to a revoked key", opts: KeyOptions{CheckCert: check, Revoked: revoke(f.k2, 0)}, wantErr: "names key",
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, nil) }},
		{name: "expired certificate on receipt", opts: KeyOptions{NotAfter: t0.Add(time.Hour), Now: t0.Add(2 * time.Hour)}, wantErr: "expired on", is: ErrKeyExpired,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1) }},
		{name: "certificate valid on receipt", opts: KeyOptions{NotAfter: t0.Add(time.Hour), Now: t0}, key: f.k1,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1) }},
		{name: "expired key rotated to a fresh certificate", opts: KeyOptions{CheckCert: check, NotAfter: t0.Add(time.Hour), Now: t0.Add(48 * time.Hour)}, key: f.k2,
			build: func(t *testing.T, s *stretch) { s.tx(t, f.k1); s.rotate(t, f.k1, f.k2, nil); s.tx(t, f.k2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &stretch{}
			tc.build(t, s)
			v := NewChainVerifier(testOrigin, pubOf(f.k1), 1, [HashSize]byte{}, false).WithKeys(tc.opts)
			var err error
			for _, l := range s.links {
				if err = v.Check(l); err != nil {
					break
				}
			}
			if err == nil {
				_, err = v.Finish()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
			}
			if tc.key != nil {
				if k, _ := v.Key(); !k.Equal(pubOf(tc.key)) {
					t.Fatalf("key after the stretch is %s, want %s", keys.Fingerprint(k), keys.Fingerprint(pubOf(tc.key)))
				}
			}
		})
	}
}

// TestVerifyAcrossRotation stores a chain that rotates twice (by the old key,
// then by the new key with the CA's certificate) and checks that the ledger
// opens it, that sanzi verify's walk (every signature) passes with the CA and
// names the CA rotation without it.
func TestVerifyAcrossRotation(t *testing.T) {
	f := newKeyFixture(t)
	s := &stretch{}
	s.tx(t, f.k1)
	s.rotate(t, f.k1, f.k2, nil)
	s.tx(t, f.k2)
	s.rotate(t, f.k3, f.k3, nil) // k2 lost
	s.tx(t, f.k3)
	ring := keys.NewRing()
	ring.AddPublic(testOrigin, pubOf(f.k1))
	path := filepath.Join(t.TempDir(), "ledger.db")
	check := CertCheck(pki.Rotation(f.ca.Pool()))
	l, err := Open(Config{Path: path, Keys: ring, NoSync: true, CheckCert: check})
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range s.raws {
		if _, err := l.Append(context.Background(), Record{Raw: raw}); err != nil {
			t.Fatal(err)
		}
		// The key in force as the chain grows: none rotated yet, then
		// k2 from seq 2, k3 from seq 4.
		r, ok, err := l.LastRotation(testOrigin)
		want := map[int]*pki.Issued{1: f.k2, 2: f.k2, 3: f.k3, 4: f.k3}[i]
		switch {
		case err != nil:
			t.Fatalf("last rotation at seq %d: %v", i+1, err)
		case want == nil && ok:
			t.Fatalf("last rotation at seq %d: %+v, want none", i+1, r)
		case want != nil && (!ok || !r.PublicKey.Equal(pubOf(want)) || string(r.Certificate) != string(want.Cert.Raw) || r.Seq != uint64(2*((i+1)/2))):
			t.Fatalf("last rotation at seq %d: ok %v %+v, want the rotation to %s", i+1, ok, r, keys.Fingerprint(pubOf(want)))
		}
	}
	if _, ok, err := l.LastRotation("350505100299"); ok || err != nil {
		t.Fatalf("last rotation of a chain not held: %v %v", ok, err)
	}
	l.Close()
	l, err = Open(Config{Path: path, Keys: ring, NoSync: true, CheckCert: check})
	if err != nil {
		t.Fatal(err)
	}
	if ve := l.ChainBroken(testOrigin); ve != nil {
		t.Fatalf("reopened with the CA: %v", ve)
	}
	l.Close()
	counts, problems, err := VerifyWith(path, ring, check)
	if err != nil || len(problems) > 0 || counts[testOrigin] != 5 {
		t.Fatalf("verify with the CA: counts %v, problems %v, err %v", counts, problems, err)
	}
	_, problems, err = Verify(path, ring)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Seq != 4 || !strings.Contains(problems[0].Problem, "needs the district CA") {
		t.Fatalf("verify without the CA: problems %+v, want seq 4 needing the CA", problems)
	}
}

// TestRevocationOf reads revocations only from a district's own chain.
func TestRevocationOf(t *testing.T) {
	f := newKeyFixture(t)
	payload, _ := proto.Marshal(&sanziv1.KeyRevocation{Origin: testOrigin, Fingerprint: keys.Fingerprint(pubOf(f.k1)), AfterSeq: 3, Reason: "stolen"})
	for _, tc := range []struct {
		name, origin string
		payload      []byte
		ok           bool
	}{
		{"district chain", "350505000000", payload, true},
		{"a town's chain", "350505100000", payload, false},
		{"malformed", "350505000000", []byte{0xff}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Seal(f.k1.Key, Head{}, Record{Origin: tc.origin, Type: sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION, Payload: tc.payload}, t0)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := Peek(st.Raw)
			r, ok := RevocationOf(l)
			if ok != tc.ok || ok && (r.AfterSeq != 3 || r.Entry != tc.origin+"-1" || r.Origin != testOrigin) {
				t.Fatalf("RevocationOf = %+v, %v; want ok %v", r, ok, tc.ok)
			}
		})
	}
}
