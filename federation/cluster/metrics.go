package cluster

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sanzi/sanzi/federation/fsm"
)

// metrics are the member's Prometheus series, on the member's own registry.
type metrics struct {
	reg              *prometheus.Registry
	leaderChanges    prometheus.Counter
	saturated        prometheus.Counter
	forwardErrors    prometheus.Counter
	entriesCommitted prometheus.Counter
	forks            prometheus.Counter
	// tampers counts pushed entries refused because they do not verify,
	// by failure (hash, signature, link, seq).
	tampers         *prometheus.CounterVec
	applySeconds    prometheus.Histogram
	verifySeconds   prometheus.Histogram
	batchEntries    prometheus.Histogram
	batchBytes      prometheus.Histogram
	snapshotSeconds prometheus.Histogram
	// attachmentsExpired counts attachments removed by expiries this
	// member proposed as leader.
	attachmentsExpired prometheus.Counter
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		reg:              prometheus.NewRegistry(),
		leaderChanges:    prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_leadership_changes_total", Help: "Times this member gained or lost leadership."}),
		saturated:        prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_push_saturated_total", Help: "Pushes refused because the proposal queue was full."}),
		forwardErrors:    prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_forward_errors_total", Help: "Requests this member failed to forward to the leader."}),
		entriesCommitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_entries_committed_total", Help: "New entries committed and applied through this member as leader."}),
		forks: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_forks_refused_total",
			Help: "Pushes refused because an entry differed from the one the district holds at its seq (TAMPER)."}),
		tampers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanzi_district_tamper_refused_total",
			Help: "Pushed entries refused because they do not verify (TAMPER), by the check that failed."}, []string{"failure"}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sanzi_district_apply_seconds", Help: "Time from proposing a batch to its apply on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		verifySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sanzi_district_verify_seconds", Help: "Time to verify one push before proposing.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sanzi_district_batch_entries", Help: "Entries per Raft log entry (pushes coalesced).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16)}),
		batchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sanzi_district_batch_bytes", Help: "Bytes per Raft log entry.",
			Buckets: prometheus.ExponentialBuckets(256, 2, 16)}),
		snapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sanzi_district_snapshot_seconds", Help: "Time to write one FSM snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		attachmentsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_district_attachments_expired_total",
			Help: "Attachments no entry named, removed after their TTL by expiries this member proposed as leader."}),
	}
	stat := func(key string) func() float64 {
		return func() float64 {
			v, _ := strconv.ParseFloat(n.raft.Stats()[key], 64)
			return v
		}
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(m.leaderChanges, m.saturated, m.forwardErrors, m.entriesCommitted, m.forks, m.tampers, m.applySeconds, m.verifySeconds, m.batchEntries, m.batchBytes, m.snapshotSeconds, m.attachmentsExpired,
		gauge("sanzi_raft_state", "0 follower, 1 candidate, 2 leader, 3 shutdown.", func() float64 { return float64(n.raft.State()) }),
		gauge("sanzi_raft_term", "Current Raft term.", stat("term")),
		gauge("sanzi_raft_commit_index", "Raft commit index.", stat("commit_index")),
		gauge("sanzi_raft_applied_index", "Raft applied index.", stat("applied_index")),
		gauge("sanzi_raft_last_log_index", "Last Raft log index.", stat("last_log_index")),
		gauge("sanzi_raft_last_snapshot_index", "Index of the newest snapshot.", stat("last_snapshot_index")),
		gauge("sanzi_district_fsm_applied_index", "Raft index the FSM state file holds.", func() float64 { return float64(n.fsm.AppliedIndex()) }),
		gauge("sanzi_district_origins", "Origins with entries in the state.", func() float64 { return float64(len(n.fsm.Heads())) }),
		gauge("sanzi_raft_handshakes_pending", "Incoming Raft TLS handshakes in progress.", func() float64 { return float64(n.layer.Stats().Pending) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_raft_handshakes_dropped_total",
			Help: "Incoming Raft connections closed at once because too many handshakes were pending."}, func() float64 { return float64(n.layer.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_raft_handshakes_failed_total",
			Help: "Incoming Raft connections that failed or timed out in the TLS handshake."}, func() float64 { return float64(n.layer.Stats().Failed) }),
	)
	return m
}

// Registry is the member's metrics registry, served at /metrics.
func (n *Node) Registry() *prometheus.Registry { return n.met.reg }

// timedFSM times snapshot writes; everything else is the FSM's own
// (including ApplyBatch, so raft still sees a BatchingFSM).
type timedFSM struct {
	*fsm.FSM
	met *metrics
}

func (t timedFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := t.FSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return timedSnapshot{FSMSnapshot: s, met: t.met}, nil
}

type timedSnapshot struct {
	raft.FSMSnapshot
	met *metrics
}

func (t timedSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	err := t.FSMSnapshot.Persist(sink)
	t.met.snapshotSeconds.Observe(time.Since(start).Seconds())
	return err
}
