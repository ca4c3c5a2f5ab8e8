package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/analytics/synth"
	"github.com/sanzi/sanzi/node/sample"
)

// ckRendered is true once the cockpit has drawn its first view: the
// headline figures, the risk ranking's rows and the charts' canvases.
const ckRendered = `!!document.querySelector('[data-testid="fig-income"]') &&
	document.querySelectorAll('[data-testid="risk-rows"] tr').length > 0 &&
	document.querySelectorAll('[data-testid$="-chart"] canvas').length >= 3`

// BenchmarkCockpitFirstRender10M is the time from navigation to the
// cockpit's first complete view (figures, risk rows, charts drawn) in
// Chromium, for a district analyst at a member whose ClickHouse holds a
// synthetic district of 10 million transactions (analytics/synth: 20 towns
// × 25 villages, 24 months, with 1 million steps, 200,000 alerts and 50,000
// cards). Each of the benchmark's rounds loads the page 5 times from
// about:blank (scripts cached, as on a wall display that reloads) and
// reports the median (p50-ms) and the slowest (max-ms), measured by the
// page's own clock (performance.now() from navigation start).
// SANZI_BENCH_TRANSACTIONS sets a smaller district for a quick try.
func BenchmarkCockpitFirstRender10M(b *testing.B) {
	ctx := context.Background()
	ch, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ch.Close() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}, ReadTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	if _, err := schema.Apply(ctx, conn); err != nil {
		b.Fatal(err)
	}
	district := synth.Default()
	if v := os.Getenv("SANZI_BENCH_TRANSACTIONS"); v != "" {
		if district.Transactions, err = strconv.Atoi(v); err != nil {
			b.Fatalf("SANZI_BENCH_TRANSACTIONS=%q: %v", v, err)
		}
	}
	gen := time.Now()
	if err := synth.Fill(ctx, conn, district); err != nil {
		b.Fatal(err)
	}
	if err := schema.RebuildSummaries(ctx, conn, schema.RoundFen, schema.DefaultThresholds()); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d transactions in %v", district.Transactions, time.Since(gen).Round(time.Second))

	d := ckStartDistrictOn(b, ch.Addr())
	d.ckAccount(b, "bench.analyst", "分析员", "district_analyst")
	tab := csBrowser(b)
	base := "http://" + d.http + "/"
	csRun(b, tab, "open the district's console", chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(b, tab, "bench.analyst", personPW, "bench-analyst-second-2")

	var times []float64
	for b.Loop() {
		for range 5 {
			csRun(b, tab, "leave the console", chromedp.Navigate("about:blank"))
			csRun(b, tab, "open the cockpit", chromedp.Navigate(base+"#/cockpit"))
			ms := csGet(b, tab, "wait for the cockpit's first view", chromedp.Evaluate[float64](`new Promise((done) => {
				const tick = () => (`+ckRendered+`) ? done(performance.now()) : setTimeout(tick, 5);
				tick();
			})`, chromedp.EvalAwaitPromise))
			times = append(times, ms)
		}
	}
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2], "p50-ms")
	b.ReportMetric(times[len(times)-1], "max-ms")
}

// BenchmarkAccountantListFirstRender100k is the time from navigation to
// the accountant's first page of transactions drawn in Chromium (20 rows
// and the total), at a village node started by the real binary on a
// history of 100,000 entries over ten years (node/sample, recorded once
// into SANZI_BENCH_DATA and reused). Each round loads the page 5 times
// from about:blank and reports the median (p50-ms) and the slowest
// (max-ms) by the page's own clock.
func BenchmarkAccountantListFirstRender100k(b *testing.B) {
	root := os.Getenv("SANZI_BENCH_DATA")
	if root == "" {
		root = filepath.Join(os.TempDir(), "sanzi-bench-data")
	}
	entries := 100_000
	if v := os.Getenv("SANZI_BENCH_ENTRIES"); v != "" {
		var err error
		if entries, err = strconv.Atoi(v); err != nil {
			b.Fatalf("SANZI_BENCH_ENTRIES=%q: %v", v, err)
		}
	}
	t0 := time.Now()
	src, err := sample.Cached(context.Background(), root, sample.Config{Org: org, Entries: entries, Seed: 17,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("the village of %d entries ready in %v (%s)", entries, time.Since(t0).Round(time.Second), src)
	dir := b.TempDir()
	if err := sample.CopyFolder(src, dir); err != nil {
		b.Fatal(err)
	}
	n := startNode(b, dir)
	csAccount(b, n, "bench.kuaiji", "会计", []string{"accountant"}, nil)
	tab := csBrowser(b)
	base := "http://" + n.http + "/"
	csRun(b, tab, "open the village's console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(b, tab, "bench.kuaiji", personPW, "bench-kuaiji-second-2")

	var times []float64
	for b.Loop() {
		for range 5 {
			csRun(b, tab, "leave the console", chromedp.Navigate("about:blank"))
			csRun(b, tab, "open the transactions", chromedp.Navigate(base+"#/transactions"))
			ms := csGet(b, tab, "wait for the first page", chromedp.Evaluate[float64](`new Promise((done) => {
				const tick = () => document.querySelectorAll('[data-testid="tx-rows"] tr').length >= 20 ? done(performance.now()) : setTimeout(tick, 5);
				tick();
			})`, chromedp.EvalAwaitPromise))
			times = append(times, ms)
		}
	}
	b.ReportMetric(float64(entries), "entries")
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2], "p50-ms")
	b.ReportMetric(times[len(times)-1], "max-ms")
}
