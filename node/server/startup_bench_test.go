package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/sample"
)

// sampleVillage copies into dir a village's history of at least entries
// genuine signed entries recorded through the books (node/sample), from a
// cache under $SANZI_BENCH_DATA (default the temporary folder's
// sanzi-bench-data), which is filled the first time: a million entries
// take minutes to record.
func sampleVillage(b *testing.B, dir string, entries int) string {
	b.Helper()
	root := os.Getenv("SANZI_BENCH_DATA")
	if root == "" {
		root = filepath.Join(os.TempDir(), "sanzi-bench-data")
	}
	t0 := time.Now()
	src, err := sample.Cached(context.Background(), root, sample.Config{Org: benchOrg, Entries: entries, Seed: 17,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		b.Logf("generated %d entries into %s in %s (kept for the next runs)", entries, src, d.Round(time.Second))
	}
	if err := sample.CopyFolder(src, dir); err != nil {
		b.Fatal(err)
	}
	return dir
}

// sampleConfig is a village node on dir, fsync on, as in production.
func sampleConfig(dir string) Config {
	return Config{DataDir: dir, Orgs: []string{benchOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard, AccountArgon: accounts.Params{Time: 1, Memory: 8, Threads: 1}}
}

// median of three or more.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkStartup opens a village node on 100,000 and on 1,000,000
// entries of history (node/sample), as it started before issue 17
// ("before": every chain checked, then replayed from seq 1 for the
// supervision and the accounts) and as it starts now ("after": the
// checkpoints restored, the chains checked once the node is up), each once
// per iteration in the same run: -benchtime=3x gives medians of three. It
// reports the medians of Open (listening, the state ready) before and
// after, their ratio, how long from the start of Open the supervision's
// history (made when first needed: the first record or sweep pays for it)
// took to be ready (supervise.Ready), and how long after Open the
// background check of every chain ended.
func BenchmarkStartup(b *testing.B) {
	top := b // owns the folders: the sub-benchmarks run twice (once with N=1)
	for _, n := range []int{100_000, 1_000_000} {
		var cfg Config
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			// SANZI_STARTUP_KEEP names a folder where each size's node
			// is kept between runs (made the first time; one folder per
			// code measured), so that runs of one code interleaved with
			// another's skip the copy and the first start's rebuild.
			if cfg.DataDir == "" {
				dir := ""
				if keep := os.Getenv("SANZI_STARTUP_KEEP"); keep != "" {
					dir = filepath.Join(keep, strconv.Itoa(n))
					if _, err := os.Stat(dir); err != nil {
						sampleVillage(b, dir, n)
					}
				} else {
					dir = sampleVillage(b, top.TempDir(), n)
				}
				cfg = sampleConfig(dir)
				// The first start makes what every later one finds: the
				// administrator, the books' indexes, the checkpoints.
				warm, err := Open(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				warm.Close()
			}
			var before, after, ready, checked []time.Duration
			open := func(cfg Config) (*Node, time.Duration) {
				t0 := time.Now()
				node, err := Open(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				return node, time.Since(t0)
			}
			// SANZI_STARTUP_CPUPROFILE names a file for a CPU profile of
			// the "after" opens, each to its history ready, only (the "before" replay would drown
			// them); SANZI_STARTUP_AFTER_ONLY=1 skips "before", to profile
			// or compare the new start in less time.
			profile := os.Getenv("SANZI_STARTUP_CPUPROFILE")
			afterOnly := os.Getenv("SANZI_STARTUP_AFTER_ONLY") == "1"
			b.ResetTimer()
			for range b.N {
				if !afterOnly {
					old := cfg
					old.replayAll = true
					node, d := open(old)
					before = append(before, d)
					node.Close()
				}

				t0 := time.Now()
				var prof *os.File
				if profile != "" {
					// One file per open: name.entries.n, n counting from 1.
					var err error
					for i := 1; prof == nil; i++ {
						prof, err = os.OpenFile(fmt.Sprintf("%s.%d.%d", profile, n, i), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
						if err != nil && !os.IsExist(err) {
							b.Fatal(err)
						}
					}
					if err := pprof.StartCPUProfile(prof); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				node, d := open(cfg)
				if err := node.sup.Ready(context.Background()); err != nil {
					b.Fatal(err)
				}
				ready = append(ready, time.Since(t1))
				if prof != nil {
					pprof.StopCPUProfile()
					prof.Close()
				}
				after = append(after, d)
				<-node.ledger.Checked()
				checked = append(checked, time.Since(t0))
				node.Close()
			}
			b.StopTimer()
			b.ReportMetric(ms(median(after)), "after-ms")
			b.ReportMetric(ms(median(ready)), "ready-ms")
			if !afterOnly {
				b.ReportMetric(ms(median(before)), "before-ms")
				b.ReportMetric(float64(median(before))/float64(median(after)), "before/after")
			}
			b.ReportMetric(ms(median(checked)), "chains-checked-ms")
		})
	}
}

// BenchmarkAccountantList is issue 14's "time to first render of the
// accountant's list with a village of 100,000 entries", and of the same
// list searched and filtered, measured at the API the console's
// transactions page calls: GET /v1/transactions?org=…&pageSize=20 and the
// filters, through the node's real HTTP server (REST gateway, sign-in
// check, permission table, masking), signed in as an accountant with a
// bearer token. Each case reports the median and p99 of its calls, and the
// rows and totalSize of its page; the first page also the first call after
// the node started (cold).
//
// The cases: the first page (its total from the counters); a counterparty
// searched (a few percent of the payees: the page fills early, the total
// reads every transaction); a voucher number (one match: the worst case,
// every transaction read for one row); a month's window of business
// dates; a search, a window of a year and an amount range together.
func BenchmarkAccountantList(b *testing.B) {
	n, token := serveSignedIn(b, sampleConfig(sampleVillage(b, b.TempDir(), 100_000)))
	base := "http://" + n.HTTPAddr() + "/v1/transactions?org=" + benchOrg + "&pageSize=20"
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	client := &http.Client{}
	var firstDay string // the business date of the village's first transaction
	call := func(url string) (time.Duration, int, int64) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
		}
		var page struct {
			Transactions []struct {
				Transaction struct {
					BusinessDate string `json:"businessDate"`
				} `json:"transaction"`
			} `json:"transactions"`
			TotalSize int64 `json:"totalSize,string"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Transactions) == 0 || int64(len(page.Transactions)) > page.TotalSize {
			b.Fatalf("GET %s: a page of %d transactions of %d (%v): %.300s", url, len(page.Transactions), page.TotalSize, err, body)
		}
		if firstDay == "" {
			firstDay = page.Transactions[0].Transaction.BusinessDate
		}
		return d, len(page.Transactions), page.TotalSize
	}
	cold, _, _ := call(base)
	// The windows lie a year and more into the village's history (it
	// ends before today: node/sample spreads its entries from ten years
	// ago on).
	start, err := time.Parse(time.DateOnly, firstDay)
	if err != nil {
		b.Fatalf("the first transaction's date %q: %v", firstDay, err)
	}
	yearOn := start.AddDate(2, 0, 0)
	for _, tc := range []struct{ name, filters string }{
		{"first-page", ""},
		{"search-counterparty", "&query=" + neturl.QueryEscape("供应商17")},
		{"search-voucher", "&query=" + neturl.QueryEscape("记-0001234")},
		{"date-window", "&fromDate=" + day(yearOn.AddDate(0, -1, 0)) + "&toDate=" + day(yearOn)},
		{"search+window+amount", "&query=" + neturl.QueryEscape("供应商1") + "&fromDate=" + day(yearOn.AddDate(-1, 0, 0)) + "&toDate=" + day(yearOn) +
			"&minAmountFen=100000&maxAmountFen=200000"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			url := base + tc.filters
			_, rows, total := call(url)
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				d, _, _ := call(url)
				lat = append(lat, d)
			}
			b.StopTimer()
			slices.Sort(lat)
			if tc.filters == "" {
				b.ReportMetric(ms(cold), "first-call-ms")
			}
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[int(0.99*float64(len(lat)-1))]), "p99-ms")
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(total), "totalSize")
		})
	}
}
