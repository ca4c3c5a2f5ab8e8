package loader

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/federation/fsm"
)

// loaded is what reads of the whole feed gave, batch after batch: each
// fact table's columns end to end, and the summaries added up.
type loaded struct {
	tables  map[string]*table
	monthly map[monthlyKey][2]int64 // amount, count
	digits  map[digitKey][3]int64   // n, round, just under
	batches int
}

// readAll reads d's feed from the start as step does (each read after the
// last one's end), with decoders goroutines and batches of batchRows,
// ranges of hold rows or more held rather than copied (batch.merge),
// without ClickHouse (one shard, nothing loaded yet).
func readAll(t *testing.T, d *district, decoders, batchRows, hold int) loaded {
	t.Helper()
	l := &Loader{cfg: Config{Source: d.f, Decoders: decoders, BatchRows: batchRows}, conns: make([]driver.Conn, 1),
		loaded: []map[string]uint64{{}}, shard: map[string]int{}, sets: newRuleSets(nil), holdRows: hold}
	out := loaded{tables: map[string]*table{}, monthly: map[monthlyKey][2]int64{}, digits: map[digitKey][3]int64{}}
	var from uint64
	for {
		p, err := l.read(t.Context(), from)
		if err != nil {
			t.Fatal(err)
		}
		if p.indexes == 0 {
			return out
		}
		if p.full != (p.batches[0].rows >= batchRows) {
			t.Fatalf("batch after %d: full %v with %d rows of %d", from, p.full, p.batches[0].rows, batchRows)
		}
		out.batches++
		b := p.batches[0]
		for name, tab := range b.tables {
			if out.tables[name] == nil {
				out.tables[name] = &table{}
			}
			out.tables[name].concat(tab)
		}
		for k, v := range b.sums.monthly {
			s := out.monthly[k]
			out.monthly[k] = [2]int64{s[0] + v[0], s[1] + v[1]}
		}
		for k, v := range b.sums.digits {
			s := out.digits[k]
			out.digits[k] = [3]int64{s[0] + v[0], s[1] + v[1], s[2] + v[2]}
		}
		from = p.last
	}
}

// TestReadInParallel reads one district's feed with one decoder and in one
// batch, and again with several decoders in batches that end in the middle
// of what the decoders had decoded ahead: every table must hold the same
// rows in the same (Raft) order, and the summaries the same sums, the
// "just under" counts following the rule set published in between.
func TestReadInParallel(t *testing.T) {
	f, err := fsm.Open(fsm.Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := &district{t: t, f: f}
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	clk := &clock{now: t0}
	v, w := newVillageAt(t, "350505100201", clk.Now), newVillageAt(t, "350505100202", clk.Now)
	const oldBand, newBand = 4_600_000, 2_800_000 // first digits 4 and 2
	rnd := rand.New(rand.NewPCG(1, 2))
	v.expenses(t, t0, oldBand, newBand)
	w.record(t, rnd, 40) // reversals among them
	d.ship(v, 3)
	d.ship(w, 7)
	clk.Set(t0.Add(time.Hour))
	v.publish(t, withParam("own-1", "BIG-SPEND", "big_spend_fen", 3_000_000))
	clk.Set(t0.Add(2 * time.Hour))
	v.expenses(t, t0, oldBand, newBand)
	w.record(t, rnd, 40)
	// The publication and the expenses after it in one Raft entry: only
	// the expenses after the publication count with its thresholds.
	d.ship(v, 10)
	d.ship(w, 5)

	want := readAll(t, d, 1, 1<<30, 1<<30) // every range copied
	if want.batches != 1 {
		t.Fatalf("one batch of everything came as %d", want.batches)
	}
	if n := want.tables["entries"].n; n != int(v.sent+w.sent) {
		t.Fatalf("%d entries rows, want %d", n, v.sent+w.sent)
	}
	if got := want.tables["rule_sets"]; got == nil || got.n != 2 {
		t.Fatalf("rule_sets rows: %+v, want the draft and the publication", got)
	}
	month := uint32(t0.Year()*100 + int(t0.Month()))
	for digit, under := range map[uint8]int64{4: 1, 2: 1} {
		if got := want.digits[digitKey{v.org, month, digit}]; got[0] != 2 || got[2] != under {
			t.Errorf("village %s, first digit %d: (n, round, just under) %v; want 2 expenses, %d just under", v.org, digit, got, under)
		}
	}
	for _, tc := range []struct{ decoders, batchRows, hold int }{
		{1, 13, holdRows},
		{2, 13, holdRows},
		{4, 5, holdRows},
		{3, 40, holdRows},
		{1, 1 << 30, 1}, // every range held
		{2, 13, 1},
		{3, 40, 4}, // some held, some copied
	} {
		t.Run(fmt.Sprintf("%d decoders, %d rows, hold %d", tc.decoders, tc.batchRows, tc.hold), func(t *testing.T) {
			got := readAll(t, d, tc.decoders, tc.batchRows, tc.hold)
			if got.batches < 2 && tc.batchRows < 1<<30 {
				t.Fatalf("%d batches: the batch never ended mid-feed", got.batches)
			}
			for _, name := range tablesIn(want.tables, got.tables) {
				wt, gt := want.tables[name], got.tables[name]
				if wt == nil || gt == nil || gt.err != nil || !reflect.DeepEqual(wt.cols, gt.cols) || wt.n != gt.n {
					t.Errorf("table %s differs from one decoder's single batch (%v)", name, gt.err)
				}
			}
			if !maps.Equal(got.monthly, want.monthly) || !maps.Equal(got.digits, want.digits) {
				t.Errorf("summaries differ:\n%v\n%v\nwant\n%v\n%v", got.monthly, got.digits, want.monthly, want.digits)
			}
		})
	}
}

// tablesIn are the fact tables either set holds.
func tablesIn(a, b map[string]*table) []string {
	var out []string
	for _, name := range schema.FactTables {
		if a[name] != nil || b[name] != nil {
			out = append(out, name)
		}
	}
	return out
}
