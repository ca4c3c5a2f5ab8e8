// Package ledger keeps every origin's append-only chain of signed entries in
// one bbolt file (DESIGN.md, "The ledger"). Each entry links to the hash of
// the one before it and is signed by its origin's Ed25519 key, so an edited,
// removed or reordered entry is found by walking the chain.
//
// Writes go through one committer goroutine that takes every request waiting
// at that moment into a single bbolt transaction (group commit): concurrent
// recorders share one fsync, and Append returns only once its entries are on
// disk. The node's own indexes are written in that same transaction through
// the Indexer seam, so an index can never disagree with the chain after a
// crash.
package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Errors returned by the ledger; wrap-compared with errors.Is.
var (
	// ErrClosed: the ledger is shut down and takes no more writes.
	ErrClosed = errors.New("ledger: closed")
	// ErrNoKey: the node holds no signing key for the origin.
	ErrNoKey = errors.New("ledger: no signing key for origin")
	// ErrChainBroken: the origin's stored chain failed verification at open,
	// so the node refuses to extend it (see ChainBroken).
	ErrChainBroken = errors.New("ledger: chain broken")
	// ErrNotFound: no entry at that origin and seq.
	ErrNotFound = errors.New("ledger: entry not found")
	// ErrFork: a verbatim entry differs from the one held at its seq, or
	// does not link to the head.
	ErrFork = errors.New("ledger: fork")
	// ErrGap: a verbatim entry does not follow the head of its chain.
	ErrGap = errors.New("ledger: gap")
)

var bucketChains = []byte("chains")

// Record is what a caller asks to append: the ledger adds seq, links, time,
// hash and signature.
type Record struct {
	Origin  string
	Author  string
	Type    sanziv1.EntryType
	Payload []byte
	// Subject is the id of the entry this one is about, if any.
	Subject string
	// About, when > 0, makes the entry's subject the About-th record of
	// the same Append (1-based), whose id is known only once it is
	// written: an alert about the transaction that raised it.
	About int
	// Raw, when set, is an entry another node sealed (a village's, held by
	// its town): it is stored verbatim if it follows the head of its chain,
	// skipped if the same entry is already held, and refused (ErrFork,
	// ErrGap) otherwise. Its signature is the caller's to check; the
	// indexer does not see it. The other fields are ignored.
	Raw []byte
}

// Indexer keeps a node's indexes inside the ledger's write transactions. Both
// methods run on the committer goroutine; they must not block on anything but
// the transaction.
type Indexer interface {
	// Check is called before any record of one Append is written and sees
	// every earlier write of the same transaction. An error refuses that
	// Append whole (nothing of it is written) and is returned to its caller;
	// it must not have written anything itself. It may complete a record's
	// payload with what only this transaction knows (the next number of a
	// sequence): what it leaves in recs is what is written and signed.
	Check(tx *bolt.Tx, recs []Record) error
	// Index is called after each entry is written, the node's own and those
	// stored verbatim (Record.Raw) alike. An error aborts the
	// whole transaction (every Append in it fails), so return one only for
	// storage failures.
	Index(tx *bolt.Tx, e *Stored) error
}

// Config sets up a ledger.
type Config struct {
	// Path of the bbolt file; created if missing.
	Path string
	// Keys signs for the origins this node writes and verifies the rest.
	Keys KeyRing
	// Indexer is optional.
	Indexer Indexer
	// Now is the clock for recorded_at; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// MaxBatch caps the records in one transaction; default 4096.
	MaxBatch int
	// NoSync turns off fsync: for throw-away tests only.
	NoSync bool
	// CheckCert checks the certificates of key rotations authorised by the
	// district CA (pki.Rotation); without it a chain holding one fails
	// the check at open. Optional.
	CheckCert CertCheck
	// CheckLater makes Open take each chain's head from its newest entry
	// and leave the check of the chains (links and hashes of every entry,
	// the newest signature) to CheckChains, which runs it in the
	// background, so that opening takes the same time at a million
	// entries as at a hundred (issue 17). Until the check ends (Checked),
	// a chain whose stored rows were edited while the node was down still
	// takes new entries; the parent refuses the edited ones at the next
	// push whatever the node does. Without it Open checks every chain
	// before it returns.
	CheckLater bool
	// Split masks the personal data of the entries this node seals: an
	// entry whose payload it masks keeps the whole payload in its private
	// part, outside the hash (private.go), and every chain check compares
	// the two parts. Optional (nil: nothing is split and split entries
	// are checked only against their digest); nodes set entries.Masker.
	Split Masker
}

