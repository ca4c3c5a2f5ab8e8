package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "a.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	s, err := Open(filepath.Join(dir, "files"), db, 0, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func hashOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// upload sends content whole as one piece from origin.
func upload(s *Store, origin string, content []byte) error {
	_, _, err := s.AddPiece(origin, hashOf(content), 0, int64(len(content)), content, "r.jpg", "image/jpeg")
	return err
}

// TestSweepExpiresOnlyUnnamed: after the TTL an attachment no entry names
// is removed (file, description and its origin's use), a named one stays
// forever, a young one stays; partial uploads left as long go too.
func TestSweepExpiresOnlyUnnamed(t *testing.T) {
	ctx := context.Background()
	s, c := openStore(t)
	old, named := []byte("an unused receipt"), []byte("a receipt an entry names")
	for _, b := range [][]byte{old, named} {
		if err := upload(s, "350505100201", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return LockTx(tx, hashOf(named), "350505100201-7") }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddPiece("350505100201", hashOf([]byte("half")), 0, 4, []byte("ha"), "", ""); err != nil {
		t.Fatal(err)
	}
	partial := s.partialPath(hashOf([]byte("half")))
	os.Chtimes(partial, c.now(), c.now())
	c.add(6 * 24 * time.Hour)
	young := []byte("uploaded yesterday")
	if _, err := s.Put(young, "", "", ""); err != nil {
		t.Fatal(err)
	}
	if sw, err := s.Sweep(ctx); err != nil || sw.Count != 0 {
		t.Fatalf("sweep before the TTL: %+v %v", sw, err)
	}
	c.add(2 * 24 * time.Hour) // 8 days after the first uploads
	sw, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Count != 1 || sw.Bytes != int64(len(old)) || sw.Partials != 1 {
		t.Fatalf("sweep: %+v, want the one unnamed old attachment and the partial", sw)
	}
	if _, err := s.Describe(hashOf(old)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired attachment still described: %v", err)
	}
	if _, err := os.Stat(s.path(hashOf(old))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("expired attachment's file: %v", err)
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale partial: %v", err)
	}
	for _, b := range [][]byte{named, young} {
		if _, _, err := s.Get(hashOf(b)); err != nil {
			t.Fatalf("%q was removed: %v", b, err)
		}
	}
	if used, _ := s.Usage("350505100201"); used != int64(len(named)) {
		t.Fatalf("use after the sweep: %d, want %d", used, len(named))
	}
	if n, b := s.Expired(); n != 1 || b != uint64(len(old)) {
		t.Fatalf("expired counters: %d, %d", n, b)
	}
	c.add(365 * 24 * time.Hour)
	if sw, _ := s.Sweep(ctx); sw.Count != 1 { // young, now old; named stays
		t.Fatalf("a year on: %+v", sw)
	}
	if _, err := s.Describe(hashOf(named)); err != nil {
		t.Fatalf("a named attachment expired: %v", err)
	}
}

// TestQuotaPerOrigin: an origin past its quota is refused with the origin,
// the quota and the use in the error; another origin is not; freeing room
// (an expiry) lets it in again.
func TestQuotaPerOrigin(t *testing.T) {
	s, c := openStore(t)
	s.SetPolicy(Policy{Quota: 100})
	if err := upload(s, "350505100201", make([]byte, 80)); err != nil {
		t.Fatal(err)
	}
	big := []byte(strings.Repeat("y", 30))
	err := upload(s, "350505100201", big)
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("past the quota: %v", err)
	}
	for _, want := range []string{"350505100201", "80 bytes", "quota of 100 bytes", "30 more"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("quota error %q does not say %q", err, want)
		}
	}
	if err := upload(s, "350505100202", big); err != nil {
		t.Fatalf("another origin: %v", err)
	}
	c.add(8 * 24 * time.Hour)
	if _, err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := upload(s, "350505100201", big); err != nil {
		t.Fatalf("after its attachments expired: %v", err)
	}
}
