// Package supervise follows a node's books and keeps what needs the chain's
// history (DESIGN.md, "Rules, workflow and alerts"): the catalog's
// procedures and their step timers (node/workflow), the stateful rules
// (node/watch), the rule-set versions drafted and published in the chain
// with their four-eyes check, and through a Tier what the node's tier adds
// (node/town: a town's view across its villages, a village's inbox of its
// town's decisions). It rebuilds all of it by
// replaying the chain at start, then follows every append; what it finds
// (alerts, cards, procedures, decisions) it records through the books.
//
// The books know it only as the books.Supervisor they ask while recording;
// the API asks it for procedures, decisions and rule sets.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Config turns on the supervision that needs history: the catalog's
// procedures and their timers, the stateful rules, and rule-set versions
// recorded as entries.
type Config struct {
	Catalog  *sanziv1.Catalog
	Calendar *calendar.Calendar
	// Person names who holds post at org, for the cards; nil names nobody.
	Person func(org, post string) string
	// Notify is told of every alert and card recorded (by a rule at
	// recording, by a stateful rule or by a timer), to tell people; nil
	// tells nobody. It must not block.
	Notify func(stored []*ledger.Stored)
	// Tier is what the node's tier adds (node/town picks it by the
	// idcode.Level the node runs at); nil is None.
	Tier Tier
	// Checkpoints, when set, keeps the state in the ledger's file with
	// the chain positions it reflects (node/checkpoint): a start restores
	// it and replays only the entries after it, and rebuilds it by
	// replaying every chain when it is missing, stale or does not match
	// them. Nil replays every chain at every start.
	Checkpoints *checkpoint.Store
	// CheckpointEvery is how many entries Sweep lets the state follow
	// before it writes a checkpoint; default DefaultCheckpointEvery.
	CheckpointEvery int
	// Logger says what a start restored or rebuilt; default slog.Default().
	Logger *slog.Logger
}

// Supervisor is the state derived from the books' chains in order:
// procedures (workflow), the stateful rules' history (watch), rule-set
// versions, and what the node's Tier adds. It records what it finds through the books. One
// mutex serialises it; recorders only hold it to feed it what they
// committed, so appends still group-commit.
type Supervisor struct {
	b     *books.Books
	cfg   Config
	mu    sync.Mutex
	flows *workflow.Flows
	watch *watch.Watcher
	tier  Tier
	seen  map[string]ledger.Head // origin → last entry observed
	hits  map[string][]rules.Hit // entry id → stateful hits about it, until its recorder takes them
	sets  ruleSets
	// cats follows the catalogs of the district's chain: drafts, and the
	// publications this node checks itself before applying them.
	cats catalog.Published
	// replaying collects hits found while rebuilding state at start; those
	// whose alert entry follows in the chain are dropped from it.
	replaying map[string]rules.Hit
	log       *slog.Logger
	// since counts the entries followed since the last checkpoint.
	since uint64
	// stampOf is the checkpoint's stamp, of the rule set the start
	// began with (stamp).
	stampOf string
	// pend holds what the books published and catchUp has not followed
	// yet (it has its own lock: recorders publish without s.mu).
	pend pending
	// saving is held from a snapshot until it is written (see due).
	saving sync.Mutex
	// dirty is set once the state holds findings the chain does not (they
	// failed to be recorded): until a restart replays them, no checkpoint
	// may keep the state.
	dirty bool
	// start is the rule set the start began with (before the checkpoint
	// or the chains put another in force), and resetTier puts the tier
	// back as it was made: what rebuild starts again from.
	start     *rules.Engine
	resetTier func()
	// rebuilding is set while rebuild replays: the rule sets published
	// along the chains are then kept in rulesAfter, not put in force in
	// the books one after another, so that recorders waiting on s.mu
	// are checked by the set in force throughout.
	rebuilding bool
	rulesAfter *rules.Engine
	// progress, while a start replays, is the entries to follow in all
	// and when it last said how far it is.
	progress struct {
		total, done uint64
		said        time.Time
	}
}

