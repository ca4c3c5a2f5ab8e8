// Package transport carries Raft traffic between district members over
// mutual TLS (raft.StreamLayer), so that only holders of a district
// certificate from the district's CA can take part in the cluster. It also
// lets a test cut a member off and heal it again, which is how the cluster
// tests partition a member without touching the operating system.
//
// TLS handshakes run off the accept loop, one goroutine per pending
// handshake, and only connections that completed theirs reach Accept. A
// handshake done inside Accept, one at a time, let anyone who could open a
// TCP connection to the Raft port hold every real member back for the whole
// handshake deadline per idle connection (4 idle connections delayed a
// member's handshake by 21 s). The number of pending handshakes is capped so
// that a flood of connections costs bounded memory: past the cap a new
// connection is closed at once, counted, and logged at a bounded rate.
package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// ErrCut is returned by Dial while the layer is cut off.
var ErrCut = errors.New("transport: cut off (fault injection)")

// Defaults of Config.
const (
	// DefaultHandshakeTimeout bounds one incoming TLS handshake. Members sit
	// on a LAN, so a real one needs milliseconds; the bound only decides how
	// long a silent connection holds its slot.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultMaxPending caps incoming handshakes in progress. A cluster has 3
	// or 5 members with a handful of pooled connections each, so real
	// members never come near it; each pending handshake costs a goroutine
	// and a few KiB, so the cap holds a flood to a few MiB.
	DefaultMaxPending = 128
	// logEvery is the least time between two log lines about dropped or
	// failed handshakes, so a flood cannot flood the log too.
	logEvery = 10 * time.Second
)

// Config configures a Layer.
type Config struct {
	// Addr is the address to listen on for Raft traffic.
	Addr string
	// Server verifies incoming peers, Client the members we dial; both come
	// from pki.ServerConfig and pki.ClientConfig with the district role
	// required.
	Server, Client *tls.Config
	// HandshakeTimeout bounds one incoming handshake (default 5 s).
	HandshakeTimeout time.Duration
	// MaxPending caps incoming handshakes in progress; connections past it
	// are closed at once (default 128).
	MaxPending int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the log rate limit; default time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	if c.Server == nil || c.Client == nil {
		return errors.New("transport: TLS configuration is required: raft traffic is always mutual TLS")
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Layer is a raft.StreamLayer over TLS with fault injection.
type Layer struct {
	cfg   Config
	ln    net.Listener
	log   *slog.Logger
	slots chan struct{} // one token per pending handshake
	ready chan net.Conn // handshaken connections waiting for Accept
	done  chan struct{} // closed by Close
	once  sync.Once
	err   error // why the accept loop stopped; set before done is closed

	dropped, failed  atomic.Int64
	dropLog, failLog throttle // one for connections over the cap, one for failures
	wg               sync.WaitGroup

	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]struct{} // handshaken, for Cut
	pending map[net.Conn]struct{} // handshaking, for Close
}

// Listen binds cfg.Addr for Raft traffic and starts taking connections.
func Listen(cfg Config) (*Layer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.Addr, err)
	}
	l := &Layer{
		cfg: cfg, ln: ln, log: cfg.Logger,
		slots: make(chan struct{}, cfg.MaxPending), ready: make(chan net.Conn),
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}, pending: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// acceptLoop takes TCP connections and starts a handshake for each while
// there is a free slot; it never waits on a peer.
func (l *Layer) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			l.stop(net.ErrClosed)
			return
		}
		if err != nil {
			// Out of file descriptors and the like: wait and try again, as
			// net/http does, rather than give up listening for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.warn(&l.failLog, "accept raft connection", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
				return
			}
		}
		backoff = 0
		if l.isCut() {
			c.Close()
			continue
		}
		select {
		case l.slots <- struct{}{}:
			l.wg.Add(1)
			l.mu.Lock()
			l.pending[c] = struct{}{}
			select {
			case <-l.done: // Close already closed the pending ones
				c.Close()
			default:
			}
			l.mu.Unlock()
			go l.handshake(c)
		default:
			c.Close()
			n := l.dropped.Add(1)
			l.warn(&l.dropLog, "dropped raft connection: too many handshakes pending",
				"remote", c.RemoteAddr().String(), "max_pending", l.cfg.MaxPending, "dropped_total", n)
		}
	}
}

