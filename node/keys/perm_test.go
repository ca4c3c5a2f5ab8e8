package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretPermissions: every way a node reads a private key or secret
// refuses a file its group or others may read, naming the file and the
// chmod that fixes it, and reads one that only its owner may.
func TestSecretPermissions(t *testing.T) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const origin = "350505100201"
	readers := []struct {
		name string
		read func(dir string) error
	}{
		{"ReadPrivate", func(dir string) error { _, err := ReadPrivate(filepath.Join(dir, origin+".key")); return err }},
		{"Load", func(dir string) error { _, err := Load(dir); return err }},
		{"Ensure", func(dir string) error { _, _, err := Ensure(dir, []string{origin}); return err }},
		{"ReadSecret", func(dir string) error { _, err := ReadSecret(filepath.Join(dir, origin+".key")); return err }},
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o600, 0o400} {
		exposed := mode&0o077 != 0
		for _, r := range readers {
			t.Run(r.name+"/"+mode.String(), func(t *testing.T) {
				dir := t.TempDir()
				if err := Write(dir, origin, k); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, origin+".key")
				if err := os.Chmod(path, mode); err != nil { // not subject to the umask
					t.Fatal(err)
				}
				err := r.read(dir)
				switch {
				case exposed && !errors.Is(err, ErrExposed):
					t.Fatalf("mode %v: %v, want ErrExposed", mode, err)
				case exposed && !strings.Contains(err.Error(), "chmod 600 "+path):
					t.Errorf("refusal %q does not say to run chmod 600 %s", err, path)
				case !exposed && err != nil:
					t.Fatalf("mode %v: %v, want the key read", mode, err)
				}
			})
		}
	}
	t.Run("missing file", func(t *testing.T) {
		if err := CheckSecret(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v, want ErrNotExist", err)
		}
	})
}
