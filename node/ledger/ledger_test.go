package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/keys"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const testOrigin = "350505100201"

func testKeys(t testing.TB, origins ...string) *keys.Ring {
	t.Helper()
	r := keys.NewRing()
	for i, o := range origins {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		r.Add(o, ed25519.NewKeyFromSeed(seed))
	}
	return r
}

func openTest(t testing.TB, path string, ring *keys.Ring) *Ledger {
	t.Helper()
	l, err := Open(Config{Path: path, Keys: ring, Now: func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func rec(origin string, i int) Record {
	return Record{Origin: origin, Author: "tester", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte(fmt.Sprintf("payload %d", i))}
}

func TestAppendConcurrentIsGaplessAndVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	ring := testKeys(t, testOrigin, "350505100202")
	l := openTest(t, path, ring)
	const workers, each = 16, 50
	var wg sync.WaitGroup
	seen := sync.Map{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			origin := testOrigin
			if w%4 == 0 {
				origin = "350505100202"
			}
			for i := 0; i < each; i++ {
				out, err := l.Append(context.Background(), rec(origin, w*each+i))
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				if _, dup := seen.LoadOrStore(out[0].ID(), true); dup {
					t.Errorf("seq handed out twice: %s", out[0].ID())
				}
			}
		}(w)
	}
	wg.Wait()
	st := l.Stats()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Entries != workers*each {
		t.Fatalf("stats: %d entries, want %d", st.Entries, workers*each)
	}
	if st.Commits >= st.Entries {
		t.Logf("no group commit happened: %d commits for %d entries", st.Commits, st.Entries)
	}
	counts, problems, err := Verify(path, ring)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if counts[testOrigin]+counts["350505100202"] != workers*each || counts["350505100202"] != 4*each {
		t.Fatalf("counts %v", counts)
	}
	// Reopen: heads survive.
	l = openTest(t, path, ring)
	defer l.Close()
	if h := l.Head("350505100202"); h.Seq != 4*each {
		t.Fatalf("head after reopen %d", h.Seq)
	}
	out, err := l.Append(context.Background(), rec("350505100202", 0))
	if err != nil || out[0].Seq != 4*each+1 {
		t.Fatalf("append after reopen: %v %v", out, err)
	}
}

func TestAppendIsAtomicPerCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	ring := testKeys(t, testOrigin)
	refuse := errors.New("refused by index")
	idx := &countingIndexer{refuseAt: 2, err: refuse}
	l, err := Open(Config{Path: path, Keys: ring, Indexer: idx})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(context.Background(), rec(testOrigin, 1), rec(testOrigin, 2)); err != nil {
		t.Fatal(err)
	}
	// The second Check call refuses: nothing of that call is written.
	if _, err := l.Append(context.Background(), rec(testOrigin, 3), rec(testOrigin, 4)); !errors.Is(err, refuse) {
		t.Fatalf("want refusal, got %v", err)
	}
	if _, err := l.Append(context.Background(), rec(testOrigin, 5)); err == nil {
		t.Fatal("want refusal for call 3")
	}
	idx.refuseAt = 0
	out, err := l.Append(context.Background(), rec(testOrigin, 6))
	if err != nil || out[0].Seq != 3 {
		t.Fatalf("after refusal: seq %v err %v", out, err)
	}
	if idx.indexed != 3 {
		t.Fatalf("indexed %d entries, want 3", idx.indexed)
	}
}

type countingIndexer struct {
	calls, refuseAt, indexed int
	err                      error
}

func (c *countingIndexer) Check(tx *bolt.Tx, recs []Record) error {
	c.calls++
	if c.refuseAt > 0 && c.calls >= c.refuseAt {
		return c.err
	}
	return nil
}

func (c *countingIndexer) Index(tx *bolt.Tx, e *Stored) error { c.indexed++; return nil }

func TestNoKeyAndClosed(t *testing.T) {
	l := openTest(t, filepath.Join(t.TempDir(), "l.db"), testKeys(t, testOrigin))
	if _, err := l.Append(context.Background(), rec("350505100209", 1)); !errors.Is(err, ErrNoKey) {
		t.Fatalf("want ErrNoKey, got %v", err)
	}
	l.Close()
	if _, err := l.Append(context.Background(), rec(testOrigin, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestEntryID(t *testing.T) {
	for _, tc := range []struct {
		id     string
		origin string
		seq    uint64
		ok     bool
	}{
		{"350505100201-17", "350505100201", 17, true},
		{"350505100201-0", "", 0, false},
		{"350505100201", "", 0, false},
		{"-5", "", 0, false},
		{"350505100201-x", "", 0, false},
	} {
		o, s, err := ParseEntryID(tc.id)
		if (err == nil) != tc.ok || o != tc.origin || s != tc.seq {
			t.Errorf("ParseEntryID(%q) = %q %d %v", tc.id, o, s, err)
		}
	}
}
