// Package loader copies what the district cluster committed into ClickHouse,
// in Raft-index order, on the leader only. It reads the FSM's feed (which
// origins and seqs each Raft entry added), decodes the entries, and inserts
// each batch as one block per table, so a table holds every row up to some
// raft_index and none after it. On start (a new leader, a restart, after
// ClickHouse comes back) it resumes after max(raft_index) of each table:
// nothing is loaded twice and nothing is skipped. A loader of an old
// leader that has not yet heard it lost is fenced off by the Raft term
// (fence.go).
//
// The summaries' "just under a threshold" count follows the rule set in
// force for each org (rulesets.go): the loader records every rule-set
// entry it loads in the rule_sets table, in the same Raft order, and reads
// that table back when it resumes.
package loader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/relay"
	"github.com/sanzi/sanzi/node/retry"
	"github.com/sanzi/sanzi/node/rules"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Source is the committed chain store the loader reads (the FSM). Feed and
// Range call fn inside a read transaction: fn must not read the Source
// again, nor wait for anything (see step).
type Source interface {
	Feed(after uint64, limit int, fn func(index uint64, rec *clusterv1.FeedRecord) bool) error
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
	AppliedIndex() uint64
}

// Config sets up a Loader.
type Config struct {
	Source Source
	// Conn is the ClickHouse server of a single-server deployment.
	Conn driver.Conn
	// Shards, when set instead of Conn, are the shards of a deployment made
	// with schema.ApplyCluster: rows go to <table>_local of the shard
	// cityHash64(town) picks, as the Distributed tables would send them.
	Shards []driver.Conn
	// Cluster is the <remote_servers> name the Distributed tables use.
	Cluster string
	// Term is the Raft term of the leadership this loader runs under: a
	// loader whose term is older than one in loader_progress stops
	// (ErrFenced). Loaders of one district must be given increasing terms.
	Term uint64
	// Orgs is the district's org list with names, written at start.
	Orgs []schema.Org
	// Loaded is told the index loaded through after each batch (the member
	// records it through Raft); may be nil.
	Loaded func(ctx context.Context, index uint64) error
	// BatchRows bounds the rows of one batch across tables; default
	// 400,000. Each batch makes one part a table, and ClickHouse merges
	// the parts while the loader runs: at 4 M rows
	// (BenchmarkLoaderVsClient, the server's CPU by thread) 100,000-row
	// batches (50,000-row parts) had its merge threads rewrite ~7.5 M rows
	// for ~2 s of CPU, as much as the inserts themselves, and the 40
	// batches' holds and summary inserts cost ~2 s of wall time; 400,000
	// merged 2.4 M rows for ~0.7 s and the server's CPU a row halved
	// (~1.0 → ~0.6 µs, the client's ~0.57). The price is memory: the
	// loader holds two batches and the driver a copy of one, and its heap
	// peaked at 150–190 MiB at 100,000, 270–285 MiB at 200,000 and
	// 450–560 MiB at 400,000. Only a loader behind by more than a batch
	// fills one; one keeping up sends what is new.
	BatchRows int
	// Decoders is how many goroutines read and decode the FSM's entries
	// (decode.go); default GOMAXPROCS.
	Decoders int
	// Poll is how often an idle loader looks for new entries; default 100ms.
	Poll time.Duration
	// Base and Max bound the backoff while ClickHouse is unreachable;
	// default 200ms and 10s.
	Base, Max time.Duration
	// Timeout bounds one batch, ClickHouse calls and Loaded included
	// (default 1m). The driver gives a deadline to its socket but does not
	// abandon a blocked read when a context is only cancelled: without a
	// deadline a hung ClickHouse would hold the loader for the driver's
	// read timeout (5 minutes).
	Timeout time.Duration
	// GCPercent and MemoryLimit (bytes), when not 0, are the Go garbage
	// collector's percent (debug.SetGCPercent; negative: off, as GOGC=off)
	// and soft memory limit (debug.SetMemoryLimit) Run sets for the
	// process while it runs, putting the previous ones back when it
	// returns. Why: the loader holds two batches of columns (one read while
	// the other goes in, ~250 MiB at the default BatchRows), full of string
	// headers the collector marks again at every cycle; at the default
	// percent it cycles every few thousand rows and marking was a fifth of
	// the loader's CPU. Measured at 400 k rows (BenchmarkLoaderVsClient,
	// SANZI_BENCH_GC; loader CPU µs/row, median of 6 in two interleaved
	// windows, noisy): percent 100 1.41 (peak heap 237–279 MiB), 400 1.30
	// (420–573 MiB), off with a 1 GiB limit 1.25 in one window and 1.61 in
	// the other (670–995 MiB: near the limit it collects as often as
	// before). A modest gain for twice the memory. Again at 1 M rows,
	// after the decoders' allocations went (0.1 a row), interleaved in
	// one run: percent 200 0.90 µs/row (0.88–0.91, heap peak 320–365 MiB)
	// against the default's 1.01 (1.00–1.06, 231–250 MiB). Both are the whole
	// process's settings (a member also runs Raft and gRPC): set them only
	// where the loader dominates the process's memory; a negative percent
	// needs a MemoryLimit. 0 and 0 (the default) leave them alone.
	GCPercent   int
	MemoryLimit int64
	Logger      *slog.Logger
}

