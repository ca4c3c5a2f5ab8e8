package sample

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
)

// TestVillageIsAGenuineChain: what the generator records is a chain the
// verifier accepts, every signature checked, with the business it says,
// and a second call with the same config takes the cached folder.
func TestVillageIsAGenuineChain(t *testing.T) {
	root := t.TempDir()
	cfg := Config{Org: "350505100201", Entries: 3000, Days: 60, Seed: 7, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	dir, err := Cached(context.Background(), root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	counts, problems, err := ledger.Verify(filepath.Join(dir, "ledger.db"), ring)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", problems, err)
	}
	if counts[cfg.Org] < cfg.Entries {
		t.Fatalf("the chain holds %d entries, want at least %d", counts[cfg.Org], cfg.Entries)
	}
	again, err := Cached(context.Background(), root, cfg)
	if err != nil || again != dir {
		t.Fatalf("second call: %s %v, want the cached %s", again, err, dir)
	}
}
