package member

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/rest"
)

// The cockpit's refresh (issue 14): GET /v1/stats/stream is a stream of
// server-sent events telling a signed-in browser (read_stats) that the
// statistics may have changed, so that the wall display fetches /v1/stats/*
// again without a reload. Each event is
//
//	event: version
//	data: {"version":"<n>","scope":"<org>","at":"<RFC 3339>"}
//
// version being how far the analytics loader has loaded (a Raft index: it
// grows when new rows reached ClickHouse). An event is sent at once, when
// the version grows (looked at every streamPoll), and at least every
// streamBeat as a heartbeat with the current version. The event carries no
// figure, only the version and the caller's own scope; the figures come
// from the scoped AnalyticsService routes. A stream ends after streamMax
// (EventSource reconnects), and at most maxStreams are open at once.
const (
	streamPoll = 500 * time.Millisecond
	streamBeat = 15 * time.Second
	streamMax  = 30 * time.Minute
	maxStreams = 64
)

// streams counts the open streams of a member.
type streams struct{ open atomic.Int64 }

// statsVersion is how far the statistics go: the loaded index replicated
// through Raft, or, on the leader, the loader's last batch (recorded
// through Raft at most once a second, see analytics.load).
func (m *Member) statsVersion() uint64 {
	v := m.node.FSM().LoadedIndex()
	if a := m.analytics; a != nil {
		v = max(v, a.latest.Load())
	}
	return v
}

// statsStream serves GET /v1/stats/stream.
func (m *Member) statsStream(w http.ResponseWriter, r *http.Request) {
	p, ok := m.person(w, r, authz.PermReadStats)
	if !ok {
		return
	}
	if parent := r.URL.Query().Get("parent"); parent != "" && (len(parent) > 12 || !p.Covers(parent+strings.Repeat("0", 12-len(parent)))) {
		rest.WriteError(w, r, api.Status(fmt.Errorf("account %s may not read the statistics of %s: %w", p.Account, parent, authz.ErrPermissionDenied)))
		return
	}
	if m.streams.open.Add(1) > maxStreams {
		m.streams.open.Add(-1)
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many statistics streams open; try again later", http.StatusServiceUnavailable)
		return
	}
	defer m.streams.open.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	ctx, cancel := context.WithTimeout(r.Context(), streamMax)
	defer cancel()
	send := func(v uint64) bool {
		b, _ := json.Marshal(map[string]string{"version": fmt.Sprint(v), "scope": p.Org, "at": m.now().UTC().Format(time.RFC3339)})
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "retry: 3000\nevent: version\ndata: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	last := m.statsVersion()
	if !send(last) {
		return
	}
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	beat := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		v := m.statsVersion()
		if v == last && time.Since(beat) < streamBeat {
			continue
		}
		last, beat = v, time.Now()
		if !send(v) {
			return
		}
	}
}

// now is the member's clock (the cluster's, injected in tests).
func (m *Member) now() time.Time {
	if m.cfg.Cluster.Now != nil {
		return m.cfg.Cluster.Now()
	}
	return time.Now()
}

// person is api.Person with this member's accounts and logger.
func (m *Member) person(w http.ResponseWriter, r *http.Request, perm authz.Permission) (authz.Principal, bool) {
	return api.Person(w, r, m.accounts, perm, m.log)
}
