// Package dataformat records the format version of a node's data folder
// and brings an older folder up to the version this binary writes (issue
// 16, upgrades).
//
// The version is a small text file, FORMAT, at the top of the folder
// ("sanzi-data 1\n"), rather than a key inside ledger.db: it describes the
// whole folder (several bbolt files, the attachments' layout, keys/), it is
// read before any bbolt file is opened (so a newer layout is refused before
// this binary touches it, and without taking bbolt's lock), an operator can
// read it with cat, and a backup carries it like any other file.
//
// A folder without FORMAT but with a ledger.db was written before the
// version was recorded: version 0, whose layout is version 1's, so its
// migration only writes the file. A migration that changes data runs only
// after a backup of the folder is written next to it.
package dataformat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/backup"
	"github.com/sanzi/sanzi/node/keys"
)

// Current is the format this binary writes.
const Current = 1

// FileName is the version file inside the data folder.
const FileName = "FORMAT"

const prefix = "sanzi-data "

// Errors of Ensure, wrap-compared with errors.Is.
var (
	// ErrNewer: the folder was written by a newer sanzi.
	ErrNewer = errors.New("data folder format is newer than this sanzi")
	// ErrTooOld: no migration leads from the folder's format to Current.
	ErrTooOld = errors.New("data folder format is too old to migrate")
)

// Migration takes a folder from version From to From+1.
type Migration struct {
	From int
	// What it changes, for the log.
	Note string
	// ChangesData says whether Run rewrites anything but FORMAT; if so a
	// backup of the folder is taken first.
	ChangesData bool
	// Run changes the folder (the node is not running on it).
	Run func(ctx context.Context, dir string) error
}

// Migrations are the steps this binary knows, by From.
var Migrations = []Migration{
	{From: 0, Note: "record the format version (the layout is unchanged)"},
}

// Config is one Ensure.
type Config struct {
	Dir string
	// Target is the version to reach; default Current.
	Target int
	// Migrations; default Migrations.
	Migrations []Migration
	Now        func() time.Time
	Logger     *slog.Logger
}

// Ensure makes sure cfg.Dir holds cfg.Target's format: a new or empty folder
// is stamped; an older one is migrated step by step (a backup first when a
// step changes data); a newer one, or one no migration leads from, is
// refused with an error naming both versions. It returns the version found.
func Ensure(ctx context.Context, cfg Config) (found int, err error) {
	if cfg.Target == 0 {
		cfg.Target = Current
	}
	if cfg.Migrations == nil {
		cfg.Migrations = Migrations
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	found, fresh, err := Read(cfg.Dir)
	if err != nil {
		return 0, err
	}
	if fresh {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return 0, err
		}
		return cfg.Target, write(cfg.Dir, cfg.Target)
	}
	switch {
	case found == cfg.Target:
		return found, nil
	case found > cfg.Target:
		return found, fmt.Errorf("%w: %s is format %d, this sanzi reads format %d: run a sanzi that reads format %d, or restore a backup taken before the upgrade", ErrNewer, cfg.Dir, found, cfg.Target, found)
	}
	steps := map[int]Migration{}
	for _, m := range cfg.Migrations {
		steps[m.From] = m
	}
	for v := found; v < cfg.Target; v++ {
		if _, ok := steps[v]; !ok {
			return found, fmt.Errorf("%w: %s is format %d, this sanzi reads format %d and knows no migration from %d: upgrade through an earlier sanzi release first", ErrTooOld, cfg.Dir, found, cfg.Target, v)
		}
	}
	for v := found; v < cfg.Target; v++ {
		m := steps[v]
		if m.ChangesData {
			at := cfg.Now().UTC()
			path := filepath.Clean(cfg.Dir) + fmt.Sprintf(".format%d-%s.tar", v, at.Format("20060102T150405Z"))
			if _, err := backup.WriteFile(ctx, path, cfg.Dir, nil, at); err != nil {
				return found, fmt.Errorf("back up %s before migrating it from format %d to %d (nothing was changed): %w", cfg.Dir, v, v+1, err)
			}
			cfg.Logger.Info("backed up the data folder before migrating it", "backup", path, "from", v, "to", v+1)
		}
		if m.Run != nil {
			if err := m.Run(ctx, cfg.Dir); err != nil {
				return found, fmt.Errorf("migrate %s from format %d to %d: %w", cfg.Dir, v, v+1, err)
			}
		}
		if err := write(cfg.Dir, v+1); err != nil {
			return found, err
		}
		cfg.Logger.Info("migrated the data folder", "dir", cfg.Dir, "from", v, "to", v+1, "what", m.Note)
	}
	return found, nil
}

// Read returns the folder's format version; fresh is true for a folder that
// is missing or holds nothing yet (it takes the current format).
func Read(dir string) (version int, fresh bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err == nil {
		s := strings.TrimSpace(string(raw))
		if !strings.HasPrefix(s, prefix) {
			return 0, false, fmt.Errorf("%s: want %q followed by a number, got %q", filepath.Join(dir, FileName), prefix, s)
		}
		v, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
		if err != nil || v < 1 {
			return 0, false, fmt.Errorf("%s: the format version %q is not a number from 1", filepath.Join(dir, FileName), s)
		}
		return v, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, false, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return 0, len(ents) == 0, nil
}

func write(dir string, v int) error {
	return keys.WriteFile(filepath.Join(dir, FileName), []byte(prefix+strconv.Itoa(v)+"\n"), 0o600)
}
