package limits

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrTooManyStreams: a stream was refused because the node or the client
// already holds as many as allowed. It wraps into a *StreamsError that says
// which cap and when to retry.
var ErrTooManyStreams = errors.New("limits: too many streams")

// StreamsError is a refused stream: which cap was reached, and how long the
// client should wait before trying again.
type StreamsError struct {
	// Scope is "node" or "client".
	Scope      string
	Limit      int
	RetryAfter time.Duration
}

func (e *StreamsError) Error() string {
	if e.Scope == "client" {
		return fmt.Sprintf("this client already has %d open alert streams, the most one client may hold; close one or retry in %s", e.Limit, e.RetryAfter)
	}
	return fmt.Sprintf("the node already serves %d alert streams, the most it holds; retry in %s", e.Limit, e.RetryAfter)
}

func (e *StreamsError) Unwrap() error { return ErrTooManyStreams }

// Defaults of Streams: a village PC serves a web console or two and a few
// scripts; thousands of open streams are a mistake or an attack.
const (
	DefaultStreamsPerNode   = 256
	DefaultStreamsPerClient = 16
	streamsRetryAfter       = 30 * time.Second
)

// Streams counts the long-lived streams (SSE and gRPC alert watches) a node
// holds, in total and per client, and refuses one past either cap. Safe for
// concurrent use.
type Streams struct {
	perNode, perClient int
	mu                 sync.Mutex
	total              int
	byClient           map[string]int
}

// NewStreams makes a counter with the given caps (<= 0 means the default).
func NewStreams(perNode, perClient int) *Streams {
	if perNode <= 0 {
		perNode = DefaultStreamsPerNode
	}
	if perClient <= 0 {
		perClient = DefaultStreamsPerClient
	}
	return &Streams{perNode: perNode, perClient: perClient, byClient: map[string]int{}}
}

// Acquire takes a slot for a stream of client (its address or certificate
// name; TODO(issue 12): its account once there are accounts). It returns the
// function that gives the slot back (call it once, when the stream ends), or
// a *StreamsError wrapping ErrTooManyStreams.
func (s *Streams) Acquire(client string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.perNode {
		return nil, &StreamsError{Scope: "node", Limit: s.perNode, RetryAfter: streamsRetryAfter}
	}
	if s.byClient[client] >= s.perClient {
		return nil, &StreamsError{Scope: "client", Limit: s.perClient, RetryAfter: streamsRetryAfter}
	}
	s.total++
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byClient[client]--; s.byClient[client] == 0 {
				delete(s.byClient, client)
			}
		})
	}, nil
}

// Open is the number of streams held now.
func (s *Streams) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ClientKey names the client of a stream for the per-client cap: the
// common name of its certificate when it showed one, else the host of its
// address (all connections from one machine count together).
// TODO(issue 12): key by account once requests carry one.
func ClientKey(addr string, certs []*x509.Certificate) string {
	if len(certs) > 0 {
		return "cert:" + certs[0].Subject.CommonName
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