// New supervises b: it rebuilds the state by replaying the whole chain,
// records the alerts a crash kept from being recorded, and from then on
// follows every append of b (it is b's Supervisor). The rules must be set
// on b first: they are the built-in set until the chain publishes another.
func New(ctx context.Context, b *books.Books, cfg Config) (*Supervisor, error) {
	e := b.Rules()
	if e == nil {
		return nil, errors.New("enable supervision: set rules first")
	}
	if cfg.Person == nil {
		cfg.Person = func(string, string) string { return "" }
	}
	if cfg.Tier == nil {
		cfg.Tier = None{}
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Supervisor{b: b, cfg: cfg, tier: cfg.Tier, log: cfg.Logger, start: e}
	if err := s.reset(nil); err != nil {
		return nil, fmt.Errorf("enable supervision: %w", err)
	}
	s.stampOf = s.stamp(e)
	b.Supervise(s)
	rebuild := false
	if cfg.Checkpoints != nil {
		// What rebuild puts back, should the watcher's history from the
		// checkpoint turn out not to decode once the node runs.
		var blank checkpoint.Encoder
		s.tier.Save(&blank)
		data, err := blank.Data()
		if err == nil {
			s.resetTier, err = s.tier.Restore(checkpoint.NewDecoder(data), e)
		}
		if err != nil {
			return nil, fmt.Errorf("enable supervision: the tier's state as made: %w", err)
		}
		// A checkpoint that cannot be used changes nothing (restore puts
		// what it decoded in place only once all of it did).
		if err := s.restore(); err != nil {
			if !errors.Is(err, checkpoint.ErrNone) {
				s.log.Warn("supervision checkpoint not used; rebuilding the state by replaying every chain", "reason", err)
			}
			rebuild = true
			// The closed procedures archived go with the checkpoint: both
			// are forgotten at once, and a crash before the rebuilt state
			// is checkpointed rebuilds again.
			if err := cfg.Checkpoints.Drop(checkpointName, s.clearArchives); err != nil {
				return nil, fmt.Errorf("enable supervision: %w", err)
			}
		}
	}
	if err := s.replay(ctx, rebuild); err != nil {
		return nil, err
	}
	return s, nil
}

// reset makes the state derived from the chains as it is before any entry
// is followed, under the rule set the start began with (s.start): what
// New begins from and rebuild begins again from, in one place so that
// neither misses a part. tier, when not nil, puts the tier back as it was
// made (rebuild's resetTier); it is called only once nothing can fail,
// so that an error leaves the state as it was. The caller holds s.mu or
// is New.
func (s *Supervisor) reset(tier func()) error {
	w, err := watch.New(s.start, s.cfg.Calendar.Location())
	if err != nil {
		return err
	}
	if tier != nil {
		tier()
	}
	s.watch = w
	s.sets = ruleSets{}
	s.sets.init(s.start)
	s.cats = catalog.Published{}
	s.flows = workflow.New(s.cfg.Catalog, s.cfg.Calendar)
	if s.cfg.Checkpoints != nil {
		s.useArchives()
	}
	s.seen = map[string]ledger.Head{}
	s.replaying, s.hits = map[string]rules.Hit{}, map[string][]rules.Hit{}
	s.since, s.dirty = 0, false
	s.progress.total, s.progress.done = 0, 0
	return nil
}

// replay brings the state up to date with the chains at start (from the
// checkpoint restored, or from seq 1) and records what a crash kept from
// being recorded. A state rebuilt from seq 1, or that followed many
// entries past its checkpoint, is checkpointed at once.
func (s *Supervisor) replay(ctx context.Context, rebuild bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replayHeld(ctx, rebuild)
}

// replayHeld is replay for a caller that holds s.mu.
func (s *Supervisor) replayHeld(ctx context.Context, rebuild bool) error {
	t0 := time.Now()
	for _, o := range s.b.Ledger().Origins() {
		if s.b.Serves(o) || s.tier.Follows(o) {
			s.progress.total += s.b.Ledger().Head(o).Seq - s.seen[o].Seq
		}
	}
	s.progress.said = t0
	if rebuild {
		s.log.Info("rebuilding the supervision state: replaying every chain", "entries", s.progress.total)
	}
	_, err := s.catchUp(ctx)
	if s.rebuilding {
		// The rule set the chains put in force while rebuild replayed
		// them (floor.go), followed all the way or not.
		s.rebuilding = false
		s.b.SetRules(s.rulesAfter)
	}
	if err != nil {
		return fmt.Errorf("enable supervision: replay: %w", err)
	}
	if rebuild {
		s.log.Info("supervision state rebuilt", "entries", s.progress.done, "took", time.Since(t0).Round(time.Millisecond))
	}
	var missed []rules.Hit
	for _, k := range slices.Sorted(maps.Keys(s.replaying)) {
		missed = append(missed, s.replaying[k])
	}
	s.replaying, s.hits = nil, map[string][]rules.Hit{}
	if len(missed) > 0 {
		if _, err := s.b.RecordFindings(ctx, nil, missed); err != nil {
			return fmt.Errorf("enable supervision: record %d alerts found on replay: %w", len(missed), err)
		}
	}
	if _, err := s.catchUp(ctx); err != nil { // the town's decisions a crash kept from being applied
		return fmt.Errorf("enable supervision: %w", err)
	}
	if s.cfg.Checkpoints != nil && (rebuild || s.since >= uint64(s.cfg.CheckpointEvery)) {
		if err := s.save(); err != nil {
			s.log.Warn("supervision state not checkpointed; the next start replays again", "err", err)
		}
	}
	return nil
}

// catchUp feeds every entry appended since the last call to the
// supervision state, in chain order, and records the alerts the stateful
// rules raise about them. The caller holds s.mu.
func (s *Supervisor) catchUp(ctx context.Context) ([]*ledger.Stored, error) {
	return s.catchUpTo(ctx, nil)
}

// catchUpTo is catchUp that, in a chain the books have published up to
// until[origin], need not go further than that: the entries after it
// that are not handed over yet are another recorder's, just committed
// and about to be published, and its own Recorded follows them (nil
// until: every chain to its head). Reading them back here, because one
// recorder of a group commit came first, was what most appends cost the
// supervision (issue 17). Entries handed over are followed wherever they
// are, so nothing is followed out of its chain's order.
func (s *Supervisor) catchUpTo(ctx context.Context, until map[string]uint64) ([]*ledger.Stored, error) {
	recorded, err := s.follow(ctx, until)
	var lost *watchLostError
	if errors.As(err, &lost) {
		// Everything followed in this call is followed again by the
		// rebuild, and its findings not yet in the chain recorded then.
		return recorded, s.rebuild(ctx, lost.err)
	}
	return recorded, err
}

// follow does what catchUpTo says; a watcher whose history from the
// checkpoint did not decode stops it with a *watchLostError.
func (s *Supervisor) follow(ctx context.Context, until map[string]uint64) ([]*ledger.Stored, error) {
	var recorded, run []*ledger.Stored
	for {
		var found []rules.Hit
		n := 0
		for _, origin := range s.b.Ledger().Origins() {
			observe := s.observe
			if !s.b.Serves(origin) {
				if !s.tier.Follows(origin) {
					s.pend.drop(origin, ^uint64(0))
					continue
				}
				// A chain the node holds for its tier (a town its
				// villages', a village its town's): their own nodes
				// supervise them; the tier looks at them.
				observe = s.observeHeld
			}
			var ferr error
			feed := func(st *ledger.Stored) bool {
				n++
				s.seen[origin] = ledger.Head{Seq: st.Seq, Hash: st.Hash}
				s.since++
				if s.replaying != nil {
					s.replayed()
				}
				hits, err := observe(st)
				if err != nil {
					ferr = err
					return false
				}
				found = append(found, hits...)
				return true
			}
			// What the books published is taken as it was written; only
			// the entries they did not hand over (yet) are read back.
			next := s.seen[origin].Seq + 1
			limit, limited := until[origin]
			for ferr == nil {
				if st := s.pend.take(origin, next); st != nil {
					feed(st)
					next++
					continue
				}
				if limited && next > limit {
					break
				}
				if limited && s.pend.await(origin, next, handOverWait) {
					continue // a recorder of the same group commit handed it over
				}
				// Read a run, then fed once the chain's read transaction
				// is closed: the watcher and the workflow read their
				// archives in the same bbolt file, and a read transaction
				// begun while another is open in the same goroutine waits
				// forever on a write that maps the file again (bbolt's
				// mmap lock; TestArchiveReadWhileChainRead).
				run = run[:0]
				err := s.b.Ledger().Range(origin, next, followRun, func(st *ledger.Stored) bool {
					run = append(run, st)
					return !s.pend.has(origin, st.Seq+1) && !(limited && st.Seq+1 > limit)
				})
				read := len(run)
				for _, st := range run {
					next = st.Seq + 1
					if !feed(st) {
						break
					}
				}
				if err != nil || read == 0 {
					ferr = errors.Join(ferr, err)
					break
				}
			}
			s.pend.drop(origin, s.seen[origin].Seq)
			if ferr != nil {
				return recorded, fmt.Errorf("follow chain %s: %w", origin, ferr)
			}
		}
		if n == 0 {
			if s.replaying != nil {
				return recorded, nil
			}
			applied, err := s.tier.Apply(ctx, s.flows)
			if err != nil {
				return recorded, err
			}
			if applied == 0 {
				return recorded, nil
			}
			continue // observe what was applied
		}
		if len(found) == 0 || s.replaying != nil {
			continue
		}
		out, err := s.b.RecordFindings(ctx, nil, found)
		recorded = append(recorded, out...)
		if err != nil {
			s.dirty = true
			return recorded, err
		}
	}
}

// followRun is how many entries follow reads from a chain in one read
// transaction before it feeds them.
const followRun = 256

// replayed counts one entry replayed at start and says, every few
// seconds, how far the replay is.
func (s *Supervisor) replayed() {
	p := &s.progress
	p.done++
	if p.done%4096 == 0 && time.Since(p.said) >= 2*time.Second {
		p.said = time.Now()
		s.log.Info("replaying chains for supervision", "entries", p.done, "of", p.total)
	}
}

// observeHeld feeds one entry of a chain the tier follows to the tier; the
// hits it raises are found again on replay like the node's own.
func (s *Supervisor) observeHeld(st *ledger.Stored) ([]rules.Hit, error) {
	// The tier's history from the checkpoint is made here, at the first
	// entry of a followed chain, if not before (as observe does the
	// node's own).
	if err := s.historyErr(); err != nil {
		return nil, &watchLostError{err}
	}
	hits, err := s.tier.ObserveHeld(st)
	for _, h := range hits {
		if s.replaying != nil {
			s.replaying[h.Key] = h
		}
	}
	return hits, err
}

// observe feeds one committed entry to the state and returns the stateful
// hits it raises.
func (s *Supervisor) observe(st *ledger.Stored) ([]rules.Hit, error) {
	// The watcher's history from the checkpoint is made here, at the
	// first entry followed, or in a sweep, if not before (watch.Load).
	if err := s.historyErr(); err != nil {
		return nil, &watchLostError{err}
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil || m == nil {
		return nil, err
	}
	id := st.ID()
	msg := m // what is observed: a catalog's publication becomes the catalog it puts in force
	switch m := m.(type) {
	case *sanziv1.Alert:
		if s.replaying != nil {
			delete(s.replaying, m.GetKey())
		}
	case *sanziv1.Procedure:
		if m.GetSubjectId() == "" {
			m.SubjectId = st.Subject
		}
	case *sanziv1.RuleSetVersion:
		if err := s.observeRuleSet(st.Origin, id, st.Author, m); err != nil {
			return nil, fmt.Errorf("rule set entry %s: %w", id, err)
		}
	case *sanziv1.Catalog:
		// Only the district publishes catalogs, in its own chain, as a
		// draft by one rules officer and its publication by another. The
		// district's writer checked the two accounts; the node does not
		// trust that it did: a catalog published by its drafter, written
		// in one entry, or whose draft does not validate is not put in
		// force, is listed as ignored with the reason (Catalogs), and
		// supervision goes on.
		if !strings.HasSuffix(st.Origin, "000000") {
			return nil, nil
		}
		cat, err := s.cats.Observe(id, st.Author, st.Payload, m)
		if err != nil {
			slog.Warn("a catalog publication in the district's chain is not applied", "entry", id, "version", m.GetVersion(),
				"publishedBy", st.Author, "err", err)
		}
		if cat == nil {
			return nil, nil
		}
		msg = cat
	}
	s.tier.ObserveOwn(st, msg)
	if err := s.flows.Observe(id, st.RecordedAt, msg); err != nil {
		return nil, err
	}
	hits := s.watch.Observe(watch.Event{ID: id, RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: msg})
	for i := range hits {
		if hits[i].Subject == "" {
			hits[i].Subject = id
		}
		if s.replaying != nil {
			s.replaying[hits[i].Key] = hits[i]
		}
	}
	if len(hits) > 0 && s.replaying == nil && len(s.hits) < 10_000 {
		s.hits[id] = append(s.hits[id], hits...)
	}
	return hits, nil
}

// The books' Supervisor: what the books ask as they record (see
// books.Supervisor for each method's contract).
var _ books.Supervisor = (*Supervisor)(nil)

// Recorded brings the state up to date after a recorder's append and
// returns the stateful hits about id.
func (s *Supervisor) Recorded(ctx context.Context, id string) ([]rules.Hit, error) {
	var until map[string]uint64
	if id != "" {
		// Everything published so far, the recorder's own entries
		// among them (see catchUpTo); "" (Follow) is every chain.
		until = s.pend.published()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUpTo(ctx, until); err != nil {
		return nil, err
	}
	hits := s.hits[id]
	delete(s.hits, id)
	return hits, nil
}

// Follow brings the supervision up to date with entries appended outside
// the books (the district's chain a node pulls), so that a rule set
// published there applies from the next entry on.
func (s *Supervisor) Follow(ctx context.Context) error {
	_, err := s.Recorded(ctx, "")
	return err
}

// CheckLists runs the stateful rules that decide before recording (lists:
// RELATIVE, OUTSIDER).
func (s *Supervisor) CheckLists(m proto.Message) []rules.Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watch.Check(m)
}

// Resolution is the workflow's verdict on the resolution t names.
func (s *Supervisor) Resolution(t *sanziv1.Transaction) workflow.Resolution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows.Resolution(t)
}

// NewProcedure is the procedure recording m opens, or nil.
func (s *Supervisor) NewProcedure(org string, m proto.Message, amountFen int64, summary string) *sanziv1.Procedure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows.NewProcedure(org, m, amountFen, summary)
}

