package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Chain is the seam to the node's ledger (a *ledger.Ledger): account
// changes are appended to the home org's chain, and the state is read back
// from it.
type Chain interface {
	// Append records recs atomically and returns them once durable.
	Append(ctx context.Context, recs ...ledger.Record) ([]*ledger.Stored, error)
	// Range calls fn for origin's entries from seq from on, in order.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
}

// Config sets up the accounts of a node.
type Config struct {
	// Org is the node's home org: account entries go to its chain, and
	// every account's org lies in its scope.
	Org string
	// Chain is the node's ledger.
	Chain Chain
	// CredentialsPath is the credentials file, normally
	// <data>/credentials.db (see creds.go for why it is not ledger.db).
	// Ignored when Secrets is set.
	CredentialsPath string
	// Secrets, when set, keeps the credentials instead of a file at
	// CredentialsPath (a district member's replicated state). The Service
	// closes it at Close.
	Secrets Secrets
	// Catalog, when set, is checked for the posts granted (code known,
	// tier matching the account's org). Optional.
	Catalog *sanziv1.Catalog
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the audit log (every sign-in, failure, throttle and
	// account change); default slog.Default().
	Logger *slog.Logger
	// Registerer takes the sign-in counters; nil registers nothing.
	Registerer prometheus.Registerer
	// Argon is the cost of new password hashes; default DefaultParams.
	Argon Params
	// MaxHashing bounds concurrent argon2 hashes (each takes Argon.Memory);
	// default 2.
	MaxHashing int
	// TokenTTL is how long a bearer token lives; default 30 days.
	TokenTTL time.Duration
	// SessionTTL is how long a browser session lives; default 12 hours.
	SessionTTL time.Duration
	// Throttle slows failed sign-ins; zero fields take defaults.
	Throttle ThrottleConfig
	// AuditPath is the file of the sign-in audit an administrator reads
	// (ListSignIns, signins.go), normally <data>/signins.db; the Service
	// opens and closes it. Empty keeps none.
	AuditPath string
	// NoSync turns off fsync of the credentials file: tests only.
	NoSync bool
	// Checkpoints, when set, keeps the accounts with the position of the
	// home chain they reflect in the ledger's file (node/checkpoint), so
	// that Open replays only the entries after it. Nil replays the whole
	// home chain at every Open.
	Checkpoints *checkpoint.Store
}

func (c *Config) validate() error {
	if _, err := idcode.OrgCode(c.Org); err != nil {
		return fmt.Errorf("accounts config: Org: %w", err)
	}
	if c.Chain == nil {
		return errors.New("accounts config: Chain is required")
	}
	if c.CredentialsPath == "" && c.Secrets == nil {
		return errors.New("accounts config: CredentialsPath or Secrets is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Argon == (Params{}) {
		c.Argon = DefaultParams
	}
	if c.Argon.Time == 0 || c.Argon.Memory < 8 || c.Argon.Threads == 0 {
		return fmt.Errorf("accounts config: Argon %+v: every cost must be positive (memory at least 8 KiB)", c.Argon)
	}
	if c.MaxHashing <= 0 {
		c.MaxHashing = 2
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 30 * 24 * time.Hour
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	return nil
}

// Service holds a node's accounts: their state, rebuilt from the chain,
// and their credentials, in credentials.db. It is safe for concurrent use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	creds *credStore
	thr   *throttle
	hash  chan struct{} // semaphore over argon2 hashes
	m     metrics

	wmu sync.Mutex // serialises account changes: check, append, apply
	mu  sync.RWMutex
	st  state
	// saved is the seq of the home chain the stored checkpoint reflects.
	saved uint64

	dummyOnce sync.Once
	dummy     string // hash checked for unknown accounts, so they take as long
}

type metrics struct {
	signins, failures, throttled prometheus.Counter
}

// Open opens the credentials file and rebuilds every account by replaying
// the home chain's account entries.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sec := cfg.Secrets
	if sec == nil {
		var err error
		if sec, err = OpenSecretsFile(cfg.CredentialsPath, cfg.NoSync); err != nil {
			return nil, err
		}
	}
	creds := &credStore{sec: sec}
	if cfg.AuditPath != "" {
		audit, err := OpenSignInLog(SignInLogConfig{Path: cfg.AuditPath, Now: cfg.Now, NoSync: cfg.NoSync, Logger: cfg.Logger})
		if err != nil {
			creds.close()
			return nil, err
		}
		creds.audit = audit
	}
	s := &Service{cfg: cfg, log: cfg.Logger, creds: creds, thr: newThrottle(cfg.Throttle),
		hash: make(chan struct{}, cfg.MaxHashing), st: state{accounts: map[string]*Account{}},
		m: metrics{
			signins:   prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_signins_total", Help: "Sign-ins that gave a token or session."}),
			failures:  prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_signin_failures_total", Help: "Sign-ins refused for a wrong account, password, or a disabled account."}),
			throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "sanzi_signin_throttled_total", Help: "Sign-in attempts refused unchecked after too many failures."}),
		}}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.m.signins, s.m.failures, s.m.throttled} {
			if err := cfg.Registerer.Register(c); err != nil {
				creds.close()
				return nil, fmt.Errorf("register accounts metrics: %w", err)
			}
		}
	}
	s.wmu.Lock()
	err := s.start()
	s.wmu.Unlock()
	if err != nil {
		creds.close()
		return nil, fmt.Errorf("open accounts: replay chain %s: %w", cfg.Org, err)
	}
	return s, nil
}

