package transport_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sanzi/sanzi/federation/transport"
	"github.com/sanzi/sanzi/node/pki"
)

// tlsConfigs returns a district member's server and client TLS configs.
func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	allow := pki.AllowRoles(pki.RoleDistrict)
	return pki.ServerConfig(ca.Pool(), cert.TLSCertificate(), allow), pki.ClientConfig(ca.Pool(), cert.TLSCertificate(), allow)
}

func listen(t *testing.T, cfg transport.Config) *transport.Layer {
	t.Helper()
	if cfg.Server == nil {
		cfg.Server, cfg.Client = tlsConfigs(t)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := transport.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// idle opens n TCP connections to addr that never say a word.
func idle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// closedByPeer reports whether the peer closed c within d (a read returns
// EOF or a reset rather than timing out).
func closedByPeer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not a settle delay
	}
}

type accepted struct {
	c   net.Conn
	err error
	at  time.Time
}

func acceptOne(l *transport.Layer) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err, time.Now()}
	}()
	return ch
}

// TestIdleConnectionsDoNotDelayAMember opens idle TCP connections first and
// then a real member's: the member must be handshaken and accepted before
// the first idle connection's handshake deadline. A layer that handshakes
// one connection at a time inside Accept queues the member behind every
// idle one (here 6 × 2 s) and fails.
func TestIdleConnectionsDoNotDelayAMember(t *testing.T) {
	const n, deadline = 6, 2 * time.Second
	server, client := tlsConfigs(t)
	l := listen(t, transport.Config{Server: server, Client: client, HandshakeTimeout: deadline})
	idlers := idle(t, l.Addr().String(), n)
	got := acceptOne(l)

	start := time.Now()
	// The dialer's timeout covers the handshake too.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: deadline}, "tcp", l.Addr().String(), client)
	if err != nil {
		t.Fatalf("member's handshake did not finish within %s, the idle connections' handshake deadline (queued behind them?): %v", deadline, err)
	}
	defer c.Close()
	var a accepted
	select {
	case a = <-got:
	case <-time.After(deadline - time.Since(start)):
		t.Fatalf("member not accepted within %s, the idle connections' handshake deadline: it was queued behind them", deadline)
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	t.Logf("member accepted in %s with %d idle connections pending", a.at.Sub(start).Round(time.Millisecond), n)
	// The fault was there: the idle connections were still pending.
	if s := l.Stats(); s.Pending != n || s.Failed != 0 {
		t.Fatalf("stats %+v when the member was accepted, want %d pending and none failed", s, n)
	}
	// The accepted connection carries data.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(a.c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	// The idle ones are dropped at their deadline.
	eventually(t, 3*deadline, "the idle handshakes to time out", func() bool { return l.Stats().Failed == n })
	for i, ic := range idlers {
		if !closedByPeer(ic, 2*time.Second) {
			t.Errorf("idle connection %d still open after its handshake deadline", i)
		}
	}
	if s := l.Stats(); s.Pending != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v after the deadline, want nothing pending or dropped", s)
	}
}

// TestPendingCap: past MaxPending a connection is closed at once and
// counted; Close closes the pending ones without waiting for their
// deadline and ends Accept.
func TestPendingCap(t *testing.T) {
	const max, extra = 3, 2
	l := listen(t, transport.Config{MaxPending: max, HandshakeTimeout: time.Minute})
	idlers := idle(t, l.Addr().String(), max+extra)
	eventually(t, 5*time.Second, "the cap to fill and the rest to be dropped", func() bool {
		s := l.Stats()
		return s.Pending == max && s.Dropped == extra
	})
	closed := 0
	for _, c := range idlers {
		if closedByPeer(c, 200*time.Millisecond) {
			closed++
		}
	}
	if closed != extra {
		t.Fatalf("%d connections closed at once, want the %d past the cap", closed, extra)
	}

	got := acceptOne(l)
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %s: it waited for the handshake deadline", d)
	}
	for i, c := range idlers {
		if !closedByPeer(c, 2*time.Second) {
			t.Errorf("connection %d still open after Close", i)
		}
	}
	select {
	case a := <-got:
		if !errors.Is(a.err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}

// TestCutAndHeal: a cut layer closes its connections, refuses to dial and
// drops incoming ones; healed, it works again.
func TestCutAndHeal(t *testing.T) {
	server, client := tlsConfigs(t)
	a := listen(t, transport.Config{Server: server, Client: client})
	b := listen(t, transport.Config{Server: server, Client: client})
	addrA := raft.ServerAddress(a.Addr().String())

	connect := func(t *testing.T) (dialed, acceptedConn net.Conn) {
		t.Helper()
		got := acceptOne(a)
		c, err := b.Dial(addrA, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.err != nil {
			t.Fatal(r.err)
		}
		return c, r.c
	}
	t.Run("connected", func(t *testing.T) {
		c, s := connect(t)
		defer c.Close()
		defer s.Close()
	})
	t.Run("cut", func(t *testing.T) {
		c, s := connect(t)
		defer c.Close()
		defer s.Close()
		a.Cut()
		if !a.IsCut() {
			t.Fatal("IsCut false after Cut")
		}
		if !closedByPeer(c, 2*time.Second) {
			t.Error("open connection survived the cut")
		}
		if _, err := a.Dial(raft.ServerAddress(b.Addr().String()), time.Second); !errors.Is(err, transport.ErrCut) {
			t.Errorf("dial from a cut layer: %v, want ErrCut", err)
		}
		in, err := b.Dial(addrA, 2*time.Second)
		if err == nil {
			defer in.Close()
			if !closedByPeer(in, 2*time.Second) {
				t.Error("a cut layer kept an incoming connection")
			}
		}
	})
	t.Run("healed", func(t *testing.T) {
		a.Heal()
		c, s := connect(t)
		defer c.Close()
		defer s.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
			t.Fatalf("healed connection: %v", err)
		}
	})
}
