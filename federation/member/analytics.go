package member

import (
	"context"
	"sync"
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
	m      *Member
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	loaded time.Time // when the loaded index was last recorded through Raft
}

func (m *Member) startAnalytics(ctx context.Context) {
	a := &analytics{m: m}
	f := m.node.FSM()
	m.node.Registry().MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_analytics_lag_raft_entries",
			Help: "Raft entries applied on this member but not yet loaded into ClickHouse by the leader's loader."},
			func() float64 { return float64(f.AppliedIndex() - min(f.LoadedIndex(), f.AppliedIndex())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_analytics_loaded_raft_index",
			Help: "Raft index the analytics loader has loaded through (replicated through Raft)."},
			func() float64 { return float64(f.LoadedIndex()) }),
	)
	leadership := m.node.SubscribeLeadership()
	go func() {
		for {
			select {
			case <-ctx.Done():
				a.stop()
				return
			case leader := <-leadership:
				if leader {
					a.start()
				} else {
					a.stop()
				}
			}
		}
	}()
	if m.node.IsLeader() {
		a.start()
	}
	m.analytics = a
}

func (a *analytics) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
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
		lc := loader.Config{Source: a.m.node.FSM(), Conn: conns[0]}
		if cfg.ClickHouse == "" {
			lc = loader.Config{Source: a.m.node.FSM(), Shards: conns, Cluster: cfg.ClickHouseCluster}
		}
		lc.Logger = a.m.log.With("subsystem", "loader")
		lc.Orgs = cfg.Orgs
		lc.Loaded = func(ctx context.Context, index uint64) error {
			if time.Since(a.loaded) < time.Second {
				return nil // bound the Raft traffic; ClickHouse itself is the truth on resume
			}
			a.loaded = time.Now()
			return a.m.node.SetLoaded(index)
		}
		l, err := loader.New(lc)
		if err != nil {
			a.m.log.Error("analytics loader", "err", err)
			return
		}
		a.m.log.Info("analytics loader started (this member leads)", "clickhouse", addrs)
		l.Run(ctx)
		a.m.log.Info("analytics loader stopped")
	}(a.done)
}

func (a *analytics) stop() {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.cancel, a.done = nil, nil
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
