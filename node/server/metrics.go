package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
)

// metrics are the node's Prometheus series, registered on the node's own
// registry (never the global one).
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics registers the node's series; sanzi_node_info names the tier
// and org the node runs as (a label on one series, so every other series
// keeps its name and labels whatever the tier).
func newMetrics(reg *prometheus.Registry, l *ledger.Ledger, tier idcode.Level, org string) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sanzi_rpc_requests_total", Help: "API calls by method and gRPC code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sanzi_rpc_duration_seconds", Help: "API call latency by method.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5},
		}, []string{"method"}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sanzi_node_info", Help: "Always 1: the tier (village or town) and org code this node runs as."}, []string{"tier", "org"})
	info.WithLabelValues(string(tier), org).Set(1)
	reg.MustRegister(m.requests, m.latency, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_ledger_entries_appended_total", Help: "Entries appended since start."},
			func() float64 { return float64(l.Stats().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_ledger_commits_total", Help: "Ledger transactions (fsyncs) since start; entries/commits is the group-commit factor."},
			func() float64 { return float64(l.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_ledger_refused_total", Help: "Appends refused inside the write transaction (missing reference, conflict)."},
			func() float64 { return float64(l.Stats().Refused) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_ledger_broken_chains", Help: "Chains that failed verification and refuse writes."},
			func() float64 { return float64(len(l.Broken())) }),
		headCollector{l: l, desc: prometheus.NewDesc("sanzi_ledger_head_seq", "Newest seq of each origin's chain.", []string{"origin"}, nil)},
	)
	return m
}

// registerAttachmentMetrics reports what attachment sweeps removed.
func registerAttachmentMetrics(reg *prometheus.Registry, att *attach.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_attachments_expired_total", Help: "Attachments no entry named, removed after their TTL since start."},
			func() float64 { n, _ := att.Expired(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_attachments_expired_bytes_total", Help: "Bytes of expired attachments removed since start."},
			func() float64 { _, b := att.Expired(); return float64(b) }),
	)
}

// headCollector reports each chain's head as it is at scrape time.
type headCollector struct {
	l    *ledger.Ledger
	desc *prometheus.Desc
}

func (c headCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c headCollector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range c.l.Origins() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.l.Head(o).Seq), o)
	}
}

func (m *metrics) observe(log *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	switch code {
	case codes.OK:
	case codes.Internal, codes.DataLoss, codes.Unknown:
		log.Error("request failed", "method", method, "code", code.String(), "err", err)
	default:
		log.Debug("request refused", "method", method, "code", code.String(), "err", err)
	}
}

func (m *metrics) unary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		m.observe(log, info.FullMethod, start, err)
		return resp, err
	}
}

func (m *metrics) stream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		m.observe(log, info.FullMethod, start, err)
		return err
	}
}
