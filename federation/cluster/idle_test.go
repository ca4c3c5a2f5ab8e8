package cluster_test

import (
	"net"
	"sync"
	"testing"
	"time"
)

// idleHolder keeps n silent TCP connections open to each address: when the
// member drops one at its handshake deadline, it dials again, so the member
// always has about n handshakes pending, as under a slow flood.
type idleHolder struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

func holdIdle(t *testing.T, addrs []string, n int) *idleHolder {
	h := &idleHolder{stop: make(chan struct{}), open: map[net.Conn]struct{}{}}
	for _, addr := range addrs {
		for range n {
			h.wg.Add(1)
			go h.hold(addr)
		}
	}
	t.Cleanup(h.release)
	return h
}

func (h *idleHolder) hold(addr string) {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil { // the member is down: try again a little later
			select {
			case <-h.stop:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		h.mu.Lock()
		h.open[c] = struct{}{}
		h.mu.Unlock()
		c.Read(make([]byte, 1)) // blocks until the member or release closes it
		h.mu.Lock()
		delete(h.open, c)
		h.mu.Unlock()
		c.Close()
	}
}

// count is the number of idle connections open now.
func (h *idleHolder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.open)
}

func (h *idleHolder) release() {
	select {
	case <-h.stop:
		return
	default:
	}
	close(h.stop)
	h.mu.Lock()
	for c := range h.open {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// TestLeaderKillWithIdleRaftConnections kills the leader twice, once with
// no other traffic and once with 50 idle TCP connections held open to every
// member's Raft port, and logs the time to a new leader of each. The new
// leader needs fresh connections between the survivors for its votes, so a
// transport that handshakes one connection at a time behind the idle ones
// (5 s each) does not elect one within the bound.
func TestLeaderKillWithIdleRaftConnections(t *testing.T) {
	const idlePerMember, bound = 50, 15 * time.Second
	c := NewCluster(t, 3, nil)
	kill := func(t *testing.T) time.Duration {
		t.Helper()
		old := c.Leader()
		start := time.Now()
		c.Stop(old.id)
		nl := c.WaitForNewLeader(old.id)
		took := time.Since(start)
		if took > bound {
			t.Fatalf("new leader %s after %s, want within %s", nl.id, took, bound)
		}
		return took
	}

	var without time.Duration
	t.Run("without idle connections", func(t *testing.T) {
		old := c.Leader().id
		without = kill(t)
		c.Start(old) // back as a follower for the second run
		c.Leader()
	})
	t.Run("with idle connections", func(t *testing.T) {
		var addrs []string
		members := c.Running()
		for _, m := range members {
			addrs = append(addrs, m.raftAddr)
		}
		h := holdIdle(t, addrs, idlePerMember)
		// The fault is in place: every idle connection is open (the
		// members' own counts are logged below).
		eventually(t, 10*time.Second, "the idle connections to open", func() bool { return h.count() == len(addrs)*idlePerMember })
		with := kill(t)
		for _, m := range c.Running() {
			s := m.node.Layer().Stats()
			t.Logf("%s handshakes after the election: %+v", m.id, s)
			if s.Pending+s.Failed < idlePerMember {
				t.Errorf("%s saw %d idle handshakes, want at least %d: the fault did not happen", m.id, s.Pending+s.Failed, idlePerMember)
			}
		}
		t.Logf("time to a new leader after killing the leader: %s without idle connections, %s with %d idle connections held open to each member's Raft port",
			without.Round(time.Millisecond), with.Round(time.Millisecond), idlePerMember)
	})
}