// handshake completes one peer's TLS handshake within the deadline and
// hands the connection to Accept; a failed peer is dropped.
func (l *Layer) handshake(c net.Conn) {
	defer l.wg.Done()
	release := func() {
		l.mu.Lock()
		delete(l.pending, c)
		l.mu.Unlock()
		<-l.slots
	}
	tc := tls.Server(c, l.cfg.Server)
	tc.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		release()
		tc.Close()
		n := l.failed.Add(1)
		l.warn(&l.failLog, "refused raft peer", "remote", c.RemoteAddr().String(), "err", err, "failed_total", n)
		return
	}
	tc.SetDeadline(time.Time{})
	release() // the handshake is done: waiting for Accept takes no slot
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}

// throttle lets one log line through per logEvery.
type throttle struct{ last atomic.Int64 } // unix nanoseconds of the last line

func (t *throttle) allow(now time.Time) bool {
	last := t.last.Load()
	if last != 0 && now.UnixNano()-last < int64(logEvery) {
		return false
	}
	return t.last.CompareAndSwap(last, now.UnixNano())
}

// warn logs a warning unless t let one through in the last logEvery; the
// totals in the line say how many were not logged.
func (l *Layer) warn(t *throttle, msg string, args ...any) {
	if t.allow(l.cfg.Now()) {
		l.log.Warn(msg, args...)
	}
}

// stop ends Accept with err (once).
func (l *Layer) stop(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
	})
}

// Accept returns the next peer that completed the TLS handshake; peers that
// fail it are logged and dropped. After Close it returns net.ErrClosed.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return l.track(c), nil
	case <-l.done:
		return nil, l.err
	}
}

// Dial connects to a member.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.isCut() {
		return nil, ErrCut
	}
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", string(address), l.cfg.Client)
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	return l.track(c), nil
}

// Close stops listening, ends Accept, closes the connections still in
// their handshake and waits for the goroutines that served them.
func (l *Layer) Close() error {
	err := l.ln.Close()
	l.stop(net.ErrClosed)
	l.mu.Lock()
	for c := range l.pending {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// Addr is the bound address.
func (l *Layer) Addr() net.Addr { return l.ln.Addr() }

// Stats counts incoming handshakes: in progress now, dropped because
// MaxPending were in progress, and failed (including timed out).
type Stats struct {
	Pending, Dropped, Failed int64
}

// Stats reports the layer's handshake counters (for /metrics and tests).
func (l *Layer) Stats() Stats {
	return Stats{Pending: int64(len(l.slots)), Dropped: l.dropped.Load(), Failed: l.failed.Load()}
}

// Cut makes the member unreachable both ways: open connections are closed,
// dials fail and incoming connections are dropped, until Heal.
func (l *Layer) Cut() {
	l.mu.Lock()
	l.cut = true
	conns := l.conns
	l.conns = map[net.Conn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Heal undoes Cut.
func (l *Layer) Heal() {
	l.mu.Lock()
	l.cut = false
	l.mu.Unlock()
}

func (l *Layer) isCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// track remembers c so Cut can close it; a connection that completes its
// handshake while the layer is cut is closed instead.
func (l *Layer) track(c net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		c.Close()
		return c
	}
	l.conns[c] = struct{}{}
	return &tracked{Conn: c, l: l}
}

// tracked forgets itself on close.
type tracked struct {
	net.Conn
	l *Layer
}

func (t *tracked) Close() error {
	t.l.mu.Lock()
	delete(t.l.conns, t.Conn)
	t.l.mu.Unlock()
	return t.Conn.Close()
}

// IsCut reports whether the layer is cut off.
func (l *Layer) IsCut() bool { return l.isCut() }
