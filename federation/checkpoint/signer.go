package checkpoint

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// Defaults of a Signer.
const (
	// DefaultEvery is how often the leader looks for heads to sign: the
	// issue asks for a checkpoint at least every minute.
	DefaultEvery = time.Minute
	// DefaultMaxAge is how old the newest checkpoint may grow while no
	// head changes before the same heads are signed again, so a reader
	// sees that the district is alive; re-signing unchanged heads every
	// minute would add a checkpoint a minute to the state for nothing.
	DefaultMaxAge = time.Hour
)

// State is the replicated state a signer signs: the member's FSM.
type State interface {
	// Heads is every chain head the member holds (a zero Seq: no entry).
	Heads() map[string]ledger.Head
	// LatestCheckpoint is the newest stored checkpoint, nil when none.
	LatestCheckpoint() (*Signed, error)
	// HashAt is the hash of origin's entry at seq; false when not held.
	HashAt(origin string, seq uint64) ([ledger.HashSize]byte, bool, error)
}

// Proposer records a checkpoint through Raft and returns once it is
// applied; the FSM's refusal comes back as the error.
type Proposer interface {
	ProposeCheckpoint(ctx context.Context, c *clusterv1.Checkpoint) error
}

// Config sets up a Signer.
type Config struct {
	// District is the district's 12-digit org code.
	District string
	// Key is the district chain's key (cluster.ChainSigner): every member
	// holds the same, so whichever leads signs with the key readers know.
	Key      ed25519.PrivateKey
	State    State
	Proposer Proposer
	// Every is how often Run signs (DefaultEvery when 0); MaxAge as
	// DefaultMaxAge.
	Every, MaxAge time.Duration
	// Now is the clock statements are dated by; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer takes the signer's counters; nil: none.
	Registerer prometheus.Registerer
}

func (c *Config) validate() error {
	if c.District == "" || len(c.Key) != ed25519.PrivateKeySize || c.State == nil || c.Proposer == nil {
		return errors.New("checkpoint signer: a district, an Ed25519 key, the state and a proposer are required")
	}
	if c.Every <= 0 {
		c.Every = DefaultEvery
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Signer signs checkpoints while its member leads (Run under a context the
// member cancels when leadership is lost).
type Signer struct {
	cfg              Config
	signed, refusals prometheus.Counter
}

// NewSigner checks cfg and makes a signer.
func NewSigner(cfg Config) (*Signer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Signer{cfg: cfg,
		signed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_checkpoints_signed_total",
			Help: "Checkpoints this member signed and recorded through Raft while it led."}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_checkpoint_refusals_total",
			Help: "Times this member refused to sign because the heads it holds contradict the newest checkpoint (a state that was altered): see its log."}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.signed, s.refusals} {
			if err := cfg.Registerer.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, fmt.Errorf("register checkpoint metrics: %w", err)
				}
			}
		}
	}
	return s, nil
}

// Public is the key checkpoints verify with.
func (s *Signer) Public() ed25519.PublicKey { return s.cfg.Key.Public().(ed25519.PublicKey) }

// Run signs at once and then every cfg.Every until ctx ends.
func (s *Signer) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Every)
	defer t.Stop()
	for {
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("checkpoint not signed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once signs one checkpoint of every head the state holds and records it,
// or returns nil when there is nothing new to sign (no chain yet, or the
// same heads as the newest checkpoint and that one younger than MaxAge).
// It refuses, with ErrContradiction, heads that do not extend the chains
// the newest checkpoint signed.
func (s *Signer) Once(ctx context.Context) (*Signed, error) {
	prev, err := s.cfg.State.LatestCheckpoint()
	if err != nil {
		return nil, fmt.Errorf("read the newest checkpoint: %w", err)
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	next := &Statement{District: s.cfg.District, Number: 1, Time: now}
	var ps *Statement
	if prev != nil {
		ps = prev.Statement
		next.Number, next.Prev = ps.Number+1, ps.Sum()
		if next.Time.Before(ps.Time) {
			next.Time = ps.Time // a new leader's clock behind the old one's: never go back
		}
	}
	for o, h := range s.cfg.State.Heads() {
		if h.Seq > 0 {
			next.Heads = append(next.Heads, Head{Origin: o, Seq: h.Seq, Hash: h.Hash})
		}
	}
	next.Heads = sorted(next.Heads)
	if len(next.Heads) == 0 {
		return nil, nil
	}
	if ps != nil && sameHeads(ps, next) && now.Sub(ps.Time) < s.cfg.MaxAge {
		return nil, nil
	}
	if err := Follows(ps, next, s.cfg.State.HashAt); err != nil {
		s.refusals.Inc()
		return nil, fmt.Errorf("refused to sign checkpoint %d: %w", next.Number, err)
	}
	signed := Sign(next, s.cfg.Key)
	if err := s.cfg.Proposer.ProposeCheckpoint(ctx, Delta(ps, signed, s.Public())); err != nil {
		return nil, fmt.Errorf("record checkpoint %d through raft: %w", next.Number, err)
	}
	s.signed.Inc()
	return signed, nil
}

func sameHeads(a, b *Statement) bool {
	if len(a.Heads) != len(b.Heads) {
		return false
	}
	for i := range a.Heads {
		if a.Heads[i] != b.Heads[i] {
			return false
		}
	}
	return true
}
