package sample

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// generator is the version of what Village records: a folder cached by
// Cached under another version is never used.
const generator = 2

// complete marks a cached folder whose generation finished.
const complete = "SAMPLE-COMPLETE"

// Cached is a folder under root holding what Village records for cfg
// (cfg.Dir is ignored), generated the first time it is asked for and kept
// for the next runs: a million entries take minutes to record. A
// generation cut short is never used; the next call starts it again.
// Callers copy the folder before they open a node on it.
func Cached(ctx context.Context, root string, cfg Config) (string, error) {
	if cfg.Days <= 0 {
		cfg.Days = 3650
	}
	dir := filepath.Join(root, fmt.Sprintf("village-%s-%d-entries-%d-days-seed-%d-g%d", cfg.Org, cfg.Entries, cfg.Days, cfg.Seed, generator))
	if _, err := os.Stat(filepath.Join(dir, complete)); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	cfg.Dir = tmp
	if _, err := Village(ctx, cfg); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, complete), nil, 0o600); err != nil {
		return "", err
	}
	return dir, os.Rename(tmp, dir)
}

// CopyFolder copies a stopped node's data folder from into to.
func CopyFolder(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(to, rel), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		// On disk before it is used: a node opened on pages still being
		// written back waits for the disk, and a benchmark would time it.
		_, err = f.Write(raw)
		if err == nil {
			err = f.Sync()
		}
		return errors.Join(err, f.Close())
	})
}
