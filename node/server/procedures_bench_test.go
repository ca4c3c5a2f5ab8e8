package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/workflow"
)

// BenchmarkProceduresFirstPage times the first page (20 rows) of the
// procedures list with its total, as GET /v1/procedures asks the
// supervision (Supervisor.Procedures), on a village node restarted on
// $SANZI_PROCEDURES_ENTRIES entries of history (node/sample; default
// 100,000), for the filters the console uses: the village's every
// procedure, its open ones, its completed and rejected ones, and one
// matter's. Before issue 17 each page filtered every procedure the node
// held in memory; it reports the median and p99 of the calls, and the
// rows and total of the page (which must not change with the code).
func BenchmarkProceduresFirstPage(b *testing.B) {
	entries := 100_000
	if s := os.Getenv("SANZI_PROCEDURES_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("SANZI_PROCEDURES_ENTRIES=%q: %v", s, err)
		}
		entries = n
	}
	cfg := sampleConfig(sampleVillage(b, b.TempDir(), entries))
	// The first start makes what later ones find (the checkpoints); the
	// one measured is a restart, as a node runs.
	warm, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	warm.Close()
	n, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	// What the ledger's file holds for the procedures (the archive of the
	// closed ones, since issue 17) beside the checkpoints, once.
	if err := n.ledger.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			if s := string(name); s == "checkpoints" || strings.HasPrefix(s, "workflow-archive/") {
				st := bk.Stats()
				b.Logf("bucket %s: %d keys, %d bytes in use of %d allocated", s, st.KeyN,
					st.LeafInuse+st.BranchInuse, st.LeafAlloc+st.BranchAlloc)
			}
			return nil
		})
	}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    workflow.Filter
	}{
		{"all", workflow.Filter{Org: benchOrg}},
		{"open", workflow.Filter{Org: benchOrg, Status: workflow.StatusOpen}},
		{"completed", workflow.Filter{Org: benchOrg, Status: workflow.StatusCompleted}},
		{"rejected", workflow.Filter{Org: benchOrg, Status: workflow.StatusRejected}},
		{"matter", workflow.Filter{Org: benchOrg, Matter: "FUND-REIMB"}},
	} {
		b.Run(fmt.Sprintf("entries=%d/%s", entries, tc.name), func(b *testing.B) {
			var lat []time.Duration
			var rows int
			var total int64
			for range b.N {
				t0 := time.Now()
				recs, _, tot, err := n.sup.Procedures(tc.f, books.Page{Size: 20})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				rows, total = len(recs), tot
			}
			slices.Sort(lat)
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[int(0.99*float64(len(lat)-1))]), "p99-ms")
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(total), "total")
		})
	}
}