// KeyRing is the seam to the node's keys. Public is the key a chain starts
// with (its seq 1); key rotations in the chain name the keys after it.
type KeyRing interface {
	Private(origin string) (ed25519.PrivateKey, bool)
	Public(origin string) (ed25519.PublicKey, bool)
}

func (c *Config) validate() error {
	if c.Path == "" {
		return errors.New("ledger config: Path is required")
	}
	if c.Keys == nil {
		return errors.New("ledger config: Keys is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 4096
	}
	return nil
}

// Stats counts what the ledger has done since it opened.
type Stats struct {
	Entries  uint64 // entries appended
	Commits  uint64 // bbolt transactions (fsyncs) that appended
	Appends  uint64 // Append calls that succeeded
	Refused  uint64 // Append calls refused by the indexer
	MaxBatch uint64 // most records in one commit
}

// Ledger is an open ledger file. It is safe for concurrent use.
type Ledger struct {
	cfg  Config
	db   *bolt.DB
	log  *slog.Logger
	reqs chan *appendReq

	mu     sync.RWMutex // guards closed, heads, broken
	closed bool
	heads  map[string]Head
	broken map[string]*VerifyError

	done chan struct{}
	// checked is closed when the check at open is over; stopCheck stops a
	// deferred one (Close).
	checked, stopCheck chan struct{}
	// toCheck are the heads at open that CheckChains checks up to.
	toCheck   map[string]Head
	checkOnce sync.Once
	// unchecked holds, for each chain the deferred check has not passed
	// yet, a channel closed when it has (see waitChecked); the map is
	// made at Open and only its channels change.
	unchecked   map[string]chan struct{}
	uncheckedMu sync.Mutex
	released    map[string]bool

	stEntries, stCommits, stAppends, stRefused, stMaxBatch atomic.Uint64
}

type appendReq struct {
	ctx  context.Context
	recs []Record
	out  []*Stored
	err  error
	done chan struct{}
	// src and each are set instead of recs for a streamed append
	// (AppendStream); out stays empty.
	src     RecordSource
	each    func(*Stored)
	written int
}

// Open opens (or creates) the ledger at cfg.Path, checks every chain's links,
// hashes and newest signature, and starts the committer. A chain that fails
// the check stays readable but refuses new entries (ErrChainBroken).
func Open(cfg Config) (*Ledger, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second,
		NoSync:  cfg.NoSync,
		// The free list is written with every commit (a few pages: an
		// append-only file frees little), so that an open reads it
		// instead of walking every page of the file to find the free
		// ones, which took longer the longer the history (issue 17). A
		// file written without it is walked once, by the first open.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", cfg.Path, err)
	}
	l := &Ledger{
		cfg:    cfg,
		db:     db,
		log:    cfg.Logger,
		reqs:   make(chan *appendReq, 1024),
		heads:  map[string]Head{},
		broken: map[string]*VerifyError{},
		done:   make(chan struct{}),

		checked:   make(chan struct{}),
		stopCheck: make(chan struct{}),
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketChains)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: create buckets: %w", cfg.Path, err)
	}
	if cfg.CheckLater {
		if err := l.openHeads(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open ledger %s: read chain heads: %w", cfg.Path, err)
		}
		l.toCheck = maps.Clone(l.heads)
		l.unchecked, l.released = map[string]chan struct{}{}, map[string]bool{}
		for o := range l.toCheck {
			l.unchecked[o] = make(chan struct{})
		}
	} else {
		if err := l.checkChains(); err != nil {
			db.Close()
			return nil, err
		}
		l.checkOnce.Do(func() { close(l.checked) })
	}
	go l.run()
	return l, nil
}

