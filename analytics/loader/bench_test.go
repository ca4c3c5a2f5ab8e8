package loader

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// chain makes n signed transaction entries for each of villages origins
// and commits them to a fresh FSM in Raft entries of per entries.
func chain(b *testing.B, villages, n, per int) *district {
	dir := b.TempDir()
	var origins []string
	for i := range villages {
		origins = append(origins, fmt.Sprintf("3505051%02d%03d", i%20, 201+i))
	}
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), origins)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, NoSync: true, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	f, err := fsm.Open(fsm.Config{Path: filepath.Join(dir, "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	d := &district{t: b, f: f}
	for _, o := range origins {
		pub, _ := ring.Public(o)
		d.apply(clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, &clusterv1.RegisterOrigin{Origin: o, PublicKey: pub})
	}
	for done := 0; done < n; done += per {
		for _, o := range origins {
			recs := make([]ledger.Record, per)
			for i := range recs {
				k := done + i
				p, _ := proto.Marshal(&sanziv1.Transaction{Org: o, Kind: sanziv1.TransactionKind(1 + k%2), AmountFen: int64(100 + (k*7919)%5_000_000),
					PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: &sanziv1.Counterparty{Name: "party" + strconv.Itoa(k%61)},
					BusinessDate: "2026-08-15", Summary: "s", Category: "办公费"})
				recs[i] = ledger.Record{Origin: o, Author: "bench", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: p}
			}
			st, err := l.Append(context.Background(), recs...)
			if err != nil {
				b.Fatal(err)
			}
			raws := make([][]byte, len(st))
			for i, s := range st {
				raws[i] = s.Raw
			}
			d.apply(clusterv1.CommandType_COMMAND_TYPE_APPEND, &clusterv1.AppendBatch{Entries: raws})
		}
	}
	return d
}

// BenchmarkLoaderVsClient loads 10 villages × 20,000 transactions through
// the loader (entries and transactions rows, plus the summaries), then
// inserts the same entries and transactions rows with clickhouse-client
// FORMAT TSV, and reports both rates, their ratio and the loader's heap
// allocations per row (entries and transactions rows counted), and the
// rows each loaded. Set
// SANZI_BENCH_TX_PER_VILLAGE for another size (issue 17 asks for ≥ 4 M
// rows: 200000), SANZI_BENCH_BATCH_ROWS for the loader's BatchRows (a
// comma-separated list: run i takes the i-th, cycling, so two sizes are
// compared interleaved on one chain), SANZI_BENCH_COMPRESSION=none for
// the driver's blocks uncompressed (LZ4 by default), SANZI_BENCH_GC for
// the loader's GCPercent/MemoryLimit (percent/MiB pairs, cycling); run
// with -benchtime=3x -v for three runs on one chain, each logged.
func BenchmarkLoaderVsClient(b *testing.B) {
	ctx := context.Background()
	perVillage := 20_000
	if v := os.Getenv("SANZI_BENCH_TX_PER_VILLAGE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n%1_000 != 0 {
			b.Fatalf("SANZI_BENCH_TX_PER_VILLAGE=%q: want a positive multiple of 1000", v)
		}
		perVillage = n
	}
	batchRows := []int{0} // the loader's default
	if v := os.Getenv("SANZI_BENCH_BATCH_ROWS"); v != "" {
		batchRows = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 {
				b.Fatalf("SANZI_BENCH_BATCH_ROWS=%q: want positive numbers, comma-separated", v)
			}
			batchRows = append(batchRows, n)
		}
	}
	// The collector's settings (Config.GCPercent, MemoryLimit), as
	// percent/limit-MiB pairs, comma-separated, cycling like the batch
	// sizes: "0/0,-1/1024" compares the process's own with the collector
	// off under a 1 GiB limit.
	type gcSetting struct {
		percent int
		limit   int64
	}
	gcs := []gcSetting{{}}
	if v := os.Getenv("SANZI_BENCH_GC"); v != "" {
		gcs = nil
		for _, f := range strings.Split(v, ",") {
			p, m, ok := strings.Cut(f, "/")
			percent, err1 := strconv.Atoi(p)
			mib, err2 := strconv.ParseInt(m, 10, 64)
			if !ok || err1 != nil || err2 != nil || mib < 0 {
				b.Fatalf("SANZI_BENCH_GC=%q: want percent/limit-MiB pairs, comma-separated", v)
			}
			gcs = append(gcs, gcSetting{percent, mib << 20})
		}
	}
	// LZ4, as the member's loader connects (federation/member) and as
	// clickhouse-client sends its blocks.
	compress := &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	switch v := os.Getenv("SANZI_BENCH_COMPRESSION"); v {
	case "", "lz4":
	case "none":
		compress = nil
	default:
		b.Fatalf("SANZI_BENCH_COMPRESSION=%q: want none or lz4", v)
	}
	d := chain(b, 10, perVillage, 1_000)
	s, err := chserver.Start(ctx, chserver.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for run := 0; b.Loop(); run++ {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}, DialTimeout: 2 * time.Second, Compression: compress})
		if err != nil {
			b.Fatal(err)
		}
		rowsPerBatch := batchRows[run%len(batchRows)]
		// Every table goes, so the schema (its migrations included) is
		// applied afresh in each run of -benchtime=Nx.
		var tables []string
		rs, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
		if err != nil {
			b.Fatal(err)
		}
		for rs.Next() {
			var t string
			if err := rs.Scan(&t); err != nil {
				b.Fatal(err)
			}
			tables = append(tables, t)
		}
		rs.Close()
		for _, t := range tables {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				b.Fatal(err)
			}
		}
		gc := gcs[run%len(gcs)]
		l, err := New(Config{Source: d.f, Conn: conn, BatchRows: rowsPerBatch, GCPercent: gc.percent, MemoryLimit: gc.limit, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		// Apply the schema outside the timing.
		if _, err := l.step(ctx); err != nil {
			b.Fatal(err)
		}
		conn.Exec(ctx, "TRUNCATE TABLE entries")
		conn.Exec(ctx, "TRUNCATE TABLE transactions")
		conn.Exec(ctx, "TRUNCATE TABLE loader_progress")
		for _, t := range []string{"monthly", "expense_digits", "expense_parties"} {
			conn.Exec(ctx, "TRUNCATE TABLE "+t)
		}
		l.loaded = nil
		var m0, m1 runtime.MemStats
		// The last run's TSV and columns are garbage, but in use until
		// collected: without this the peak below counts them.
		runtime.GC()
		runtime.ReadMemStats(&m0)
		stopProfile := profileLoader(b)
		restoreGC := l.tuneGC() // as Run does
		stopPeak := heapPeak()
		blocks0, sorted0 := serverEvent(ctx, conn, "MergeTreeDataWriterBlocks"), serverEvent(ctx, conn, "MergeTreeDataWriterBlocksAlreadySorted")
		merged0, queries0 := serverEvent(ctx, conn, "MergedRows"), serverEvent(ctx, conn, "Query")
		srv0, self0 := serverCPU(b, s), selfCPU(b)
		l.trace = newStepTrace()
		threads0 := threadCPU(b, s)
		t0 := time.Now()
		// Step before asking how far it got: until the first step re-reads
		// where the (truncated) tables are, Stats still says the schema's
		// step loaded everything, and the loop would time nothing.
		for {
			if _, err := l.step(ctx); err != nil {
				b.Fatal(err)
			}
			if l.Stats().LoadedIndex >= d.f.AppliedIndex() {
				break
			}
		}
		loaderTime := time.Since(t0)
		loaderSrv, loaderSelf := serverCPU(b, s)-srv0, selfCPU(b)-self0
		loaderThreads := threadCPU(b, s)
		trace := l.trace
		l.trace = nil
		blocks := serverEvent(ctx, conn, "MergeTreeDataWriterBlocks") - blocks0
		sorted := serverEvent(ctx, conn, "MergeTreeDataWriterBlocksAlreadySorted") - sorted0
		loaderMerged, loaderQueries := serverEvent(ctx, conn, "MergedRows")-merged0, serverEvent(ctx, conn, "Query")-queries0
		stopProfile()
		peak := stopPeak()
		restoreGC()
		runtime.ReadMemStats(&m1)
		var rows uint64
		conn.QueryRow(ctx, "SELECT (SELECT count() FROM entries) + (SELECT count() FROM transactions)").Scan(&rows)

		// The same rows as TSV, built before the clock starts, with the
		// loader's column lists (columns): the server computes the rest
		// (district and town) for both alike.
		tsv := map[string]*bytes.Buffer{"entries": {}, "transactions": {}}
		err = d.f.Feed(0, 0, func(index uint64, rec *clusterv1.FeedRecord) bool {
			for _, r := range rec.GetRanges() {
				d.f.Range(r.GetOrigin(), r.GetFromSeq(), int(r.GetToSeq()-r.GetFromSeq()+1), func(st *ledger.Stored) bool {
					at := st.RecordedAt.UTC().Format("2006-01-02 15:04:05")
					fmt.Fprintf(tsv["entries"], "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", index, st.Origin, st.Seq, st.Type, at, st.Author, st.Subject)
					var t sanziv1.Transaction
					proto.Unmarshal(st.Payload, &t)
					fmt.Fprintf(tsv["transactions"], "%d\t%s\t%d\t%d\t1\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", index, st.Origin, st.Seq,
						t.GetKind(), t.GetAmountFen(), t.GetPaymentMethod(), t.GetCategory(), t.GetBudgetLine(), t.GetCounterparty().GetName(), "", t.GetBusinessDate(), 202608, at)
					return true
				})
			}
			return true
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range []string{"entries", "transactions"} {
			conn.Exec(ctx, "CREATE TABLE "+t+"_copy AS "+t)
		}
		srv0 = serverCPU(b, s)
		threads0c := threadCPU(b, s)
		merged0, queries0 = serverEvent(ctx, conn, "MergedRows"), serverEvent(ctx, conn, "Query")
		var clientSelf time.Duration
		t0 = time.Now()
		for _, t := range []string{"entries", "transactions"} {
			cmd := exec.Command("clickhouse-client", "--port", strconv.Itoa(s.TCPPort()), "--query", "INSERT INTO "+t+"_copy ("+columns[t]+") FORMAT TSV")
			cmd.Stdin = tsv[t]
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("clickhouse-client into %s: %v\n%s", t, err, out)
			}
			clientSelf += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		clientTime := time.Since(t0)
		clientSrv := serverCPU(b, s) - srv0
		clientThreads := threadCPU(b, s)
		clientMerged, clientQueries := serverEvent(ctx, conn, "MergedRows")-merged0, serverEvent(ctx, conn, "Query")-queries0
		var copied uint64
		conn.QueryRow(ctx, "SELECT (SELECT count() FROM entries_copy) + (SELECT count() FROM transactions_copy)").Scan(&copied)
		if copied != rows {
			b.Fatalf("clickhouse-client inserted %d rows, the loader %d", copied, rows)
		}
		// And the same contents, every column (the server's defaults
		// included), not only as many rows.
		for _, t := range []string{"entries", "transactions"} {
			var loaderSum, clientSum uint64
			conn.QueryRow(ctx, "SELECT groupBitXor(cityHash64(*)) FROM "+t).Scan(&loaderSum)
			conn.QueryRow(ctx, "SELECT groupBitXor(cityHash64(*)) FROM "+t+"_copy").Scan(&clientSum)
			if loaderSum != clientSum || loaderSum == 0 {
				b.Fatalf("%s: the loader's rows hash to %x, clickhouse-client's to %x", t, loaderSum, clientSum)
			}
		}
		for _, t := range []string{"entries", "transactions"} {
			conn.Exec(ctx, "DROP TABLE "+t+"_copy")
		}
		b.ReportMetric(float64(rows)/loaderTime.Seconds(), "loader-rows/s")
		b.ReportMetric(float64(rows)/clientTime.Seconds(), "client-rows/s")
		b.ReportMetric(clientTime.Seconds()/loaderTime.Seconds(), "ratio")
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(rows), "loader-allocs/row")
		// The size, for the table of issue 17 (cmd/benchtable), whose aim
		// holds at 4 M rows or more only.
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(float64(peak)/(1<<20), "loader-heap-MiB")
		// CPU per row, the loader's process and the server while the
		// loader ran, then clickhouse-client's and the server's while it
		// ran: on two shared cores, where the wall time went.
		perRow := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(rows) }
		b.Logf("batch rows %d, GC %d/%d MiB, %d rows: loader %.0f rows/s, client %.0f rows/s, ratio %.2f, loader %.1f allocs/row; CPU µs/row: loader %.2f + server %.2f, client %.2f + server %.2f; loader heap in use peak %.0f MiB", l.cfg.BatchRows, gc.percent, gc.limit>>20, rows,
			float64(rows)/loaderTime.Seconds(), float64(rows)/clientTime.Seconds(), clientTime.Seconds()/loaderTime.Seconds(), float64(m1.Mallocs-m0.Mallocs)/float64(rows),
			perRow(loaderSelf), perRow(loaderSrv), perRow(clientSelf), perRow(clientSrv), float64(peak)/(1<<20))
		// How many parts the loader's inserts made, and how many of them
		// came already in key order (the server skipped their sort).
		b.Logf("loader: %d parts written, %d of them already sorted", blocks, sorted)
		// What else the server did in each window: rows its background
		// merges rewrote (the loader's many smaller parts are merged while
		// it runs) and queries (the loader's fence and progress included).
		b.Logf("server while the loader ran: %d rows merged, %d queries; while clickhouse-client ran: %d rows merged, %d queries",
			loaderMerged, loaderQueries, clientMerged, clientQueries)
		// Where the wall time went: the loader's steps (read beside send,
		// each table's insert), and the server's CPU by thread name in
		// each window (TCPHandler: the inserts; BackgrProcPool: merges).
		b.Logf("loader %.2fs, client %.2fs; loader's steps:\n%s", loaderTime.Seconds(), clientTime.Seconds(), trace)
		b.Logf("server CPU by thread while the loader ran: %s; while clickhouse-client ran: %s",
			threadDelta(threads0, loaderThreads), threadDelta(threads0c, clientThreads))
		conn.Close()
	}
}

