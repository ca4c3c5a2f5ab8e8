package dataformat

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) }
	quiet := slog.New(slog.DiscardHandler)
	stamped := func(t *testing.T, v int) string {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir, 0o700)
		db, err := bolt.Open(filepath.Join(dir, "ledger.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if v > 0 {
			write(dir, v)
		}
		return dir
	}
	t.Run("fresh folder takes the current format", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		if _, err := Ensure(ctx, Config{Dir: dir, Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		if v, _, err := Read(dir); v != Current || err != nil {
			t.Fatalf("format %d %v", v, err)
		}
	})
	t.Run("unversioned folder is stamped", func(t *testing.T) {
		dir := stamped(t, 0)
		found, err := Ensure(ctx, Config{Dir: dir, Logger: quiet})
		if v, _, _ := Read(dir); err != nil || found != 0 || v != Current {
			t.Fatalf("found %d, now %d: %v", found, v, err)
		}
		if m, _ := filepath.Glob(dir + ".format*.tar"); len(m) != 0 {
			t.Errorf("stamping took a backup: %v", m)
		}
	})
	t.Run("newer is refused naming both versions", func(t *testing.T) {
		dir := stamped(t, Current+1)
		_, err := Ensure(ctx, Config{Dir: dir, Logger: quiet})
		if !errors.Is(err, ErrNewer) || !strings.Contains(err.Error(), "format 2") || !strings.Contains(err.Error(), "reads format 1") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("older without a migration is refused naming both versions", func(t *testing.T) {
		dir := stamped(t, 1)
		_, err := Ensure(ctx, Config{Dir: dir, Target: 3, Migrations: []Migration{{From: 2}}, Logger: quiet})
		if !errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "format 1") || !strings.Contains(err.Error(), "reads format 3") {
			t.Fatalf("%v", err)
		}
		if v, _, _ := Read(dir); v != 1 {
			t.Errorf("a refused migration changed the format to %d", v)
		}
	})
	t.Run("a migration that changes data runs after a backup", func(t *testing.T) {
		dir := stamped(t, 1)
		var backups []string
		mig := Migration{From: 1, ChangesData: true, Note: "test", Run: func(ctx context.Context, d string) error {
			backups, _ = filepath.Glob(d + ".format1-*.tar")
			return os.WriteFile(filepath.Join(d, "ledger.db"), []byte("migrated"), 0o600)
		}}
		if _, err := Ensure(ctx, Config{Dir: dir, Target: 2, Migrations: []Migration{mig}, Now: now, Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		if len(backups) != 1 {
			t.Fatalf("backups before the migration ran: %v", backups)
		}
		if v, _, _ := Read(dir); v != 2 {
			t.Errorf("format %d after migration", v)
		}
	})
}
