// Package transport carries Raft traffic between district members over
// mutual TLS (raft.StreamLayer), so that only holders of a district
// certificate from the district's CA can take part in the cluster. It also
// lets a test cut a member off and heal it again, which is how the cluster
// tests partition a member without touching the operating system.
package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ErrCut is returned by Dial while the layer is cut off.
var ErrCut = errors.New("transport: cut off (fault injection)")

// Layer is a raft.StreamLayer over TLS with fault injection.
type Layer struct {
	ln        net.Listener
	server    *tls.Config
	client    *tls.Config
	log       *slog.Logger
	handshake time.Duration

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// Listen binds addr for Raft traffic. server verifies incoming peers, client
// verifies the members we dial; both come from pki.ServerConfig and
// pki.ClientConfig with the district role required.
func Listen(addr string, server, client *tls.Config, log *slog.Logger) (*Layer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", addr, err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Layer{ln: ln, server: server, client: client, log: log, handshake: 5 * time.Second, conns: map[net.Conn]struct{}{}}, nil
}

// Accept waits for the next peer that completes the TLS handshake; peers
// that fail it are logged and dropped.
func (l *Layer) Accept() (net.Conn, error) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return nil, err
		}
		if l.isCut() {
			c.Close()
			continue
		}
		tc := tls.Server(c, l.server)
		tc.SetDeadline(time.Now().Add(l.handshake))
		if err := tc.Handshake(); err != nil {
			l.log.Warn("refused raft peer", "remote", c.RemoteAddr().String(), "err", err)
			tc.Close()
			continue
		}
		tc.SetDeadline(time.Time{})
		return l.track(tc), nil
	}
}

// Dial connects to a member.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.isCut() {
		return nil, ErrCut
	}
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", string(address), l.client)
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	return l.track(c), nil
}

// Close stops listening.
func (l *Layer) Close() error { return l.ln.Close() }

// Addr is the bound address.
func (l *Layer) Addr() net.Addr { return l.ln.Addr() }

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
