package keys

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

// TestRetire: rekey keeps the key an origin signed with before, readable
// by its owner only, once; Load puts it among the retired keys and never
// signs with it.
func TestRetire(t *testing.T) {
	dir := t.TempDir()
	const origin = "350505100000"
	gen := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first, second, third := gen(), gen(), gen()
	if err := Retire(dir, origin, first); err != nil {
		t.Fatalf("nothing to retire yet: %v", err)
	}
	if err := Write(dir, origin, first); err != nil {
		t.Fatal(err)
	}
	if err := Retire(dir, origin, first); err != nil {
		t.Fatal(err)
	}
	for _, next := range []ed25519.PrivateKey{second, third} {
		for range 2 { // run again after a crash: nothing repeated
			if err := Retire(dir, origin, next); err != nil {
				t.Fatal(err)
			}
		}
		if err := Write(dir, origin, next); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := r.Private(origin); !k.Equal(third) {
		t.Errorf("signs with %s, want the newest key", Fingerprint(k.Public().(ed25519.PublicKey)))
	}
	got := map[string]bool{}
	for _, k := range r.Retired(origin) {
		got[Fingerprint(k.Public().(ed25519.PublicKey))] = true
	}
	want := map[string]bool{Fingerprint(first.Public().(ed25519.PublicKey)): true, Fingerprint(second.Public().(ed25519.PublicKey)): true}
	if len(got) != 2 || !got[Fingerprint(first.Public().(ed25519.PublicKey))] || !got[Fingerprint(second.Public().(ed25519.PublicKey))] {
		t.Errorf("retired %v, want %v", got, want)
	}
	path := filepath.Join(dir, origin+"."+Fingerprint(first.Public().(ed25519.PublicKey))+retiredSuffix)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the retired key file %s: %v %v", path, st, err)
	}
	if len(r.Retired("350505100201")) != 0 || len(r.Origins()) != 1 {
		t.Errorf("a retired key made another origin: %v", r.Origins())
	}
}