// Close closes the credentials file and the sign-in audit.
func (s *Service) Close() error { return s.creds.close() }

// AuditDB is the sign-in audit's open file, for backups; nil when the
// Service keeps none.
func (s *Service) AuditDB() *bolt.DB {
	if s.creds.audit == nil {
		return nil
	}
	return s.creds.audit.db
}

// CatchUp applies the account entries the chain holds beyond what the
// Service has seen. A node whose chain grows only through the Service never
// needs it; a district member calls it after Raft applies entries of the
// district's chain proposed at another member, so every member's accounts
// follow what Raft applied.
func (s *Service) CatchUp() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.catchUp()
}

// catchUp applies every entry of the home chain after the last one seen. It reads entries others appended as well, so the
// state follows the chain however an account entry got there.
func (s *Service) catchUp() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Chain.Range(s.cfg.Org, s.st.seen+1, 0, func(e *ledger.Stored) bool {
		if err := s.st.apply(e); err != nil {
			s.log.Error("account entry does not fit the accounts before it; skipped", "entry", e.ID(), "err", err)
		}
		return true
	})
}

// record appends one account change by author and applies it. The caller
// holds wmu and has checked the change against the state.
func (s *Service) record(ctx context.Context, author string, t sanziv1.EntryType, m proto.Message) (*ledger.Stored, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	stored, err := s.cfg.Chain.Append(ctx, ledger.Record{Origin: s.cfg.Org, Author: author, Type: t, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", t, err)
	}
	if err := s.catchUp(); err != nil {
		return nil, fmt.Errorf("apply %s: %w", stored[0].ID(), err)
	}
	s.log.Info("account changed", "event", "account."+typeEvent(t), "by", author, "entry", stored[0].ID())
	return stored[0], nil
}

func typeEvent(t sanziv1.EntryType) string {
	switch t {
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED:
		return "created"
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED:
		return "granted"
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_REVOKED:
		return "revoked"
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_DISABLED:
		return "disabled"
	case sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET:
		return "password_reset"
	}
	return t.String()
}

// account returns a copy of id's account.
func (s *Service) account(id string) (Account, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.st.accounts[id]
	if !ok {
		return Account{}, false
	}
	return a.clone(), true
}

// hashNew hashes a new password under the current parameters, at most
// MaxHashing at a time.
func (s *Service) hashNew(ctx context.Context, pw string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return hashPassword(pw, s.cfg.Argon)
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hash <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hash }

// CredentialsDB is the open credentials file, for the node's backup to
// snapshot consistently (a second open of it would wait on its lock); nil
// when the credentials are not a file of the node (a district member keeps
// them in its replicated state). It holds secrets' hashes: hand it only to
// what copies the data folder.
func (s *Service) CredentialsDB() *bolt.DB {
	if f, ok := s.creds.sec.(*fileSecrets); ok {
		return f.db
	}
	return nil
}
