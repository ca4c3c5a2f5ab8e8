package accounts

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The sign-in audit an administrator reads (issue 14): every sign-in,
// failure, lock, throttled attempt, forced password change and sign-out,
// with its time, account, client address and outcome. The slog lines stay
// (operators ship them); this is the copy a person can read in the console
// without access to the machine.
//
// It lives in a file of its own (signins.db), not in credentials.db: it
// holds no secret, and a district member keeps its own (a member's
// credentials are replicated through Raft, and sending every failed
// sign-in through Raft would let anyone on the network make the cluster
// write). It is bounded twice: by age and by count, the oldest pruned
// first. And it never writes per attempt: events wait in memory and go to
// disk in one transaction at most every FlushEvery (one fsync), so a flood
// of failed sign-ins, which the throttle keeps off the password hashes,
// does not become a flood of fsyncs either; the throttled attempts of one
// account and address in a batch are one event with a count, and when the
// queue is full the excess is counted as dropped in the next event written.

// Outcome is what became of one attempt.
type Outcome string

// Outcomes of the audit.
const (
	OutcomeOK              Outcome = "ok"               // a token or session was given
	OutcomeFailed          Outcome = "failed"           // wrong account or password, or disabled
	OutcomeLocked          Outcome = "locked"           // a failure that locked the account or address
	OutcomeThrottled       Outcome = "throttled"        // refused unchecked while locked
	OutcomeMustChange      Outcome = "must_change"      // right one-time password, new one required
	OutcomePasswordChanged Outcome = "password_changed" // the password was replaced
	OutcomeSignOut         Outcome = "signout"          // a token or session ended by its holder
)

// SignInEvent is one line of the audit.
type SignInEvent struct {
	At time.Time `json:"at"`
	// Account as typed (an unknown one too), at most maxAuditAccount bytes.
	Account string  `json:"account"`
	Address string  `json:"address,omitempty"`
	Outcome Outcome `json:"outcome"`
	// Reason of a failure; the credential's kind (token, session) of a
	// sign-in or sign-out.
	Reason string `json:"reason,omitempty"`
	Kind   Kind   `json:"kind,omitempty"`
	// Count of attempts the event stands for (throttled attempts
	// coalesced); 1 for the rest.
	Count int `json:"count"`
	// Dropped counts the events lost before this one to a full queue.
	Dropped int `json:"dropped,omitempty"`
	// ID names the event in pages (its key); set when read.
	ID string `json:"-"`
}

// SignInLogConfig sets up a SignInLog. Zero fields take the defaults.
type SignInLogConfig struct {
	// Path of the file (normally <data>/signins.db).
	Path string
	// MaxEvents kept (default 20,000); the oldest go first.
	MaxEvents int
	// MaxAge of an event kept (default 180 days).
	MaxAge time.Duration
	// FlushEvery is the longest an event waits in memory (default 1 s).
	FlushEvery time.Duration
	// Queue is how many events wait at most (default 1,024).
	Queue int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NoSync turns off fsync: tests only.
	NoSync bool
	Logger *slog.Logger
}

func (c *SignInLogConfig) validate() error {
	if c.Path == "" {
		return errors.New("sign-in log: Path is required")
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 20_000
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 180 * 24 * time.Hour
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// maxAuditAccount and maxAuditText bound what a caller typed into the log.
const (
	maxAuditAccount = 64
	maxAuditText    = 200
)

var bucketSignIns = []byte("signins")

// SignInLog is the bounded, batched sign-in audit. Record never blocks on
// the disk; List reads what was flushed and what waits.
type SignInLog struct {
	cfg SignInLogConfig
	db  *bolt.DB

	mu      sync.Mutex
	pending []SignInEvent
	dropped int
	seq     uint32 // orders events of one nanosecond
	count   int    // events in the file
	stop    chan struct{}
	done    chan struct{}
	kick    chan struct{}
}

// OpenSignInLog opens (or creates) the audit file and starts its writer;
// Close stops it after a last flush.
func OpenSignInLog(cfg SignInLogConfig) (*SignInLog, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open sign-in log %s: %w", cfg.Path, err)
	}
	l := &SignInLog{cfg: cfg, db: db, stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSignIns)
		if err != nil {
			return err
		}
		l.count = b.Stats().KeyN
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sign-in log %s: %w", cfg.Path, err)
	}
	go l.run()
	return l, nil
}

// openQuiet is OpenSignInLog with no writer running: what waits is written
// only by Flush, List and Close (this package's tests of the queue).
func openQuiet(cfg SignInLogConfig) (*SignInLog, error) {
	l, err := OpenSignInLog(cfg)
	if err != nil {
		return nil, err
	}
	close(l.stop)
	<-l.done
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() { <-l.stop; l.flush(); close(l.done) }()
	return l, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}