// checkChains walks every chain at open: links and hashes of every entry,
// signature of the newest. This is what catches a row edited while the node
// was down.
func (l *Ledger) checkChains() error {
	return l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChains).ForEachBucket(func(name []byte) error {
			origin := string(name)
			head, verr := verifyBucket(tx.Bucket(bucketChains).Bucket(name), origin, l.cfg.Keys, l.cfg.CheckCert, l.cfg.Split, false)
			if verr != nil {
				var ve *VerifyError
				if !errors.As(verr, &ve) {
					return verr
				}
				l.broken[origin] = ve
				l.log.Error("chain failed verification; refusing new entries for this origin until it is repaired", "origin", origin, "seq", ve.Seq, "problem", ve.Problem)
			}
			l.heads[origin] = head
			return nil
		})
	})
}

// verifyBucket checks one chain bucket and returns its head (as far as it
// could be read).
func verifyBucket(b *bolt.Bucket, origin string, keys KeyRing, check CertCheck, m Masker, everySignature bool) (Head, error) {
	var head Head
	pub, ok := keys.Public(origin)
	if !ok {
		return head, &VerifyError{Origin: origin, Seq: 1, Problem: "no public key for this origin"}
	}
	v := NewChainVerifier(origin, pub, 1, [HashSize]byte{}, everySignature).WithKeys(KeyOptions{CheckCert: check}).WithPrivate(PrivateOptions{Masker: m})
	c := b.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		s, err := v.Next(keySeq(k), raw)
		if err != nil {
			// The head is still the newest stored entry, so that nothing
			// is ever written over it.
			if lk, lraw := c.Last(); lk != nil {
				head.Seq = keySeq(lk)
				if l, err := Peek(lraw); err == nil {
					head.Hash = l.BodyHash()
				}
			}
			return head, err
		}
		head = Head{Seq: s.Seq, Hash: s.Hash}
	}
	_, err := v.Finish()
	return head, err
}

// Verify walks every chain in the file at path, checking every signature,
// and returns the first problem of each broken chain (nil when all is well)
// and how many entries each chain holds. It opens the file read-only and
// fails if a running node holds it.
func Verify(path string, keys KeyRing) (map[string]int, []*VerifyError, error) {
	return VerifyWith(path, keys, nil)
}