// Appending counts a recorder's append in flight until it hands over
// what it wrote (see pending.await).
func (s *Supervisor) Appending() func([]*ledger.Stored) {
	s.pend.begin()
	return s.pend.end
}

// Published tells Notify of what the books appended, and keeps it for
// catchUp to follow without reading it back from the ledger.
func (s *Supervisor) Published(out []*ledger.Stored) {
	s.pend.add(out)
	if s.cfg.Notify != nil {
		s.cfg.Notify(out)
	}
}

// Held hands over entries of chains the tier follows that were stored
// outside the books (a town's inbox stores its villages' pushes), as
// Published does for the books' own: catchUp follows them as they were
// stored instead of reading each back from the ledger and decoding it
// again, which was a fifth of a town's CPU while its villages pushed
// (issue 17). Entries it is not handed, or past what pending keeps, are
// still read from the ledger; Notify is not told (they are the villages'
// entries, not the node's).
func (s *Supervisor) Held(out []*ledger.Stored) {
	s.pend.add(out)
}

// Raised remembers the keys of the node's own alerts about the chains its
// tier follows (a town's cross-village RELATIVE, TAMPER), as the Tier does.
func (s *Supervisor) Raised(ctx context.Context, key string, mark bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUp(ctx); err != nil {
		return false // record it again rather than miss it
	}
	return s.tier.Raised(key, mark)
}

