package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MarkerName is the file a restore leaves in the data folder. A node
// started on a folder holding it first catches its own chains up from its
// parent (the parent may hold entries recorded after the backup was
// taken: recording at those seqs again would fork the chain), and refuses
// to start when it cannot.
const MarkerName = "RESTORED.json"

// Marker is what MarkerName holds.
type Marker struct {
	BackupTakenAt time.Time `json:"backupTakenAt"`
	RestoredAt    time.Time `json:"restoredAt"`
}

// ErrNotEmpty: the folder to restore into holds something.
var ErrNotEmpty = errors.New("restore: the data folder is not empty")

// Restore extracts the backup read from r into dataDir, which must be
// missing or empty, checks every file against the backup's manifest, and
// leaves the restore marker. On any error dataDir is left empty.
func Restore(r io.Reader, dataDir string, now time.Time) (*Manifest, error) {
	if err := empty(dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	m, err := extract(r, dataDir)
	if err == nil {
		var raw []byte
		raw, err = json.MarshalIndent(Marker{BackupTakenAt: m.TakenAt, RestoredAt: now.UTC()}, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(dataDir, MarkerName), raw, 0o600)
		}
	}
	if err != nil {
		emptyOut(dataDir)
		return nil, err
	}
	return m, nil
}

// empty refuses a folder that holds anything, naming it and what it holds.
func empty(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if len(ents) > 0 {
		names := make([]string, 0, 3)
		for _, e := range ents[:min(3, len(ents))] {
			names = append(names, e.Name())
		}
		return fmt.Errorf("%w: %s holds %s (%d entries); restore only into an empty or new folder", ErrNotEmpty, dir, strings.Join(names, ", "), len(ents))
	}
	return nil
}

// emptyOut empties dir (it was empty before the restore began).
func emptyOut(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

func extract(r io.Reader, dataDir string) (*Manifest, error) {
	tr := tar.NewReader(r)
	got := map[string]File{}
	var m *Manifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read backup: %w", err)
		}
		if m != nil {
			return nil, fmt.Errorf("read backup: %s follows the manifest", h.Name)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("read backup: %s is not a regular file (type %q): refused", h.Name, h.Typeflag)
		}
		name := path.Clean(h.Name)
		if name != h.Name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || name == "." {
			return nil, fmt.Errorf("read backup: the path %q leaves the data folder: refused", h.Name)
		}
		if name == ManifestName {
			raw, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return nil, fmt.Errorf("read backup manifest: %w", err)
			}
			m = &Manifest{}
			if err := json.Unmarshal(raw, m); err != nil {
				return nil, fmt.Errorf("read backup manifest: %w", err)
			}
			continue
		}
		if _, dup := got[name]; dup {
			return nil, fmt.Errorf("read backup: %s appears twice", name)
		}
		f, err := writeOne(tr, filepath.Join(dataDir, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("restore %s: %w", name, err)
		}
		got[name] = f
	}
	if m == nil {
		return nil, errors.New("read backup: no manifest at its end: the backup is cut short or is not a sanzi backup")
	}
	var bad []string
	for name, want := range m.Files {
		if have, ok := got[name]; !ok {
			bad = append(bad, name+" is missing")
		} else if have != want {
			bad = append(bad, fmt.Sprintf("%s differs from the manifest (%d bytes, sha256 %.12s; want %d, %.12s)", name, have.Size, have.SHA256, want.Size, want.SHA256))
		}
	}
	for name := range got {
		if _, ok := m.Files[name]; !ok {
			bad = append(bad, name+" is not in the manifest")
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("the backup does not match its manifest: %s", strings.Join(bad, "; "))
	}
	return m, nil
}

func writeOne(r io.Reader, path string) (File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return File{}, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return File{}, err
	}
	hw := &hashingWriter{w: f, h: sha256.New()}
	_, err = io.Copy(hw, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return File{Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))}, err
}

// ReadMarker returns the restore marker of dataDir, or nil when there is
// none.
func ReadMarker(dataDir string) (*Marker, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, MarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &Marker{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, MarkerName), err)
	}
	return m, nil
}

// ClearMarker removes the restore marker once the node has caught up.
func ClearMarker(dataDir string) error {
	err := os.Remove(filepath.Join(dataDir, MarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
