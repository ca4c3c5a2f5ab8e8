package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var now = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// folder makes a data folder with a bbolt file held open (as a running
// node holds ledger.db), one closed (credentials.db), an attachment, a key
// and the temporaries a backup must leave out.
func folder(t *testing.T) (string, *bolt.DB) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "ledger.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	put(t, db, "k", "v")
	creds, err := bolt.Open(filepath.Join(dir, "credentials.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	put(t, creds, "user", "hash")
	creds.Close()
	for name, body := range map[string]string{"attachments/ab/abcd": "scan", "keys/1.key": "secret", "keys/1.key.tmp": "half", "attachments/ab/.upload-1": "half"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, db
}

func put(t *testing.T, db *bolt.DB, k, v string) {
	t.Helper()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte(k), []byte(v))
	}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, path, k string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket([]byte("b")).Get([]byte(k))); return nil })
	return v
}

func TestRoundTrip(t *testing.T) {
	dir, db := folder(t)
	var buf bytes.Buffer
	m, err := Write(context.Background(), &buf, dir, []DB{{Name: "ledger.db", DB: db}}, now)
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, "k", "after") // not in the backup
	var names []string
	for n := range m.Files {
		names = append(names, n)
	}
	if len(m.Files) != 4 {
		t.Errorf("backup holds %v, want ledger.db, credentials.db, the attachment and the key (no temporaries)", names)
	}
	out := filepath.Join(t.TempDir(), "new")
	if _, err := Restore(bytes.NewReader(buf.Bytes()), out, now); err != nil {
		t.Fatal(err)
	}
	if v := get(t, filepath.Join(out, "ledger.db"), "k"); v != "v" {
		t.Errorf("restored ledger.db holds %q, want the snapshot's v", v)
	}
	if v := get(t, filepath.Join(out, "credentials.db"), "user"); v != "hash" {
		t.Errorf("restored credentials.db holds %q", v)
	}
	if raw, _ := os.ReadFile(filepath.Join(out, "attachments/ab/abcd")); string(raw) != "scan" {
		t.Errorf("attachment %q", raw)
	}
	mk, err := ReadMarker(out)
	if err != nil || mk == nil || !mk.BackupTakenAt.Equal(now) {
		t.Errorf("marker %+v %v", mk, err)
	}
	if st, _ := os.Stat(filepath.Join(out, "keys/1.key")); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st)
	}
}

// TestRestoreRefuses: a non-empty folder is named and left alone; a
// backup cut short, altered, or reaching out of the folder is refused and
// leaves the folder empty.
func TestRestoreRefuses(t *testing.T) {
	dir, db := folder(t)
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, dir, []DB{{Name: "ledger.db", DB: db}}, now); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	altered := bytes.Clone(good)
	i := bytes.Index(altered, []byte("scan"))
	altered[i] = 'S'
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	var link bytes.Buffer
	tw = tar.NewWriter(&link)
	tw.WriteHeader(&tar.Header{Name: "keys", Linkname: "/etc", Typeflag: tar.TypeSymlink})
	tw.Close()

	if _, err := Restore(bytes.NewReader(good), dir, now); !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), dir) {
		t.Errorf("restore into a full folder: %v, want ErrNotEmpty naming %s", err, dir)
	}
	for _, tc := range []struct {
		name string
		tar  []byte
		want string
	}{
		{"cut short", good[:len(good)/2], "EOF"},
		{"altered", altered, "differs from the manifest"},
		{"escapes", evil.Bytes(), "leaves the data folder"},
		{"symlink", link.Bytes(), "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "new")
			_, err := Restore(bytes.NewReader(tc.tar), out, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("a refused restore left %d files in %s", len(ents), out)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(out), "escape")); err == nil {
				t.Error("a file was written outside the folder")
			}
		})
	}
}