// Sweep gives the cards the step timers owe and raises the alerts the
// time-driven rules find at now (ARREARS, EXPIRING, CASH-STOCK, …). The node
// calls it every minute with the wall clock; tests with theirs.
func (s *Supervisor) Sweep(ctx context.Context, now time.Time) ([]*ledger.Stored, error) {
	out, sn, err := s.sweep(ctx, now)
	s.writeDue(sn) // without s.mu: recorders go on while it is written
	return out, err
}

// sweep is Sweep under s.mu; it returns the checkpoint due, if any.
func (s *Supervisor) sweep(ctx context.Context, now time.Time) ([]*ledger.Stored, *snap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUp(ctx); err != nil {
		return nil, nil, fmt.Errorf("sweep: %w", err)
	}
	if err := s.watchReady(ctx); err != nil {
		return nil, nil, fmt.Errorf("sweep: %w", err)
	}
	cards := s.flows.Due(now, s.cfg.Person)
	hits := s.watch.Sweep(now)
	out, err := s.b.RecordFindings(ctx, cards, hits)
	if err != nil {
		if len(cards)+len(hits) > 0 {
			s.dirty = true // given and raised here, not in the chain
		}
		return nil, nil, fmt.Errorf("sweep at %s: %w", now.Format(time.RFC3339), err)
	}
	if _, err := s.catchUp(ctx); err != nil {
		return out, nil, fmt.Errorf("sweep: %w", err)
	}
	return out, s.due(), nil
}

