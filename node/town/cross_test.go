package town

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
)

// held is one village entry as the town follows it.
type held struct {
	st *ledger.Stored
	m  proto.Message
}

// describe is hits as comparable text.
func describe(hs []rules.Hit) string {
	var out []string
	for _, h := range hs {
		ev := make([]string, 0, len(h.Evidence))
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range h.Evidence {
				if !yield(k) {
					return
				}
			}
		}) {
			ev = append(ev, k+"="+h.Evidence[k])
		}
		out = append(out, fmt.Sprintf("%s %s %s %s [%s]", h.Code, h.Key, h.Subject, h.Reason, strings.Join(ev, " ")))
	}
	return strings.Join(out, "\n")
}

// fullHistory is what SaveFull writes of w: its history however kept.
func fullHistory(t *testing.T, w *watch.Watcher) []byte {
	t.Helper()
	var e checkpoint.Encoder
	if err := w.SaveFull(&e); err != nil {
		t.Fatal(err)
	}
	b, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrossRestoredEqualsReplayed: a town whose cross-village watcher is
// checkpointed with its archive, and restarted from the last checkpoint
// written after crashes (between staging and writing: neither the state
// nor the archive written; after writing, before the batch left memory),
// finds for every village entry the same cross-village alerts as a town
// that followed every entry once without checkpoint or archive, and as a
// town whose watcher is fed every village entry (before crossReads); and
// keeps the same history (SaveFull).
func TestCrossRestoredEqualsReplayed(t *testing.T) {
	e, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	var hist []held
	villageEntries(6, 12_000, 1000, func(st *ledger.Stored, m proto.Message) { hist = append(hist, held{st, m}) })

	ref, all := benchTown(t, e), benchTown(t, e)
	want := make([]string, len(hist))
	codes := map[string]int{}
	for i, h := range hist {
		hs := ref.crossObserve(h.st, h.m)
		want[i] = describe(hs)
		for _, x := range hs {
			codes[x.Code]++
		}
		if got := describe(all.crossHits(h.st, h.m)); got != want[i] {
			t.Fatalf("entry %d %s: fed every village entry, the watcher finds\n%s\nfed what its rules read\n%s", i, h.st.ID(), got, want[i])
		}
	}
	if codes["DUP-INVOICE"] == 0 || codes["SPLIT"] == 0 {
		t.Fatalf("the history raises %v: want cross-village DUP-INVOICE and SPLIT both", codes)
	}
	wantHist := fullHistory(t, ref.cross)

	const before, after = 1, 2 // crash between staging and writing; after writing, before Done
	cases := []struct {
		name  string
		every int
		crash map[int]int // entry position of a checkpoint → how it crashes
	}{
		{"no crash", 1000, nil},
		{"crash before the first write", 1000, map[int]int{1000: before}},
		{"crash between staging and writing", 1500, map[int]int{4500: before, 9000: before}},
		{"crash after writing", 2000, map[int]int{4000: after, 10_000: after}},
		{"both", 700, map[int]int{2100: after, 2800: before, 7000: before, 7700: after}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "town.db"), 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			start := func(data []byte) *Town {
				tw := benchTown(t, e)
				useCrossArchive(tw, db)
				if data == nil {
					return tw
				}
				put, err := tw.Restore(checkpoint.NewDecoder(data), e)
				if err != nil {
					t.Fatal(err)
				}
				put()
				if tw.HeldHistory().Archive() == nil {
					t.Fatal("the restored cross-village watcher has no archive")
				}
				return tw
			}
			var stored []byte // the checkpoint written last
			storedAt, restarts := 0, 0
			cur := start(nil)
			got := make([]string, len(hist))
			crashed := map[int]bool{}
			for i := 0; i < len(hist); {
				got[i] = describe(cur.crossObserve(hist[i].st, hist[i].m))
				i++
				if i%tc.every != 0 {
					continue
				}
				var enc checkpoint.Encoder
				cur.Save(&enc)
				data, err := enc.Data()
				if err != nil {
					t.Fatal(err)
				}
				b := cur.HeldHistory().Staged()
				how := tc.crash[i]
				if crashed[i] {
					how = 0
				}
				crashed[i] = true
				if how != before && b != nil {
					if err := db.Update(b.Write); err != nil {
						t.Fatal(err)
					}
				}
				if how != before {
					stored, storedAt = data, i
				}
				if how == 0 {
					if b != nil {
						b.Done()
					}
					continue
				}
				// The process ends; the next start restores the checkpoint
				// written last and follows the chains from there.
				cur, i = start(stored), storedAt
				restarts++
			}
			if restarts != len(tc.crash) {
				t.Fatalf("%d restarts, want %d", restarts, len(tc.crash))
			}
			// What followed the last restart was judged by a history from
			// the checkpoint and the archive; before it, by one that was.
			for i := range hist {
				if got[i] != want[i] {
					t.Fatalf("entry %d %s: restored from checkpoints, the town finds\n%s\nfollowing every entry once\n%s", i, hist[i].st.ID(), got[i], want[i])
				}
			}
			if h := fullHistory(t, cur.cross); string(h) != string(wantHist) {
				t.Fatalf("the restored town's cross-village history (%d bytes) differs from the one followed once (%d bytes)", len(h), len(wantHist))
			}
			var invoices int
			if err := db.View(func(tx *bolt.Tx) error {
				if root := tx.Bucket(watch.ArchiveBucket("supervise-held")); root != nil && root.Bucket([]byte("v")) != nil {
					invoices = root.Bucket([]byte("v")).Stats().KeyN
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if invoices == 0 {
				t.Fatal("the archive indexes no invoice: the history was all in memory")
			}
		})
	}
}
