package cluster_test

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/dataformat"
)

// memberTestdata is a one-member district's data folder written by today's
// format: raft.db, state.db with one village's chain of 10 entries, FORMAT.
// Regenerate it with SANZI_WRITE_TESTDATA=1 only when the format version
// changes (then keep the old one too, and test its migration).
const memberTestdata = "testdata/member-v1"

func copyTestdata(t *testing.T) string {
	t.Helper()
	if os.Getenv("SANZI_WRITE_TESTDATA") != "" {
		writeMemberTestdata(t)
	}
	dir := filepath.Join(t.TempDir(), "m1")
	if err := os.CopyFS(dir, os.DirFS(memberTestdata)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeMemberTestdata(t *testing.T) {
	os.RemoveAll(memberTestdata)
	abs, err := filepath.Abs(memberTestdata)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("write", func(t *testing.T) { // its cluster stops when it ends
		c := NewCluster(t, 1, func(cfg *cluster.Config) { cfg.DataDir = abs })
		v := newVillage(1)
		c.register(v)
		if _, err := push(t, c.Client("m1"), v.next(10, 200)); err != nil {
			t.Fatal(err)
		}
		c.StopAll()
		os.RemoveAll(filepath.Join(abs, "snapshots")) // empty; git keeps no empty folders
	})
}

// TestOpenTodaysMemberFolder opens a copy of testdata/member-v1: it needs
// no migration, its member leads its one-member cluster again, holds the
// village's 10 entries, and takes the next ones.
func TestOpenTodaysMemberFolder(t *testing.T) {
	dir := copyTestdata(t)
	if v, _, err := dataformat.Read(dir); err != nil || v != dataformat.Current {
		t.Fatalf("testdata format %d (%v), want %d", v, err, dataformat.Current)
	}
	c := NewCluster(t, 1, func(cfg *cluster.Config) { cfg.DataDir = dir })
	l := c.Leader()
	v := newVillage(1)
	v.next(10, 200) // the same entries as the testdata's (fixed keys and times)
	if h := l.node.FSM().Head(v.origin); h != v.head {
		t.Fatalf("testdata head of %s: %d %x, want %d %x", v.origin, h.Seq, h.Hash[:4], v.head.Seq, v.head.Hash[:4])
	}
	resp, err := push(t, c.Client("m1"), v.next(5, 200))
	if err != nil || ackOf(resp, v.origin) != 15 {
		t.Fatalf("push after the testdata's head: %v %v", resp, err)
	}
	t.Logf("opened %s: format %d, applied index %d, head %d", memberTestdata, dataformat.Current, l.node.FSM().AppliedIndex(), v.head.Seq)
}

// TestMemberFolderFormat: a member's folder of a newer format is refused
// naming both versions before any file in it is opened or changed; one
// written before FORMAT existed (format 0) is stamped and opens.
func TestMemberFolderFormat(t *testing.T) {
	t.Run("newer is refused before anything is touched", func(t *testing.T) {
		dir := copyTestdata(t)
		if err := os.WriteFile(filepath.Join(dir, dataformat.FileName), []byte("sanzi-data 2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := folderSums(t, dir)
		c := NewCluster(t, 0, nil)
		cfg := c.config("m1")
		cfg.DataDir, cfg.Bootstrap = dir, true
		n, err := cluster.Open(cfg)
		if err == nil {
			n.Shutdown()
			t.Fatal("a folder of format 2 was opened")
		}
		if !errors.Is(err, dataformat.ErrNewer) || !strings.Contains(err.Error(), "format 2") || !strings.Contains(err.Error(), "reads format 1") {
			t.Fatalf("refusal does not name both versions: %v", err)
		}
		if after := folderSums(t, dir); !equalSums(before, after) {
			t.Fatalf("the refused folder changed:\nbefore %v\nafter  %v", before, after)
		}
	})
	t.Run("unversioned is stamped and opens", func(t *testing.T) {
		dir := copyTestdata(t)
		if err := os.Remove(filepath.Join(dir, dataformat.FileName)); err != nil {
			t.Fatal(err)
		}
		c := NewCluster(t, 1, func(cfg *cluster.Config) { cfg.DataDir = dir })
		v := newVillage(1)
		v.next(10, 200)
		if h := c.Leader().node.FSM().Head(v.origin); h != v.head {
			t.Fatalf("head %d after stamping, want %d", h.Seq, v.head.Seq)
		}
		if got, _, err := dataformat.Read(dir); err != nil || got != dataformat.Current {
			t.Fatalf("format %d (%v) after opening, want %d", got, err, dataformat.Current)
		}
	})
}

// folderSums is every file's SHA-256 under dir, by path.
func folderSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalSums(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