// Loader is one run of the copy; Run until its context ends.
type Loader struct {
	cfg    Config
	conns  []driver.Conn
	suffix string
	loaded []map[string]uint64 // per shard, per table
	shard  map[string]int      // town → shard
	sets   *ruleSets           // rebuilt with loaded
	next   *prepared           // the batch read while the last one went in; nil with loaded
	// spare are the batches of the last batch that went in, emptied for
	// read to fill again: their columns keep their capacity, so a batch
	// does not regrow every column from nothing (a quarter of read's CPU).
	// Only read takes them and only step, once no read runs, puts them.
	spare []*batch
	// ahead are records a read's decoder had decoded past its full batch:
	// the feed right after aheadFrom, for the next read that starts there.
	ahead     []*decoded
	aheadFrom uint64
	ranges    rangePool // the decoders' batches of one range, for reuse
	holdRows  int       // merge holds a range's batch of this many rows or more (holdRows)
	tags      *tagger   // the ids of the queries that insert
	// beforeFence and afterFence, when set (tests), run inside a batch's
	// hold just before and after its fence is read.
	beforeFence, afterFence func()
	// trace, when set (the benchmark), is told where each step's wall
	// time went (trace.go); nil in production.
	trace *stepTrace
	// statsMu guards stats: Run writes it while /metrics and tests read
	// it with Stats from other goroutines, and a torn read (LastError's
	// string header half written) could crash the node.
	statsMu sync.Mutex
	stats   Stats // lag and state for /metrics, read with Stats
}

// Stats is what the loader has done, for metrics and status.
type Stats struct {
	LoadedIndex uint64 // every table holds all rows up to here
	Rows        uint64 // rows inserted by this loader
	Batches     uint64
	Failures    uint64 // failed attempts (ClickHouse down, ...)
	Undecodable uint64 // entries loaded without their typed row (payload unreadable)
	LastError   string
	// WaitedForOlder counts claims that found an older leader's loader
	// still inserting and waited for it.
	WaitedForOlder uint64
}

// New checks cfg.
func New(cfg Config) (*Loader, error) {
	if cfg.Source == nil || (cfg.Conn == nil) == (len(cfg.Shards) == 0) {
		return nil, errors.New("loader: Source and either Conn or Shards are required")
	}
	if len(cfg.Shards) > 0 && cfg.Cluster == "" {
		return nil, errors.New("loader: Cluster (the remote_servers name) is required with Shards")
	}
	if cfg.GCPercent < 0 && cfg.MemoryLimit <= 0 {
		return nil, errors.New("loader: MemoryLimit: required when GCPercent is negative (the collector off), or the heap grows without bound")
	}
	if cfg.MemoryLimit < 0 {
		return nil, errors.New("loader: MemoryLimit: negative; 0 leaves the process's limit alone")
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 400_000
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = runtime.GOMAXPROCS(0)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Base <= 0 {
		cfg.Base = 200 * time.Millisecond
	}
	if cfg.Max <= 0 {
		cfg.Max = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Loader{cfg: cfg, conns: []driver.Conn{cfg.Conn}, shard: map[string]int{}, tags: newTagger(cfg.Term), holdRows: holdRows}
	if len(cfg.Shards) > 0 {
		l.conns, l.suffix = cfg.Shards, schema.LocalSuffix
	}
	return l, nil
}

// Stats returns a consistent copy of the loader's counters; it is safe
// to call from any goroutine while Run runs.
func (l *Loader) Stats() Stats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	return l.stats
}

// record changes the counters under statsMu, so a concurrent Stats sees
// all of one change or none of it.
func (l *Loader) record(change func(s *Stats)) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	change(&l.stats)
}