// VerifyWith is Verify with check for the certificates of key rotations
// signed by their new key (authorised by the district CA).
func VerifyWith(path string, keys KeyRing, check CertCheck) (map[string]int, []*VerifyError, error) {
	counts := map[string]int{}
	var problems []*VerifyError
	err := View(path, func(tx *bolt.Tx) error {
		chains := tx.Bucket(bucketChains)
		if chains == nil {
			return nil
		}
		err := chains.ForEachBucket(func(name []byte) error {
			origin := string(name)
			head, err := verifyBucket(chains.Bucket(name), origin, keys, check, nil, true)
			counts[origin] = int(head.Seq)
			var ve *VerifyError
			if errors.As(err, &ve) {
				problems = append(problems, ve)
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("verify ledger %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return counts, problems, nil
}

// View runs fn in one read-only transaction over the ledger file at path
// (and what else the node keeps in it: the attachments' index), for the
// tools that read a stopped node's file: verify, backtest. It opens the
// file read-only and fails within a second, saying why, when a running
// node holds it, rather than wait for the node to stop.
func View(path string, fn func(tx *bolt.Tx) error) error {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open ledger %s read-only (is a node still running on it?): %w", path, err)
	}
	defer db.Close()
	return db.View(fn)
}

// DB is the underlying bbolt file, for indexes that read in their own
// transactions. Writes must go through Append.
func (l *Ledger) DB() *bolt.DB { return l.db }

// Head returns the newest entry of origin's chain.
func (l *Ledger) Head(origin string) Head {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.heads[origin]
}

// Origins lists every origin with a chain in the file, sorted.
func (l *Ledger) Origins() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.heads))
	for o := range l.heads {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// ChainBroken reports why origin's chain refuses writes, or nil.
func (l *Ledger) ChainBroken(origin string) *VerifyError {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.broken[origin]
}

// Broken lists every chain that refuses writes.
func (l *Ledger) Broken() []*VerifyError {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*VerifyError, 0, len(l.broken))
	for _, v := range l.broken {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

// Stats returns counters since open.
func (l *Ledger) Stats() Stats {
	return Stats{
		Entries:  l.stEntries.Load(),
		Commits:  l.stCommits.Load(),
		Appends:  l.stAppends.Load(),
		Refused:  l.stRefused.Load(),
		MaxBatch: l.stMaxBatch.Load(),
	}
}

// Get reads one entry.
func (l *Ledger) Get(origin string, seq uint64) (*Stored, error) {
	var out *Stored
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = GetTx(tx, origin, seq)
		return err
	})
	return out, err
}

// GetTx reads one entry inside a caller's transaction.
func GetTx(tx *bolt.Tx, origin string, seq uint64) (*Stored, error) {
	b := tx.Bucket(bucketChains).Bucket([]byte(origin))
	if b == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, EntryID(origin, seq))
	}
	raw := b.Get(seqKey(seq))
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, EntryID(origin, seq))
	}
	return Decode(append([]byte(nil), raw...))
}

// Range calls fn for the entries of origin from seq from on, in order, until
// fn returns false or limit entries were read (limit <= 0: no limit).
func (l *Ledger) Range(origin string, from uint64, limit int, fn func(*Stored) bool) error {
	return l.rangeRaw(origin, from, limit, func(seq uint64, raw []byte) (bool, error) {
		s, err := Decode(raw)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", EntryID(origin, seq), err)
		}
		return fn(s), nil
	})
}

// RangeRaw is Range for senders that pass entries on verbatim (a node's
// outbox): it calls fn with each entry's seq, its encoding (a copy fn may
// keep) and whether it carries a signature, without decoding the entry
// and its body. Decoding every entry a village or town sends up, only to
// take its bytes back, was a twentieth of a town's CPU in a sync and the
// same share of each village's (issue 17). The receiver verifies every
// entry; an encoding whose fields do not parse stops the range with an
// error, as in Range.
func (l *Ledger) RangeRaw(origin string, from uint64, limit int, fn func(seq uint64, raw []byte, signed bool) bool) error {
	return l.rangeRaw(origin, from, limit, func(seq uint64, raw []byte) (bool, error) {
		signed := false
		if err := WireFields(raw, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) {
			if n == 3 && typ == protowire.BytesType { // Entry.signature
				signed = len(v) > 0
			}
		}); err != nil {
			return false, fmt.Errorf("read %s: decode entry: %w", EntryID(origin, seq), err)
		}
		return fn(seq, raw, signed), nil
	})
}

// rangeRaw walks origin's chain from seq from on, in one read
// transaction, handing fn a copy of each stored entry (bbolt's bytes are
// only valid inside the transaction) until fn says stop or fails, or limit
// entries were read (limit <= 0: no limit).
func (l *Ledger) rangeRaw(origin string, from uint64, limit int, fn func(seq uint64, raw []byte) (bool, error)) error {
	return l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChains).Bucket([]byte(origin))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		n := 0
		for k, raw := c.Seek(seqKey(from)); k != nil; k, raw = c.Next() {
			more, err := fn(keySeq(k), append([]byte(nil), raw...))
			if err != nil || !more {
				return err
			}
			if n++; limit > 0 && n >= limit {
				return nil
			}
		}
		return nil
	})
}

