// Package backup writes a node's data folder as one tar, consistent while
// the node runs, and restores it into an empty folder (issue 16).
//
// Consistency: each bbolt file (ledger.db, and any other *.db of the
// folder: credentials.db of node/accounts) is copied inside one read
// transaction (bolt's Tx.WriteTo), so it is the file as of one commit,
// whatever is being recorded meanwhile. The other files (attachments/,
// keys/, peers/, quarantine/, FORMAT) are copied after the ledger's
// snapshot: attachments are written whole (temporary name, then rename)
// before the entry naming them is recorded, and are removed only when no
// entry names them, so every attachment the snapshot's entries name is in
// the backup. A file that appears later may be in it too, unnamed: the
// node's sweep removes it after its TTL.
//
// The tar ends with a manifest (Manifest) holding each file's size and
// SHA-256, so a truncated or altered backup is refused at restore rather
// than half restored.
package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/keys"
)

// ManifestName is the tar entry, last in the tar, describing the backup.
const ManifestName = "SANZI-BACKUP.json"

// Manifest says what a backup holds.
type Manifest struct {
	TakenAt time.Time `json:"takenAt"`
	// Files maps a slash path inside the data folder to its size and
	// SHA-256 (hex).
	Files map[string]File `json:"files"`
}

// File is one file of a backup.
type File struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// DB is a bbolt file the running node holds open (bbolt locks it, so it
// cannot be opened again): its snapshot is taken from this handle.
type DB struct {
	// Name is its path inside the data folder ("ledger.db").
	Name string
	DB   *bolt.DB
	// View, instead of DB, runs fn in a read transaction of a file whose
	// handle the owner may swap (a district member's state file is
	// replaced whole when raft installs a snapshot): the owner holds it
	// against the swap for the transaction's length.
	View func(fn func(*bolt.Tx) error) error
}

// Write writes a tar of dataDir to w. open are the bbolt files the caller
// holds open; every other *.db in the folder is opened read-only for its
// snapshot (an error names it if another process holds it).
func Write(ctx context.Context, w io.Writer, dataDir string, open []DB, now time.Time) (*Manifest, error) {
	return WriteExcept(ctx, w, dataDir, open, nil, now)
}

// WriteExcept is Write leaving out every file for which except (given its
// slash path inside dataDir) is true: files that are not to be restored,
// such as a district member's raft log (see federation/member's backup).
func WriteExcept(ctx context.Context, w io.Writer, dataDir string, open []DB, except func(rel string) bool, now time.Time) (*Manifest, error) {
	tw := tar.NewWriter(w)
	m := &Manifest{TakenAt: now.UTC(), Files: map[string]File{}}
	held := map[string]bool{}
	for _, d := range open {
		held[d.Name] = true
		view := d.View
		if view == nil {
			view = d.DB.View
		}
		if err := snapshot(tw, m, d.Name, view); err != nil {
			return nil, err
		}
	}
	var files []string
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // folders are made on restore; no links or devices
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if held[rel] || skipped(rel) || (except != nil && except(rel)) {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dataDir, err)
	}
	sort.Strings(files)
	for _, rel := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(dataDir, filepath.FromSlash(rel))
		if strings.HasSuffix(rel, ".db") {
			if err := snapshotFile(tw, m, rel, path); err != nil {
				return nil, err
			}
			continue
		}
		if err := copyFile(tw, m, rel, path); err != nil {
			return nil, err
		}
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(raw)), ModTime: m.TakenAt, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(raw); err != nil {
		return nil, err
	}
	return m, tw.Close()
}

// skipped are files that are not the node's state: temporaries of a write
// in progress (an attachment's ".upload-*", keys' "*.tmp"), and a restore
// marker.
func skipped(rel string) bool {
	base := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasPrefix(base, ".") || strings.HasSuffix(base, ".tmp") || rel == MarkerName || rel == ManifestName
}

// snapshot writes db as of one read transaction.
func snapshot(tw *tar.Writer, m *Manifest, name string, view func(func(*bolt.Tx) error) error) error {
	err := view(func(tx *bolt.Tx) error {
		h := sha256.New()
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: tx.Size(), ModTime: m.TakenAt, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		n, err := tx.WriteTo(io.MultiWriter(tw, h))
		if err != nil {
			return err
		}
		m.Files[name] = File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", name, err)
	}
	return nil
}

func snapshotFile(tw *tar.Writer, m *Manifest, name, path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s for its snapshot (does another process hold it?): %w", path, err)
	}
	defer db.Close()
	return snapshot(tw, m, name, db.View)
}

func copyFile(tw *tar.Writer, m *Manifest, name, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed since it was listed: an unnamed attachment swept
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	h := sha256.New()
	// A file is written whole before it is renamed into place and never
	// changed after, so its size at Stat is its size.
	if _, err := io.CopyN(io.MultiWriter(tw, h), f, st.Size()); err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	m.Files[name] = File{Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

// WriteFile writes a backup of dataDir to path (through a temporary file
// renamed into place, so a failed backup leaves no file that looks whole).
func WriteFile(ctx context.Context, path, dataDir string, open []DB, now time.Time) (*Manifest, error) {
	var m *Manifest
	err := keys.WriteFileFrom(path, 0o600, func(w io.Writer) (err error) {
		m, err = Write(ctx, w, dataDir, open, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// hashingWriter counts and hashes what is written through it.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// StartResponse prepares w for a backup of the node named name taken at at:
// no write deadline (a backup takes longer than the server's write timeout
// allows a response; the client's going away still ends it through the
// request's context), and the tar's content type and file name.
func StartResponse(w http.ResponseWriter, name string, at time.Time) {
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "sanzi-"+name+"-"+at.UTC().Format("20060102T150405Z")+".tar"))
}
