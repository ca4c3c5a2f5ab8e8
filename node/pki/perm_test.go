package pki

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/keys"
)

// TestLoadRefusesExposedKeys: the CA key (sanzi ca) and a node's TLS key
// (--tls-dir) are refused when group or others may read them.
func TestLoadRefusesExposedKeys(t *testing.T) {
	ca := mustCA(t, "350505")
	is := mustIssue(t, ca, "350505100000", RoleTown, nil, time.Now())
	loads := []struct {
		name, key string
		load      func(dir string) error
	}{
		{"LoadCA", "ca.key", func(dir string) error { _, err := LoadCA(dir); return err }},
		{"LoadIssued", "town.key", func(dir string) error { _, err := LoadIssued(dir, "town"); return err }},
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o600} {
		for _, l := range loads {
			t.Run(l.name+"/"+mode.String(), func(t *testing.T) {
				dir := t.TempDir()
				if err := ca.Save(dir); err != nil {
					t.Fatal(err)
				}
				if err := is.Save(dir, "town"); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, l.key)
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
				err := l.load(dir)
				if mode == 0o600 {
					if err != nil {
						t.Fatalf("mode 0600: %v", err)
					}
					return
				}
				if !errors.Is(err, keys.ErrExposed) || !strings.Contains(err.Error(), "chmod 600 "+path) {
					t.Fatalf("mode %v: %v, want ErrExposed naming chmod 600 %s", mode, err, path)
				}
			})
		}
	}
}