// Record queues ev (At set here when zero). It does not wait for the disk.
func (l *SignInLog) Record(ev SignInEvent) {
	if l == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = l.cfg.Now()
	}
	ev.Account, ev.Address, ev.Reason = clip(ev.Account, maxAuditAccount), clip(ev.Address, maxAuditText), clip(ev.Reason, maxAuditText)
	ev.Count = 1
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Outcome == OutcomeThrottled {
		for i := len(l.pending) - 1; i >= 0; i-- {
			p := &l.pending[i]
			if p.Outcome == OutcomeThrottled && p.Account == ev.Account && p.Address == ev.Address {
				p.Count++
				p.At = ev.At
				return
			}
		}
	}
	if len(l.pending) >= l.cfg.Queue {
		l.dropped++
		return
	}
	ev.Dropped, l.dropped = l.dropped, 0
	l.pending = append(l.pending, ev)
	if len(l.pending) >= l.cfg.Queue/2 {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

func (l *SignInLog) run() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			l.flush()
			return
		case <-tick.C:
		case <-l.kick:
		}
		l.flush()
	}
}

// key orders events by time: nanoseconds since 1970 and a counter.
func (l *SignInLog) key(at time.Time) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	l.seq++
	binary.BigEndian.PutUint32(k[8:], l.seq)
	return k
}

// flush writes what waits in one transaction and prunes past the bounds.
func (l *SignInLog) flush() {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	cutoff := l.cfg.Now().Add(-l.cfg.MaxAge)
	err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSignIns)
		for _, ev := range batch {
			v, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if err := b.Put(l.key(ev.At), v); err != nil {
				return err
			}
			l.count++
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.First() {
			old := time.Unix(0, int64(binary.BigEndian.Uint64(k)))
			if l.count <= l.cfg.MaxEvents && !old.Before(cutoff) {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			l.count--
		}
		return nil
	})
	if err != nil {
		l.cfg.Logger.Error("write the sign-in audit", "events", len(batch), "err", err)
	}
}

// Flush writes what waits now (tests and shutdown).
func (l *SignInLog) Flush() { l.flush() }

// Close flushes and closes the file.
func (l *SignInLog) Close() error {
	close(l.stop)
	<-l.done
	return l.db.Close()
}

// SignInFilter selects events; empty fields match all.
type SignInFilter struct {
	Account string
	Outcome Outcome
	// Before is an event ID from a previous page: older events only.
	Before string
	// Keep, when set, hides events it refuses (an administrator's scope).
	Keep func(SignInEvent) bool
}

// List returns up to limit events matching f, newest first, and the ID to
// pass as Before for the next page ("" on the last). Events still waiting
// for the disk are flushed first, so a sign-in shows at once.
func (l *SignInLog) List(_ context.Context, f SignInFilter, limit int) ([]SignInEvent, string, error) {
	l.flush()
	var out []SignInEvent
	next := ""
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignIns).Cursor()
		var k, v []byte
		if f.Before != "" {
			before, err := parseEventID(f.Before)
			if err != nil {
				return err
			}
			c.Seek(before)
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			var ev SignInEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("sign-in event %x: %w", k, err)
			}
			if (f.Account != "" && ev.Account != f.Account) || (f.Outcome != "" && ev.Outcome != f.Outcome) || (f.Keep != nil && !f.Keep(ev)) {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			ev.ID = hex.EncodeToString(k)
			out = append(out, ev)
		}
		return nil
	})
	return out, next, err
}

// ErrEventID: a page token that is not an event's ID.
var ErrEventID = errors.New("not a sign-in event id (pageToken of a previous page)")

func parseEventID(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != 12 {
		return nil, fmt.Errorf("%q: %w", clip(s, 40), ErrEventID)
	}
	return k, nil
}

// maxSignInPage is the most events one ListSignIns answer holds.
const maxSignInPage = 500

// ListSignIns reads the sign-in audit for the administrator by: events of
// accounts by may manage, and of account names nobody holds (a guess at
// this node), newest first, one page of at most limit (default 100, at most
// 500). ErrNotFound when the node keeps no audit.
func (s *Service) ListSignIns(ctx context.Context, by Principal, f SignInFilter, limit int) ([]SignInEvent, string, error) {
	if err := mayManage(by, by.Org); err != nil {
		return nil, "", err
	}
	if s.creds.audit == nil {
		return nil, "", fmt.Errorf("%w: this node keeps no sign-in audit", ErrNotFound)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxSignInPage)
	f.Keep = func(ev SignInEvent) bool {
		a, known := s.account(ev.Account)
		return !known || mayManage(by, a.Org) == nil
	}
	return s.creds.audit.List(ctx, f, limit)
}
