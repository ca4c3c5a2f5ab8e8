package member

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sanzi/sanzi/analytics/loader"
)

// analytics runs the ClickHouse loader while this member leads: it starts
// on raft's leadership notification and stops when leadership is lost, so
// exactly one loader runs in a healthy cluster. Every member shows the lag
// (applied minus loaded, the loaded index being replicated through Raft).
type analytics struct {
	m *Member
	// run is one loader run until its context ends (a.load; tests replace
	// it).
	run func(ctx context.Context)
	// wait bounds how long stop waits for a run to return (stopWait).
	wait time.Duration
	// what names the work in logs (default "analytics loader"): the TAMPER
	// notifier is leader-only work started and stopped the same way.
	what string
	quit chan struct{} // closed by shutdown: the leadership watch ends

	mu     sync.Mutex
	cancel context.CancelFunc // ends the current run; nil when none runs
	done   chan struct{}      // closed when the newest run has returned; nil before the first
	closed bool               // shut down: no run starts again
	loaded time.Time          // when the loaded index was last recorded through Raft (the run's goroutine only)
	// latest is the index the loader's last batch went through, recorded
	// or not (the cockpit's stream tells browsers of it: stream.go).
	latest atomic.Uint64
}

// stopWait is how long stopping the loader may take before the member goes
// on without it. The loader's ClickHouse calls and Raft applies all take
// its context, but the ClickHouse driver only honours a deadline while
// blocked in a socket read, not a cancellation: a member asked to stop must
// not wait for that (the caller of Stop gives up after 15 s).
const stopWait = 5 * time.Second

func (m *Member) startAnalytics(ctx context.Context) {
	a := newLeaderWork(m, "analytics loader", nil)
	a.run = a.load
	f := m.node.FSM()
	m.node.Registry().MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_analytics_lag_raft_entries",
			Help: "Raft entries applied on this member but not yet loaded into ClickHouse by the leader's loader."},
			func() float64 { return float64(f.AppliedIndex() - min(f.LoadedIndex(), f.AppliedIndex())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_analytics_loaded_raft_index",
			Help: "Raft index the analytics loader has loaded through (replicated through Raft)."},
			func() float64 { return float64(f.LoadedIndex()) }),
	)
	a.follow(ctx)
	m.analytics = a
}

// newLeaderWork is leader-only work named what, each run being run until
// its context ends; follow starts it.
func newLeaderWork(m *Member, what string, run func(ctx context.Context)) *analytics {
	return &analytics{m: m, wait: stopWait, what: what, run: run, quit: make(chan struct{})}
}

// follow runs the work while this member leads, from now until ctx ends or
// shutdown.
func (a *analytics) follow(ctx context.Context) {
	leadership := a.m.node.SubscribeLeadership()
	if a.m.node.IsLeader() {
		a.start()
	}
	go a.watch(ctx, leadership)
}

// watch starts and stops the loader as leadership comes and goes, until ctx
// ends or the member shuts down. A true while a loader runs means
// leadership was lost and regained in between (SubscribeLeadership keeps
// only the newest value): another leader's loader may have loaded
// meanwhile, so the run restarts and reads ClickHouse's progress again.
func (a *analytics) watch(ctx context.Context, leadership <-chan bool) {
	for {
		select {
		case <-ctx.Done():
			a.stop()
			return
		case <-a.quit:
			return
		case leader := <-leadership:
			a.stop()
			if leader {
				a.start()
			}
		}
	}
}

// start begins a loader run unless one runs or the member shut down.
func (a *analytics) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	prev, done := a.done, make(chan struct{})
	a.cancel, a.done = cancel, done
	go func() {
		defer close(done)
		// A run that stop gave up waiting for may still be returning; two
		// loaders at once would insert the same batch twice.
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				return
			}
		}
		a.run(ctx)
	}()
}

// stop ends the current run and waits for it, at most a.wait. Every
// caller waits for the same run: the leadership watch (ctx ended) and
// Member.Stop may stop at the same time, and the one that does not cancel
// must not go on to shut raft down under a loader still running.
func (a *analytics) stop() {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.cancel = nil
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(a.wait):
		a.m.log.Error(cmp.Or(a.what, "analytics loader")+" did not stop in time; going on without waiting for it", "waited", a.wait)
	}
}

// shutdown stops the loader for good (Member.Stop).
func (a *analytics) shutdown() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.quit)
	}
	a.mu.Unlock()
	a.stop()
}

// load is one loader run: it connects to ClickHouse and loads until ctx
// ends.
func (a *analytics) load(ctx context.Context) {
	cfg := a.m.cfg
	addrs := cfg.ClickHouseShards
	if cfg.ClickHouse != "" {
		addrs = []string{cfg.ClickHouse}
	}
	var conns []driver.Conn
	for _, addr := range addrs {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second,
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4}})
		if err != nil {
			a.m.log.Error("analytics: ClickHouse options", "addr", addr, "err", err)
			return
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	// The loader's fence (analytics/loader/fence.go) is keyed by the term
	// of this leadership: an older leader's loader still running is shut
	// out, and this one is when a newer leader's starts.
	term, ok := a.m.node.LeaderTerm()
	if !ok {
		a.m.log.Info("analytics loader not started: this member no longer leads")
		return
	}
	lc := loader.Config{Source: a.m.node.FSM(), Conn: conns[0]}
	if cfg.ClickHouse == "" {
		lc = loader.Config{Source: a.m.node.FSM(), Shards: conns, Cluster: cfg.ClickHouseCluster}
	}
	lc.Term = term
	lc.Logger = a.m.log.With("subsystem", "loader")
	lc.Orgs = cfg.Orgs
	lc.Loaded = func(ctx context.Context, index uint64) error {
		a.latest.Store(index)
		if time.Since(a.loaded) < time.Second {
			return nil // bound the Raft traffic; ClickHouse itself is the truth on resume
		}
		a.loaded = time.Now()
		if err := a.m.node.SetLoaded(ctx, index); err != nil {
			return fmt.Errorf("record loaded index %d through raft: %w", index, err)
		}
		return nil
	}
	l, err := loader.New(lc)
	if err != nil {
		a.m.log.Error("analytics loader", "err", err)
		return
	}
	a.m.log.Info("analytics loader started (this member leads)", "clickhouse", addrs, "term", term)
	l.Run(ctx)
	a.m.log.Info("analytics loader stopped")
}