// serverEvent is the server's count of event name (system.events), 0
// when it has none yet.
func serverEvent(ctx context.Context, conn driver.Conn, name string) uint64 {
	var v uint64
	conn.QueryRow(ctx, "SELECT sum(value) FROM system.events WHERE event = ?", name).Scan(&v)
	return v
}

// heapPeak samples the heap in use every 20 ms (and once at the end)
// until the function it returns is called, which returns the highest
// sample: the loader's peak memory, to weigh a bigger BatchRows or a
// higher GC percent against. ReadMemStats stops the world briefly; at
// 50 a second that is noise beside the loader's own GC.
func heapPeak() func() uint64 {
	var peak uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > peak && os.Getenv("SANZI_BENCH_HEAPPROFILE") != "" {
			if f, err := os.Create(os.Getenv("SANZI_BENCH_HEAPPROFILE")); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		peak = max(peak, m.HeapInuse)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak
	}
}

// serverCPU is the CPU time s's process has used so far.
func serverCPU(b *testing.B, s *chserver.Server) time.Duration {
	d, err := s.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// selfCPU is the CPU time this process has used so far (user and system).
func selfCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// profileLoader starts a CPU profile of the loader's timed part alone
// (not the chain's signing nor the TSV) when SANZI_BENCH_CPUPROFILE names
// a file, and returns what stops it; run with -benchtime=1x, as a second
// run would write over the first one's profile.
func profileLoader(b *testing.B) func() {
	path := os.Getenv("SANZI_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFreshness commits 100 entries every 20 ms (5,000/s) for 10 s
// with the loader running as on a leader, and measures, per Raft index, the
// time from its commit to the loader having recorded it in ClickHouse.
func BenchmarkFreshness(b *testing.B) {
	ctx := context.Background()
	d := chain(b, 5, 200, 100) // a warm start: 1,000 entries already there
	s, err := chserver.Start(ctx, chserver.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conn := connect(b, s)
	l, err := New(Config{Source: d.f, Conn: conn, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	go l.Run(lctx)
	defer stop()
	for b.Loop() {
		lat := freshness(b, ctx, d, conn, 10*time.Second)
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(float64(len(lat)), "raft-entries")
	}
}

func freshness(b *testing.B, ctx context.Context, d *district, conn driver.Conn, run time.Duration) []time.Duration {
	var mu sync.Mutex
	committed := map[uint64]time.Time{}
	var lat []time.Duration
	var loadDone atomic.Bool
	done := make(chan struct{})
	go func() { // the observer: what ClickHouse says is loaded
		defer close(done)
		var seen uint64
		for {
			var v uint64
			if err := conn.QueryRow(ctx, "SELECT max(raft_index) FROM loader_progress").Scan(&v); err == nil && v > seen {
				now := time.Now()
				mu.Lock()
				for i := seen + 1; i <= v; i++ {
					if t, ok := committed[i]; ok {
						lat = append(lat, now.Sub(t))
						delete(committed, i)
					}
				}
				mu.Unlock()
				seen = v
			}
			mu.Lock()
			left := len(committed)
			mu.Unlock()
			if left == 0 && loadDone.Load() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// The load: 100 entries (one village) every 20 ms.
	v := newBenchVillage(d)
	end := time.Now().Add(run)
	for time.Now().Before(end) {
		raws := v.next(b, 100)
		mu.Lock()
		d.apply(clusterv1.CommandType_COMMAND_TYPE_APPEND, &clusterv1.AppendBatch{Entries: raws})
		committed[d.index] = time.Now()
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	loadDone.Store(true)
	<-done
	return lat
}

// benchVillage seals entries with its own key, as a village would.
type benchVillage struct {
	origin string
	key    ed25519.PrivateKey
	head   ledger.Head
}

func newBenchVillage(d *district) *benchVillage {
	v := &benchVillage{origin: "350505119299", key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))}
	d.apply(clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, &clusterv1.RegisterOrigin{Origin: v.origin, PublicKey: v.key.Public().(ed25519.PublicKey)})
	return v
}

func (v *benchVillage) next(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p, _ := proto.Marshal(&sanziv1.Transaction{Org: v.origin, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(100 + i),
			Counterparty: &sanziv1.Counterparty{Name: "p"}, BusinessDate: "2026-08-15"})
		st, err := ledger.Seal(v.key, v.head, ledger.Record{Origin: v.origin, Author: "bench", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: p}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		v.head = ledger.Head{Seq: st.Seq, Hash: st.Hash}
		out[i] = st.Raw
	}
	return out
}

// threadCPU is the server's CPU time by thread name (chserver.ThreadCPU).
func threadCPU(b *testing.B, s *chserver.Server) map[string]time.Duration {
	m, err := s.ThreadCPU()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// threadDelta is what each thread name used between two ThreadCPU reads,
// in seconds, largest first.
func threadDelta(before, after map[string]time.Duration) string {
	type use struct {
		name string
		d    time.Duration
	}
	var us []use
	for n, d := range after {
		if d -= before[n]; d > 0 {
			us = append(us, use{n, d})
		}
	}
	slices.SortFunc(us, func(a, b use) int { return int(b.d - a.d) })
	var parts []string
	for _, u := range us {
		parts = append(parts, fmt.Sprintf("%s %.2fs", u.name, u.d.Seconds()))
	}
	return strings.Join(parts, ", ")
}