// Append records recs atomically (all or none) and returns them as stored
// once they are durable. Records of different origins may be mixed.
func (l *Ledger) Append(ctx context.Context, recs ...Record) ([]*Stored, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	for i, r := range recs {
		if r.Raw != nil {
			link, err := Peek(r.Raw)
			if err != nil {
				return nil, fmt.Errorf("verbatim entry %d: %w", i, err)
			}
			recs[i].Origin = link.Origin
			r.Origin = link.Origin
		}
		// A chain whose check (CheckLater) is still running takes nothing
		// until it is known not to be broken.
		if err := l.waitChecked(ctx, r.Origin); err != nil {
			return nil, err
		}
		if r.Raw != nil {
			if err := l.unbroken(r.Origin); err != nil {
				return nil, err
			}
		} else if err := l.admit(r.Origin); err != nil {
			return nil, err
		}
	}
	req := &appendReq{ctx: ctx, recs: recs, done: make(chan struct{})}
	if err := l.submit(req); err != nil {
		return nil, err
	}
	return req.out, req.err
}

// submit hands req to the committer and waits for its commit, even if its
// ctx ends: the request may already be in a transaction, and its caller
// must learn whether it was recorded.
func (l *Ledger) submit(req *appendReq) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.reqs <- req
	l.mu.RUnlock()
	<-req.done
	return nil
}

// admit refuses a record of the node's own for origin when the node holds
// no key for it or its chain is broken.
func (l *Ledger) admit(origin string) error {
	if _, ok := l.cfg.Keys.Private(origin); !ok {
		return fmt.Errorf("%w %s", ErrNoKey, origin)
	}
	return l.unbroken(origin)
}

// unbroken refuses a write to origin's chain while it is broken.
func (l *Ledger) unbroken(origin string) error {
	if ve := l.ChainBroken(origin); ve != nil {
		return fmt.Errorf("%w: %v; writes to this chain are refused until it is repaired", ErrChainBroken, ve)
	}
	return nil
}

// Close stops taking writes, commits everything already queued and closes
// the file. Nothing acknowledged is lost, and nothing queued is dropped.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	close(l.stopCheck)
	l.checkOnce.Do(func() { close(l.checked) }) // never started: nothing to wait for
	<-l.checked
	for o := range l.unchecked {
		l.release(o) // a write still waiting learns the ledger is closed
	}
	return l.db.Close()
}

func timestampOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Walk calls fn for every entry in the file, chain by chain (origins in
// order) and seq by seq, inside tx; tools that read a stopped node's file
// (backtests, exports) use it with a read-only bbolt handle.
func Walk(tx *bolt.Tx, fn func(*Stored) error) error {
	chains := tx.Bucket(bucketChains)
	if chains == nil {
		return nil
	}
	return chains.ForEachBucket(func(name []byte) error {
		return chains.Bucket(name).ForEach(func(k, raw []byte) error {
			s, err := Decode(append([]byte(nil), raw...))
			if err != nil {
				return fmt.Errorf("read %s: %w", EntryID(string(name), keySeq(k)), err)
			}
			return fn(s)
		})
	})
}

// HeadSeqTx is the seq of the last entry of origin's chain as tx sees it (0
// for an empty chain), earlier writes of the same transaction included: an
// indexer's Check uses it to know the ids the records it checks will get.
func HeadSeqTx(tx *bolt.Tx, origin string) uint64 {
	b := tx.Bucket(bucketChains)
	if b == nil {
		return 0
	}
	if b = b.Bucket([]byte(origin)); b == nil {
		return 0
	}
	k, _ := b.Cursor().Last()
	if k == nil {
		return 0
	}
	return keySeq(k)
}