// maxPending bounds the entries published and not yet followed that
// pending keeps; past it, catchUp reads the others back from the ledger.
const maxPending = 4096

// pending is what the books appended and handed over (Published), by
// origin and seq, until catchUp follows it. Reading each entry back from
// the ledger and decoding it again was half of what following an append
// cost, and a sixth of a rules-on recording's allocations (issue 17); an
// entry not handed over (appended outside the books, or published after
// catchUp went past it) is still read from the ledger, so pending only
// saves work and never decides what is followed.
type pending struct {
	mu sync.Mutex
	by map[string]map[uint64]*ledger.Stored
	n  int
	// high is the last seq of each chain published, kept or not.
	high map[string]uint64
	// followed is the last seq of each chain catchUp followed: an entry
	// handed over again (Appending, then Published) is not kept twice.
	followed map[string]uint64
	// inflight counts the appends begun and not handed over yet;
	// changed is closed (and replaced) whenever an append hands over.
	inflight int
	changed  chan struct{}
}

// handOverWait bounds how long a recorder's catch-up waits for an entry
// another recorder is handing over before reading it back from the ledger
// (an entry appended outside the books is never handed over).
const handOverWait = time.Millisecond

// begin counts an append in flight.
func (p *pending) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight++
}

// end is an append in flight handing over what it wrote.
func (p *pending) end(out []*ledger.Stored) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addLocked(out)
	p.inflight--
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// await waits, at most d, for origin's entry at seq to be handed over
// while appends are in flight; it says whether it is kept now. The entry
// is committed (catchUp found it below what was published), so an append
// in flight is about to hand it over unless it was appended outside the
// books: d bounds what that costs.
func (p *pending) await(origin string, seq uint64, d time.Duration) bool {
	var timeout <-chan time.Time
	for {
		p.mu.Lock()
		_, ok := p.by[origin][seq]
		if ok || p.inflight == 0 {
			p.mu.Unlock()
			return ok
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return p.has(origin, seq)
		}
	}
}