// Run loads until ctx ends, retrying with backoff (and jitter) while
// ClickHouse fails; it returns ctx's error, or ErrFenced when a newer
// leader's loader has taken over.
func (l *Loader) Run(ctx context.Context) error {
	defer l.tuneGC()()
	failures := 0
	for {
		sctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		n, err := l.step(sctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrFenced) {
			l.record(func(s *Stats) { s.LastError = err.Error() })
			l.cfg.Logger.Warn("analytics loader stops: a newer leader's loader has taken over", "err", err)
			return err
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			l.record(func(s *Stats) {
				s.Failures++
				s.LastError = err.Error()
			})
			l.loaded = nil // re-read where each table got to once it answers again
			wait = retry.Backoff(failures, l.cfg.Base, l.cfg.Max, nil)
			l.cfg.Logger.Warn("analytics load failed; retrying", "err", err, "in", wait.Round(time.Millisecond), "failures", failures)
		case n == 0:
			failures = 0
			wait = l.cfg.Poll
		default:
			failures = 0
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// tuneGC sets the collector's percent and memory limit of cfg (see
// Config.GCPercent) and returns what puts the previous ones back.
func (l *Loader) tuneGC() (restore func()) {
	percent, limit := l.cfg.GCPercent, l.cfg.MemoryLimit
	var oldPercent int
	var oldLimit int64
	if limit > 0 {
		oldLimit = debug.SetMemoryLimit(limit)
	}
	if percent != 0 {
		oldPercent = debug.SetGCPercent(percent) // negative: off
	}
	return func() {
		if percent != 0 {
			debug.SetGCPercent(oldPercent)
		}
		if limit > 0 {
			debug.SetMemoryLimit(oldLimit)
		}
	}
}

// step loads one batch; it returns how many Raft indexes it covered.
func (l *Loader) step(ctx context.Context) (int, error) {
	if l.loaded == nil {
		if l.suffix == "" {
			if _, err := schema.Apply(ctx, l.cfg.Conn); err != nil {
				return 0, err
			}
		} else if err := schema.ApplyCluster(ctx, l.conns, l.cfg.Cluster); err != nil {
			return 0, err
		}
		if err := schema.WriteOrgs(ctx, l.conns[0], l.suffix, l.cfg.Orgs); err != nil {
			return 0, fmt.Errorf("write the org list: %w", err)
		}
		// Claim every shard before reading where its tables got to: an
		// older leader's batch still going in is waited for, and none
		// starts after.
		for i, c := range l.conns {
			if err := l.claim(ctx, c); err != nil {
				return 0, fmt.Errorf("shard %d: %w", i+1, err)
			}
		}
		var all []map[string]uint64
		for i, c := range l.conns {
			m, err := schema.LoadedThrough(ctx, c, l.suffix)
			if err != nil {
				return 0, fmt.Errorf("shard %d: %w", i+1, err)
			}
			all = append(all, m)
		}
		var sets []schema.RuleSetRow
		for i, c := range l.conns {
			rows, err := schema.ReadRuleSets(ctx, c, l.suffix)
			if err != nil {
				return 0, fmt.Errorf("shard %d: %w", i+1, err)
			}
			sets = append(sets, rows...)
		}
		slices.SortStableFunc(sets, func(a, b schema.RuleSetRow) int {
			return cmp.Or(cmp.Compare(a.RaftIndex, b.RaftIndex), cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Seq, b.Seq))
		})
		l.loaded, l.sets, l.next = all, newRuleSets(sets), nil
		low := l.low()
		l.record(func(s *Stats) { s.LoadedIndex = low })
		l.cfg.Logger.Info("analytics loader resumes", "after", low, "applied", l.cfg.Source.AppliedIndex())
	}
	// The next batch is read and decoded while this one goes in: the
	// loader's decoding and ClickHouse's inserting then share the two
	// cores instead of taking turns. Batches still go in one after the
	// other, in Raft order.
	from := l.low()
	p := l.next
	l.next = nil
	if p == nil || p.from != from {
		var err error
		t0 := time.Now()
		if p, err = l.read(ctx, from); err != nil {
			return 0, err
		}
		l.trace.aloneRead(time.Since(t0))
	}
	if p.indexes == 0 {
		return 0, nil
	}
	var next *prepared
	var nextErr error
	var readTime time.Duration
	read := make(chan struct{})
	t0 := time.Now()
	if p.full {
		go func() {
			defer close(read)
			next, nextErr = l.read(ctx, p.last)
			readTime = time.Since(t0)
		}()
	} else {
		close(read)
	}
	err := l.send(ctx, p)
	sendTime := time.Since(t0)
	<-read
	l.trace.step(readTime, sendTime, time.Since(t0))
	if err != nil {
		return 0, err
	}
	var rows, undecodable uint64
	for i, b := range p.batches {
		for _, t := range schema.FactTables {
			l.loaded[i][t] = p.last
		}
		rows += uint64(b.rows)
		undecodable += uint64(b.undecodable)
	}
	l.record(func(s *Stats) {
		s.Rows += rows
		s.Undecodable += undecodable
		s.LoadedIndex = p.last
		s.Batches++
	})
	if l.cfg.Loaded != nil {
		if err := l.cfg.Loaded(ctx, p.last); err != nil {
			l.cfg.Logger.Warn("record loaded index", "index", p.last, "err", err)
		}
	}
	for _, b := range p.batches {
		for _, h := range b.held {
			l.ranges.put(h)
		}
		clear(b.held)
		b.held = b.held[:0]
		b.reset()
	}
	l.spare = append(l.spare, p.batches...)
	l.next = next
	if nextErr != nil {
		// The failed read may have taken rule sets (ruleSets.take) that no
		// batch will insert: start again from what ClickHouse holds.
		l.loaded = nil
	}
	return p.indexes, nil
}

// prepared is a batch read from the feed and decoded, per shard, ready to
// insert.
type prepared struct {
	from    uint64 // read after this Raft index
	last    uint64 // through this one
	indexes int    // Raft indexes covered
	full    bool   // stopped at BatchRows: more may follow
	batches []*batch
}

// TODO(issue 17): at 4 M rows (BenchmarkLoaderVsClient, 2 cores shared
// with other work, load 5–9) the loader is still below clickhouse-client.
// Where its wall time went, per step (the benchmark's trace, trace.go, and
// the server's CPU by thread name, chserver.ThreadCPU), at the former
// 100,000-row batches: send is the whole critical path (read of the next
// batch took 3.2–4.0 s beside it and then waited 2.5–4.5 s for it; send
// never waited for read). Inside send, per 4 M rows: entries' and
// transactions' inserts 3.3–3.9 s each of wall (two at a time; their
// Send 1.1–1.5 µs/row), the three summary tables' inserts ~2.8 s (15–30 ms an insert of
// a few hundred rows: round trips and a part's files on a busy server),
// the hold (the progress row's prepare and the fence query) ~30 ms a
// batch, 1.0–1.3 s, the release 0.2–0.3 s. The server's insert threads
// (TCPHandler) used 1.6–2.6 s for the loader's rows against 2.2–3.1 s for
// the client's, and its merge threads (BackgrProcPool) 2.0–2.5 s more,
// merging ~7.5 M rows of the loader's 50,000-row parts: the merges were
// all of the server's extra CPU (~1.1–1.3 µs/row against ~0.6). The two
// processes get about one core between them in either window on this
// machine, so the wall ratio followed the CPU ratio (loader and server
// ~1.9 µs/row against the client's ~0.8).
// Done: BatchRows 400,000 by default (see Config.BatchRows; 200,000 did
// not help: merges 1.4–1.5 s, ratio 0.60–0.61 beside 100,000's 0.62–0.76
// in one run), and a held range gives its deferred list back once merged
// (decode.go: rangePool.shed). Interleaved A B A B A B against the former
// (load 3.7–5.7): ratio 0.77 (0.62–1.05) against 0.49 (0.46–0.71), loader
// 939 k rows/s (0.61–1.45 M) against 646 k (0.60–0.99 M), medians of 3;
// merges 2.4 M rows for 0.6–0.7 s; the server 0.55–0.61 µs/row (0.93–1.31
// before), as for the client's rows (0.55–0.60); 10 holds instead of 40;
// the loader's heap peak 476–480 MiB (157–175 before).
// Left, the loader's own CPU: 0.60–0.72 µs/row against the client's
// 0.20–0.26, now the whole of the gap. Its profile at 400,000 (one run,
// 2.3 s of samples): decoding 44 % (the FSM's RangeRaw in bbolt 17 %, the
// transactions' payload 15 %, the deferred summaries' appends 9 %),
// insert 38 % (the driver's Send 16 %, LZ4 6 %), the GC's marking 9 %,
// collect 7 %; runtime.asyncPreempt 12 % flat, as before: not understood. And the memory
// of the bigger batches: the rows are held as Go columns (two batches,
// one read while the other is sent), copied into the driver's columns,
// which encode the block into a buffer and compress it into another
// (heap profile at 400,000, 231 MiB live: the Go columns ~120 MiB, the
// driver ~95 MiB). Appending rows into the driver's columns as they are
// collected would drop one copy, but a batch's parts are held by
// reference from the decoders' ranges and put in key order at insert
// (inKeyOrder), and the driver's columns exist only inside an INSERT,
// opened after the hold: not done. Nor is opening the next batch's hold
// while this one's tables go in (the driver's batch keeps the context it
// was prepared with, which is the step's).
// Tried and not kept: the summary tables' inserts not taking turns with
// entries and transactions (the semaphore of batch.send): ratio 0.56
// (0.40–0.58) against 0.46 (0.46–0.54) at 100,000 rows, interleaved, inside
// the noise, and it opens more connections at once than the driver keeps
// idle. The entries' and transactions' string columns held
// as ids into each column's distinct strings, handed to the driver in
// reused chunks (no pointer a row): marking fell (0.12 → 0.10 µs/row) and
// the heap peak by ~40 MiB, but interning cost as much (strs.add ~0.05
// µs/row): 1.04 vs 1.06 µs/row, medians of 3, noise. Sizing the driver's
// string offsets by appending as many empty strings (the API's only way):
// the appends regrew them as before (0.84 vs 0.78 µs/row).
// Next: the summaries' deferred rows (ordered, ~130 bytes with pointers a
// transaction); the non-string columns still regrow part after part in
// the driver (growslice ~3 %); type_name as an ALIAS (nothing reads it:
// the server would not compute or store it), which breaks writers that
// name it.
// Not the driver's Flush within one INSERT: tried, 18.16 keeps the blocks
// flushed before an INSERT that is then abandoned (32,768 of 32,771 rows
// stayed), which would break a table's all-or-nothing batch.
//
// read reads and decodes the feed after from, up to BatchRows rows. It
// runs beside send (step): it writes only its own batches, the rule sets
// (in Raft order, after every batch before it was read), the town → shard
// cache and the records decoded ahead (l.ahead), none of which send reads;
// l.loaded is only read here and written by step after both have ended.
//
// The entries are read and decoded by a decoder (decode.go) on Decoders
// goroutines; collect takes them back in Raft order. What the decoder had
// decoded past a full batch is kept for the next read, which starts right
// after it.
func (l *Loader) read(ctx context.Context, from uint64) (*prepared, error) {
	p := &prepared{from: from, batches: make([]*batch, len(l.conns))}
	for i := range p.batches {
		if n := len(l.spare); n > 0 {
			p.batches[i], l.spare = l.spare[n-1], l.spare[:n-1]
			p.batches[i].sets = l.sets
			continue
		}
		p.batches[i] = newBatch(l.cfg.Source, l.sets)
	}
	rows := func() (n int) {
		for _, b := range p.batches {
			n += b.rows
		}
		return n
	}
	ahead := l.ahead
	if l.aheadFrom != from {
		ahead = nil
	}
	l.ahead, l.aheadFrom = nil, 0
	// The feed is read in short chunks, and everything else (each range's
	// entries, a reversal's target, the shard of a town, which asks
	// ClickHouse) happens after the chunk's read transaction has ended.
	// bbolt remaps the state file when a raft apply grows it, the remap
	// waits for every open read transaction, and a read transaction begun
	// while the remap waits queues behind it: a read inside a read would
	// have the loader and raft's FSM goroutine wait for each other for good
	// (no push acknowledged again, the member unable to stop). The
	// decoder's goroutines each hold one read transaction at a time, and
	// none is held while waiting for another goroutine.
	var d *decoder
	defer func() {
		if d != nil {
			d.stop()
		}
	}()
	after := from
	for !p.full {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var r *decoded
		if len(ahead) > 0 {
			r, ahead = ahead[0], ahead[1:]
		} else {
			if d == nil {
				d = startDecoder(ctx, l.cfg.Source, &l.ranges, after, l.cfg.Decoders)
			}
			var ok bool
			t0 := time.Now()
			r, ok = d.next()
			l.trace.add("read: wait for decoders", 0, time.Since(t0))
			if !ok {
				break
			}
		}
		if r.err != nil {
			if r.index == 0 {
				return nil, r.err
			}
			return nil, fmt.Errorf("read raft index %d: %w", r.index, r.err)
		}
		t0 := time.Now()
		if err := l.collect(ctx, p.batches, r); err != nil {
			return nil, fmt.Errorf("read raft index %d: %w", r.index, err)
		}
		l.trace.add("read: collect", 0, time.Since(t0))
		after = r.index
		p.last = r.index
		p.indexes++
		if rows() >= l.cfg.BatchRows {
			p.full = true
		}
	}
	if p.full {
		if d != nil {
			ahead = append(ahead, d.stop()...)
			d = nil
		}
		l.ahead, l.aheadFrom = ahead, p.last
	}
	return p, nil
}

// send inserts a prepared batch into every shard at once, one writer per
// shard: each shard has its own hold and progress row (fence.go), so a
// shard that fails is resumed on its own by the next step, as it was when
// the shards went in one after the other.
func (l *Loader) send(ctx context.Context, p *prepared) error {
	if len(p.batches) == 1 {
		if err := l.sendHeld(ctx, 0, p.batches[0], p.last); err != nil {
			return fmt.Errorf("shard 1: %w", err)
		}
		return nil
	}
	errs := make([]error, len(p.batches))
	var wg sync.WaitGroup
	for i, b := range p.batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.sendHeld(ctx, i, b, p.last); err != nil {
				errs[i] = fmt.Errorf("shard %d: %w", i+1, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sendHeld inserts shard i's batch inside a hold (fence.go) that ends with
// its progress row at last.
func (l *Loader) sendHeld(ctx context.Context, i int, b *batch, last uint64) error {
	t0 := time.Now()
	h, err := l.hold(ctx, l.conns[i])
	if err != nil {
		return err
	}
	l.trace.add("hold", 0, time.Since(t0))
	if l.afterFence != nil {
		l.afterFence()
	}
	if err := b.send(ctx, l.conns[i], l.suffix, l.tags, l.trace); err != nil {
		h.Abort()
		return err
	}
	t0 = time.Now()
	err = l.release(h, last)
	l.trace.add("release", 0, time.Since(t0))
	return err
}

// feedChunk is how many feed records one read transaction takes.
const feedChunk = 256

// collect adds the entries Raft index r.index added (decoded by a
// decoder) to their shards' batches. Adding may read the Source again (a
// reversal's target), never inside another read.
func (l *Loader) collect(ctx context.Context, batches []*batch, r *decoded) error {
	if f := r.rec.GetFork(); f != nil {
		sh, err := l.shardOf(ctx, f.GetOrigin())
		if err != nil {
			return err
		}
		batches[sh].addFork(r.index, f, l.loaded[sh])
	}
	for i, rg := range r.rec.GetRanges() {
		sh, err := l.shardOf(ctx, rg.GetOrigin())
		if err != nil {
			return err
		}
		if batches[sh].merge(r.index, l.loaded[sh], r.ranges[i], l.holdRows) {
			l.ranges.shed(r.ranges[i])
		} else {
			l.ranges.put(r.ranges[i])
		}
		r.ranges[i] = nil
	}
	return nil
}

// low is the index every table of every shard has loaded through.
func (l *Loader) low() uint64 {
	low := ^uint64(0)
	for _, m := range l.loaded {
		for _, t := range schema.FactTables {
			low = min(low, m[t])
		}
	}
	return low
}

// shardOf is the shard of origin's town: cityHash64(town) modulo the shard
// count, computed by ClickHouse itself (once per town) so it matches the
// Distributed tables' sharding key.
func (l *Loader) shardOf(ctx context.Context, origin string) (int, error) {
	if len(l.conns) == 1 {
		return 0, nil
	}
	_, town := orgParts(origin)
	if sh, ok := l.shard[town]; ok {
		return sh, nil
	}
	var h uint64
	if err := l.conns[0].QueryRow(ctx, "SELECT cityHash64(?)", town).Scan(&h); err != nil {
		return 0, fmt.Errorf("shard of town %s: %w", town, err)
	}
	sh := int(h % uint64(len(l.conns)))
	l.shard[town] = sh
	return sh, nil
}

// batch collects rows per table, skipping, per table, raft indexes it
// already holds (a batch that failed half-way through its tables).
type batch struct {
	sums        summaries
	rows        int
	undecodable int // entries whose payload could not be read into a typed row
	tables      map[string]*table
	// sets are the rule sets in force, shared by the batches of a step.
	sets *ruleSets
	// lookup reads an earlier entry (the transaction a reversal cancels).
	lookup func(origin string, seq uint64) (*ledger.Stored, error)
	// deferred, when set (a decoder's batch of one range, decode.go),
	// receives in entry order what depends on Raft order (a transaction's
	// summaries, a rule-set entry) instead of it being done here; collect
	// does it when it merges the range (batch.merge).
	deferred *[]ordered
	// cache, when set (a decoder's batch), is its goroutine's (txwire.go).
	cache *cache
	// held are the ranges' batches whose tables b's hold (merge), given
	// back to the decoders' pool once b has been sent.
	held []*batch
}

func newBatch(src Source, sets *ruleSets) *batch {
	return &batch{sums: newSummaries(), tables: map[string]*table{}, sets: sets, lookup: func(origin string, seq uint64) (*ledger.Stored, error) {
		var out *ledger.Stored
		err := src.Range(origin, seq, 1, func(s *ledger.Stored) bool { out = s; return false })
		if err == nil && (out == nil || out.Seq != seq) {
			err = fmt.Errorf("entry %s not in the district's chains", ledger.EntryID(origin, seq))
		}
		return out, err
	}}
}

// reset empties b for another batch, keeping its columns' capacity.
func (b *batch) reset() {
	b.rows, b.undecodable = 0, 0
	clear(b.sums.monthly)
	clear(b.sums.digits)
	clear(b.sums.parties)
	for _, t := range b.tables {
		t.reset()
	}
}

// columns are the insert column lists, in the order rows are built. The
// entries and transactions rows leave out district and town, which the
// server computes from origin (schema migration 10), and type_name, kind
// and payment_method, which it names from the enum numbers the rows carry
// (migration 11): five fewer string columns, the longest of the rows, for
// the driver to copy and encode, on the tables nearly every row goes to.
var columns = map[string]string{
	"entries":           "raft_index, origin, seq, type, recorded_at, author, subject",
	"transactions":      "raft_index, origin, seq, kind_number, sign, amount_fen, payment_method_number, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at",
	"alerts":            "raft_index, origin, seq, district, town, rule_code, severity, rule_set_version, subject, alert_key, recorded_at, subject_origin, tamper_kind",
	"cards":             "raft_index, origin, seq, district, town, level, procedure_id, matter_code, step_code, post, person, deadline, recorded_at",
	"contracts":         "raft_index, origin, seq, district, town, kind, contract_number, counterparty, object_kind, area_mu, term_start, term_end, annual_amount_fen, award_method, recorded_at",
	"payments":          "raft_index, origin, seq, district, town, contract_id, amount_fen, payment_method, business_date, month, recorded_at",
	"assets":            "raft_index, origin, seq, district, town, event, asset_id, asset_code, category, value_fen, method, recorded_at",
	"procedures":        "raft_index, origin, seq, district, town, matter_code, subject, amount_fen, period, opened_at",
	"monthly":           "raft_index, district, town, origin, month, kind, payment_method, amount_fen, transactions",
	"expense_digits":    "raft_index, district, town, origin, month, digit, n, round, just_under",
	"expense_parties":   "raft_index, district, town, origin, month, counterparty, amount_fen",
	"steps":             "raft_index, origin, seq, district, town, procedure_id, step_code, post, action, closes, opened_at, deadline, decided_at, author",
	"alert_transitions": "raft_index, origin, seq, district, town, alert_id, status, reason, at, author",
	"rule_sets":         "raft_index, origin, seq, district, town, version, state, sha256, effective_at, rule_codes, threshold_fen",
	"complaints":        "raft_index, origin, seq, district, town, village, number, category, posts, photos, filed_at",
	"voucher_lines":     "raft_index, origin, seq, line, district, town, org, business_date, month, number, account, national, debit_fen, credit_fen, opening, carry_forward, reverses, recorded_at",
}

// put adds a row to table name unless the table has loaded index already.
// row must not be kept (table.add copies it into typed columns), so the
// compiler leaves it and its boxed values on the caller's stack.
func (b *batch) put(name string, index uint64, loaded map[string]uint64, row ...any) {
	if index <= loaded[name] {
		return
	}
	b.table(name).add(index, row)
	b.rows++
}

// table is the batch's table name, made on first use.
func (b *batch) table(name string) *table {
	t := b.tables[name]
	if t == nil {
		t = &table{}
		b.tables[name] = t
	}
	return t
}

// add adds entry s, loaded at Raft index index, whose payload decoded to
// m (or failed with err: see decode).
func (b *batch) add(index uint64, s *ledger.Stored, m proto.Message, err error, loaded map[string]uint64) error {
	district, town := orgParts(s.Origin)
	at := s.RecordedAt.UTC()
	b.addEntry(index, s, at, loaded)
	if err != nil || m == nil {
		// The chain holds it (signed and verified), so it is counted in
		// entries; a payload no reader here understands must not wedge the
		// loader, so its typed row is left out.
		b.undecodable++
		return nil
	}
	switch m := m.(type) {
	case *sanziv1.Transaction:
		tx := txRowOf(m)
		b.addTx(index, s, at, 1, &tx, at, loaded)
	case *sanziv1.Reversal:
		// A reversed transaction stays in the table; the reversal adds its
		// negative copy, so plain sums are right with no join.
		o, seq, err := ledger.ParseEntryID(m.GetTargetId())
		if err != nil {
			return nil
		}
		target, err := b.lookup(o, seq)
		if err != nil {
			b.undecodable++
			return nil
		}
		tm, err := decode(target)
		if t, ok := tm.(*sanziv1.Transaction); ok && err == nil {
			tx := txRowOf(t)
			b.addTx(index, s, at, -1, &tx, target.RecordedAt.UTC(), loaded)
		}
	case *sanziv1.Alert:
		about, kind := finding(s, m)
		b.put("alerts", index, loaded, s.Origin, s.Seq, district, town, m.GetRuleCode(), m.GetSeverity(), m.GetRuleSetVersion(), s.Subject, m.GetKey(), at, about, kind)
	case *sanziv1.Card:
		b.put("cards", index, loaded, s.Origin, s.Seq, district, town, m.GetLevel().String(), m.GetProcedureId(), m.GetMatterCode(),
			m.GetStepCode(), m.GetPost(), m.GetPerson(), m.GetDeadline().AsTime().UTC(), at)
	case *sanziv1.Contract:
		start, _ := businessDate(m.GetTermStart(), at)
		end, _ := businessDate(m.GetTermEnd(), at)
		b.put("contracts", index, loaded, s.Origin, s.Seq, district, town, m.GetKind().String(), m.GetContractNumber(), m.GetCounterparty().GetName(),
			m.GetObject().GetKind().String(), m.GetObject().GetAreaMu(), start, end, m.GetAnnualAmountFen(), m.GetAwardMethod().String(), at)
	case *sanziv1.ContractPayment:
		date, month := businessDate(m.GetBusinessDate(), at)
		b.put("payments", index, loaded, s.Origin, s.Seq, district, town, m.GetContractId(), m.GetAmountFen(), m.GetPaymentMethod().String(), date, month, at)
	case *sanziv1.AssetRegistration:
		b.put("assets", index, loaded, s.Origin, s.Seq, district, town, "registration", s.ID(), m.GetAssetCode(), m.GetCategory(), m.GetOriginalValueFen(), "", at)
	case *sanziv1.AssetAppraisal:
		b.put("assets", index, loaded, s.Origin, s.Seq, district, town, "appraisal", m.GetAssetId(), "", "", m.GetAppraisedValueFen(), "", at)
	case *sanziv1.AssetDisposal:
		b.put("assets", index, loaded, s.Origin, s.Seq, district, town, "disposal", m.GetAssetId(), "", "", m.GetPriceFen(), m.GetMethod().String(), at)
	case *sanziv1.Procedure:
		b.put("procedures", index, loaded, s.Origin, s.Seq, district, town, m.GetMatterCode(), cmp.Or(m.GetSubjectId(), s.Subject), m.GetAmountFen(), m.GetPeriod(), at)
	case *sanziv1.StepDecision:
		opened, deadline := at, at
		if m.GetStepOpenedAt() != nil {
			opened, deadline = m.GetStepOpenedAt().AsTime().UTC(), m.GetStepDeadline().AsTime().UTC()
		}
		var closes uint8
		if m.GetCloses() {
			closes = 1
		}
		b.put("steps", index, loaded, s.Origin, s.Seq, district, town, m.GetProcedureId(), m.GetStepCode(), m.GetPost(), m.GetAction().String(), closes,
			opened, deadline, at, s.Author)
	case *sanziv1.Complaint:
		// A villager's complaint in the district's chain: counted on the
		// village it is about (and its posts), not on the district.
		if len(m.GetVillage()) == 12 && strings.HasSuffix(s.Origin, "000000") {
			vd, vt := orgParts(m.GetVillage())
			b.put("complaints", index, loaded, s.Origin, s.Seq, vd, vt, m.GetVillage(), m.GetNumber(), m.GetCategory(), nonNil(m.GetPosts()),
				uint8(min(len(m.GetPhotos()), 255)), at)
		}
	case *sanziv1.Voucher:
		v := voucherRowOf(m)
		b.addVoucher(index, s, &v, loaded)
	case *sanziv1.AlertTransition:
		b.put("alert_transitions", index, loaded, s.Origin, s.Seq, district, town, m.GetAlertId(), m.GetStatus().String(), m.GetReason(), at, s.Author)
	case *sanziv1.RuleSetVersion:
		b.ruleSet(index, loaded, s, m)
	}
	// TODO(issue 6): directives (they arrive with sync, issue 4) and org
	// names (the district's org list).
	return nil
}

// national is the national account an account code rolls up to: its
// first three digits (node/chart: a sub-account extends its parent's code).
func national(account string) string { return account[:min(3, len(account))] }

// addFork adds a TAMPER finding the district recorded (a fork, or an entry
// failing verification: ForkRecord.kind) as an alert of rule TAMPER raised
// by the district itself (origin: the district's code; seq: the Raft index,
// unique), in the forked origin's town, so the town's view counts it where
// it happened, and with subject_origin the forked origin, so the risk index
// counts it on that village's row. Its key is the town's key for the same
// finding (TAMPER/origin/seq/sent hash), so one finding is one however many
// parents recorded it.
func (b *batch) addFork(index uint64, f *sanziv1.ForkRecord, loaded map[string]uint64) {
	district, town := orgParts(f.GetOrigin())
	at := f.GetAt().AsTime().UTC()
	b.put("alerts", index, loaded, district+"000000", index, district, town, "TAMPER", string(rules.SeverityRed), "district",
		ledger.EntryID(f.GetOrigin(), f.GetSeq()), fmt.Sprintf("TAMPER/%s/%d/%s", f.GetOrigin(), f.GetSeq(), f.GetSentHash()), at,
		f.GetOrigin(), f.GetKind().String())
}

// finding says whether alert m in s's chain is a TAMPER finding about
// another org's chain (a town's record of a village entry it refused, see
// books.RecordRefusedEntry and RecordTamper): then the org it is about and
// what failed, from the alert's evidence (no "failure" is a fork). An org's
// TAMPER alerts about its own chain (its watch, a repair) are not findings.
func finding(s *ledger.Stored, m *sanziv1.Alert) (about, kind string) {
	if m.GetRuleCode() != "TAMPER" {
		return "", ""
	}
	o, _, err := ledger.ParseEntryID(s.Subject)
	if err != nil || o == s.Origin {
		return "", ""
	}
	k := sanziv1.TamperKind_TAMPER_KIND_UNSPECIFIED
	if f := m.GetEvidence()["failure"]; f != "" {
		if _, tk, ok := relay.Tampered(&ledger.VerifyError{Failure: ledger.Failure(f)}); ok {
			k = tk
		}
	}
	return o, k.String()
}

func (b *batch) send(ctx context.Context, conn driver.Conn, suffix string, tags *tagger, trace *stepTrace) error {
	t0 := time.Now()
	b.sums.rows(b)
	trace.add("summaries", 0, time.Since(t0))
	// The tables go in parallel (two at a time: this machine has two cores
	// and ClickHouse wants one); each is still one block, all or nothing.
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(schema.FactTables))
	var wg sync.WaitGroup
	for _, t := range schema.FactTables {
		rows := b.tables[t]
		if rows == nil || rows.rows() == 0 && rows.err == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- insert(tags.tag(ctx), conn, t, suffix, rows, trace)
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// orgParts are the district (6 digits) and town (9 digits) of an org code.
// nonNil is a list for an Array column: never nil (the driver's batch
// takes an empty list, not a missing one).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orgParts(origin string) (string, string) {
	if len(origin) < 9 {
		return origin, origin
	}
	return origin[:6], origin[:9]
}

func kindName(k sanziv1.TransactionKind) string {
	switch k {
	case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME:
		return "income"
	case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
		return "expense"
	case sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
		return "transfer"
	case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
		return "loan_out"
	case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
		return "loan_in"
	}
	return "unknown"
}

// businessDate is the row's date (UTC midnight, see CLICKHOUSE.md trap 5)
// and month (YYYYMM); the recording day when the date does not parse.
func businessDate(s string, recorded time.Time) (time.Time, uint32) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		d = time.Date(recorded.Year(), recorded.Month(), recorded.Day(), 0, 0, 0, 0, time.UTC)
	}
	return d, uint32(d.Year()*100 + int(d.Month()))
}