// add keeps out, as far as maxPending allows.
func (p *pending) add(out []*ledger.Stored) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addLocked(out)
}

func (p *pending) addLocked(out []*ledger.Stored) {
	if p.by == nil {
		p.by, p.high, p.followed = map[string]map[uint64]*ledger.Stored{}, map[string]uint64{}, map[string]uint64{}
	}
	for _, st := range out {
		p.high[st.Origin] = max(p.high[st.Origin], st.Seq)
		if p.n >= maxPending || st.Seq <= p.followed[st.Origin] {
			continue
		}
		m := p.by[st.Origin]
		if m == nil {
			m = map[uint64]*ledger.Stored{}
			p.by[st.Origin] = m
		}
		if _, ok := m[st.Seq]; !ok {
			m[st.Seq] = st
			p.n++
		}
	}
}

// published is the last seq published of each chain the books have
// published in.
func (p *pending) published() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.high)
}

// take removes and returns origin's entry at seq, nil when not kept.
func (p *pending) take(origin string, seq uint64) *ledger.Stored {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.by[origin][seq]
	if ok {
		delete(p.by[origin], seq)
		p.n--
	}
	return st
}

// has says whether origin's entry at seq is kept.
func (p *pending) has(origin string, seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.by[origin][seq]
	return ok
}

// drop forgets origin's entries up to seq (followed already).
func (p *pending) drop(origin string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.followed != nil {
		p.followed[origin] = max(p.followed[origin], seq)
	}
	for k := range p.by[origin] {
		if k <= seq {
			delete(p.by[origin], k)
			p.n--
		}
	}
}
