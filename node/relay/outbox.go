// Package relay carries chains between tiers (DESIGN.md, "Sync between
// tiers"). The child's side: an outbox that pushes a node's chain to its
// parent, from what the parent acknowledged, in batches bounded by bytes,
// and resumes by itself after any failure with exponential backoff and
// jitter, and a puller that brings down the chains that flow down (the
// district's, a village's town's). A village works offline for weeks; when a
// link appears it catches up without anyone doing anything. The parent's
// side shares what every parent does (the serve loop of one push stream,
// attachments, key and tamper refusals); who may push what is decided by
// the parent: the town's inbox (node/town) or the district
// (federation/cluster).
package relay

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	"github.com/sanzi/sanzi/node/retry"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Dialer connects to the parent's SyncService (mutual TLS, as the node's
// certificate). The returned close function ends the connection.
type Dialer func(ctx context.Context) (sanziv1.SyncServiceClient, func(), error)

// Config sets up an Outbox.
type Config struct {
	Ledger *ledger.Ledger
	// Origin is the node's own chain, always pushed.
	Origin string
	// Origins, when set, lists every chain to push (a town: its own and
	// its villages'); called at each session and while idle.
	Origins func() []string
	// Certificate returns the DER certificate to forward with an origin's
	// first batch of a session (a town forwarding its villages); may be nil.
	Certificate func(origin string) []byte
	Dial        Dialer
	// MaxBatchBytes bounds one batch; default 1 MiB.
	MaxBatchBytes int
	// Base and Max bound the backoff between attempts; default 500ms, 30s.
	Base, Max time.Duration
	// Comeback is how long after the parent stopped being reachable
	// (Unreached) the outbox keeps trying again every Base/8 to Base/4
	// instead of backing off to Max; default 1 minute. A parent that is
	// down (a town restarting, upgraded) costs nothing per try, and
	// its children are then back within a fraction of a second of its
	// start, not up to Max later; an outage longer than that (a network
	// down) climbs the ladder as before.
	Comeback time.Duration
	// Poll is how often a caught-up outbox looks for new entries; default
	// 200ms.
	Poll time.Duration
	// Wake, when set, makes a caught-up outbox look for new entries at
	// once (a town's inbox signals it after storing a village's batch).
	Wake <-chan struct{}
	// AckTimeout bounds the wait for an ack while batches are in flight
	// (from the first batch sent, then from each ack): a link that stops
	// carrying bytes (black-holed, not closed) is cut after it, even with
	// a Send stuck on flow control, and the session starts again. It also
	// bounds reading the parent's heads (at most 30s). Default 1 minute.
	AckTimeout time.Duration
	// Window is how many batches may await their ack at once; default 4
	// (1: each batch waits for the previous one's ack).
	Window int
	// Attachments, when set, sends up before each batch the attachments
	// its entries name that the parent does not hold whole.
	Attachments *AttachmentSource
	// Recheck is how long a chain the parent refused for good stays
	// unpushed unless its head moves; default 10 minutes (one push per
	// Recheck, not a retry storm).
	Recheck time.Duration
	// Resync is how long a session may sit with nothing in flight and
	// nothing to send before it reads the parent's heads again; default
	// 1 minute. A parent that holds less than it acknowledged (a district
	// restored from a backup, a lagging member answering) would otherwise
	// leave an open session idle for ever, connected and silent, with its
	// chains short at the parent: the heads read then say where to resume.
	Resync time.Duration
	// Clock is the time; default time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Status is what the outbox has done, for `sanzi sync status` and /metrics.
type Status struct {
	Origin    string    `json:"origin"`
	Head      uint64    `json:"head"`  // the node's own head
	Acked     uint64    `json:"acked"` // the parent's acknowledged seq
	Lag       uint64    `json:"lag"`   // entries not yet acknowledged
	Connected bool      `json:"connected"`
	LastAck   time.Time `json:"lastAck,omitzero"`
	LastError string    `json:"lastError,omitempty"`
	Failures  int       `json:"failures"` // consecutive failed attempts
	Pushed    uint64    `json:"pushed"`   // entries acknowledged by this run
	// Attachments sent whole by this run, and the bytes of their pieces.
	Attachments     uint64 `json:"attachments"`
	AttachmentBytes uint64 `json:"attachmentBytes"`
	// Sessions counts connections opened to the parent by this run (each
	// try, whether it pushes or fails).
	Sessions uint64 `json:"sessions"`
	// Refused lists the chains the parent refused for good and this
	// outbox no longer pushes; Refusals counts such refusals by this run.
	Refused  []Refused `json:"refused,omitempty"`
	Refusals uint64    `json:"refusals"`
}

// Outbox pushes one chain up.
type Outbox struct {
	cfg     Config
	mu      sync.Mutex
	st      Status
	refused map[string]*Refused // by origin
	// kick wakes a caught-up session at once (PushNow).
	kick chan struct{}
}

// New checks cfg.
func New(cfg Config) (*Outbox, error) {
	if cfg.Ledger == nil || cfg.Origin == "" || cfg.Dial == nil {
		return nil, errors.New("sync outbox: Ledger, Origin and Dial are required")
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 1 << 20
	}
	if cfg.Comeback <= 0 {
		cfg.Comeback = time.Minute
	}
	if cfg.Base <= 0 {
		cfg.Base = 500 * time.Millisecond
	}
	if cfg.Max <= 0 {
		cfg.Max = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = time.Minute
	}
	if cfg.Window <= 0 {
		cfg.Window = 4
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 10 * time.Minute
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Outbox{cfg: cfg, st: Status{Origin: cfg.Origin}, refused: map[string]*Refused{}, kick: make(chan struct{}, 1)}, nil
}

// PushNow wakes the outbox and waits until the parent has acknowledged
// the node's own chain up to its head as it is at the call, or ctx ends.
// The outbox pushes by itself either way; PushNow is for a caller whose
// next step needs the parent to hold what was just recorded (the demo's
// seeding, before its town decides a step of a procedure it recorded).
func (o *Outbox) PushNow(ctx context.Context) error {
	want := o.cfg.Ledger.Head(o.cfg.Origin).Seq
	for {
		o.mu.Lock()
		acked := o.st.Acked
		o.mu.Unlock()
		if acked >= want {
			return nil
		}
		select {
		case o.kick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("push %s up to %d (the parent acknowledged %d): %w", o.cfg.Origin, want, acked, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Status returns a snapshot.
func (o *Outbox) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.st
	s.Refused = o.refusedList()
	s.Head = o.cfg.Ledger.Head(o.cfg.Origin).Seq
	s.Lag = s.Head - min(s.Acked, s.Head)
	return s
}

func (o *Outbox) update(fn func(*Status)) {
	o.mu.Lock()
	fn(&o.st)
	o.mu.Unlock()
}

// ErrFork: the parent holds a different entry at a seq this node holds too.
// Pushing stops: someone must look (the parent raises it as TAMPER).
var ErrFork = errors.New("sync: the parent holds a different entry at a seq this node holds (fork)")

// unreached is a session that ended before the parent answered its first
// call, its connection unavailable (refused, closed during the handshake,
// unroutable): the parent is down or cut off.
type unreached struct{ error }

func (u unreached) Unwrap() error { return u.error }

// Unreached reports whether a session failed without reaching the parent
// (see Config.Comeback).
func Unreached(err error) bool {
	var u unreached
	return errors.As(err, &u)
}

// Run pushes until ctx ends; it returns ctx's error, or ErrFork.
func (o *Outbox) Run(ctx context.Context) error {
	failures := 0
	var unreachedSince time.Time // zero while the parent answers
	for {
		err := o.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrFork) {
			o.cfg.Logger.Error("sync stopped", "origin", o.cfg.Origin, "err", err)
			o.update(func(s *Status) { s.Connected, s.LastError = false, err.Error() })
			return err
		}
		if r := refusal.From(err); r != nil && o.refuse(r) {
			// Not a passing fault: that chain waits for a repair, the
			// others go on at once.
			failures = 0
			o.update(func(s *Status) { s.Connected, s.Failures, s.LastError = false, 0, summary(r)+": "+r.Message })
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(o.cfg.Base):
			}
			continue
		}
		failures++
		wait := retry.Backoff(failures, o.cfg.Base, o.cfg.Max, nil)
		quick := false
		if Unreached(err) {
			now := o.cfg.Clock()
			if unreachedSince.IsZero() {
				unreachedSince = now
			}
			if now.Sub(unreachedSince) < o.cfg.Comeback {
				quick, wait = true, retry.Backoff(1, o.cfg.Base/4, o.cfg.Base/4, nil)
			}
		} else {
			unreachedSince = time.Time{}
		}
		o.update(func(s *Status) {
			s.Connected, s.Failures = false, failures
			if err != nil {
				s.LastError = err.Error()
			}
		})
		if !quick || failures&(failures-1) == 0 { // quick tries: the 1st, 2nd, 4th, 8th… are logged
			o.cfg.Logger.Warn("sync to parent failed; retrying", "origin", o.cfg.Origin, "err", err, "in", wait.Round(time.Millisecond), "failures", failures)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if o.Status().Acked > 0 {
			failures = min(failures, 1) // progress was made: start the ladder again soon
		}
	}
}

func (o *Outbox) origins() []string {
	if o.cfg.Origins != nil {
		return o.cfg.Origins()
	}
	return []string{o.cfg.Origin}
}

// active is the chains to push now: origins without those refused.
func (o *Outbox) active() []string { return o.pushable(o.origins()) }

// session is one connection: find where the parent is, then push until
// something fails. Up to Window batches travel at once (the parent stores
// them in order while the next are on the wire): a sender goroutine builds
// and sends batches, a receiver goroutine reads the acks, which answer the
// batches in order. Whatever blocks, the session ends: a watchdog cancels
// the session's context (and with it the stream, which unblocks a Send
// stuck on flow control as well as a Recv) once batches have waited
// AckTimeout without an ack, and the first error of either goroutine
// cancels it too. session returns only once both goroutines have ended.
func (o *Outbox) session(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client, closeConn, err := o.cfg.Dial(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn()
	o.update(func(s *Status) { s.Sessions++ })
	p := &push{o: o, ctx: ctx, cancel: cancel, client: client, acked: map[string]uint64{}, sent: map[string]uint64{},
		sentCert: map[string]bool{}, held: map[string]bool{}, slots: make(chan struct{}, o.cfg.Window), flights: make(chan flight, o.cfg.Window)}
	if err := p.readHeads(o.origins()); err != nil { // refused chains too: their acks are shown
		if status.Code(err) == codes.Unavailable && ctx.Err() == nil {
			return unreached{err}
		}
		return err
	}
	o.update(func(s *Status) {
		s.Acked, s.Connected, s.Failures = p.acked[o.cfg.Origin], true, 0
		if len(o.refused) == 0 {
			s.LastError = ""
		}
	})
	opening := time.AfterFunc(o.cfg.AckTimeout, func() { cancel(fmt.Errorf("the push stream did not open within %v", o.cfg.AckTimeout)) })
	p.stream, err = client.SyncPush(ctx, grpc.UseCompressor("gzip"))
	if !opening.Stop() {
		return context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("open push stream: %w", err)
	}
	p.watchdog = time.AfterFunc(time.Hour, func() {
		cancel(fmt.Errorf("no ack within %v with %d batches in flight: the link is cut", o.cfg.AckTimeout, len(p.flights)))
	})
	p.watchdog.Stop()
	var wg sync.WaitGroup
	wg.Go(p.send)
	wg.Go(p.receive)
	wg.Wait()
	p.watchdog.Stop()
	p.stream.CloseSend()
	return context.Cause(ctx)
}

// push is the state of one session's stream, shared by its sender and
// receiver.
type push struct {
	o      *Outbox
	ctx    context.Context
	cancel context.CancelCauseFunc
	client sanziv1.SyncServiceClient
	stream grpc.BidiStreamingClient[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]

	// slots holds a token per batch sent and not yet acked (at most
	// Window); flights the batches themselves, oldest first, for the
	// receiver to check each ack against.
	slots   chan struct{}
	flights chan flight

	mu       sync.Mutex
	acked    map[string]uint64 // per origin, what the parent acknowledged
	inflight int               // batches awaiting their ack
	watchdog *time.Timer       // armed while inflight > 0, reset by each ack

	// The sender's own.
	sent     map[string]uint64 // per origin, how far batches went out
	sentCert map[string]bool
	held     map[string]bool // attachments the parent holds whole
}

// flight is one batch sent and not yet acknowledged.
type flight struct {
	entries int
	last    map[string]uint64 // the highest seq per origin in the batch
}

// readHeads reads the parent's heads of origins, checks them against this
// node's chains, and resumes each from its head.
func (p *push) readHeads(origins []string) error {
	if len(origins) == 0 {
		// Nothing to ask for (a town with no chain yet); an empty list
		// would ask for every head the parent holds.
		return nil
	}
	got, err := p.parentHeads(origins)
	if err != nil {
		return fmt.Errorf("read the parent's heads: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, org := range origins {
		p.acked[org] = max(p.acked[org], got[org])
		p.sent[org] = max(p.sent[org], p.acked[org])
	}
	return nil
}

// resync reads the parent's heads of origins again while nothing is in
// flight, and resumes from them each chain the parent holds less of than
// this session believed sent and acknowledged (see Config.Resync): its
// entries go again. With batches in flight it does nothing (the parent's
// heads then trail what was sent for good reason).
func (p *push) resync(origins []string) error {
	p.mu.Lock()
	busy := p.inflight > 0
	p.mu.Unlock()
	if busy || len(origins) == 0 {
		return nil
	}
	got, err := p.parentHeads(origins)
	if err != nil {
		return fmt.Errorf("read the parent's heads again: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, org := range origins {
		believed, ok := p.sent[org]
		if !ok || max(believed, p.acked[org]) <= got[org] {
			continue
		}
		p.o.cfg.Logger.Warn("the parent holds less of a chain than it acknowledged; sending it again from there",
			"origin", org, "parent_head", got[org], "acknowledged", p.acked[org], "sent", believed)
		p.sent[org], p.acked[org] = got[org], got[org]
		if org == p.o.cfg.Origin {
			p.o.update(func(s *Status) { s.Acked = got[org] })
		}
	}
	return nil
}

// parentHeads asks the parent for its heads of origins and checks each
// against this node's chain (agree); heads of other origins are not this
// node's to agree on and are left out.
func (p *push) parentHeads(origins []string) (map[string]uint64, error) {
	hctx, hcancel := context.WithTimeout(p.ctx, min(30*time.Second, p.o.cfg.AckTimeout))
	heads, err := p.client.SyncHeads(hctx, &sanziv1.SyncHeadsRequest{Origins: origins})
	hcancel()
	if err != nil {
		return nil, err
	}
	got := map[string]uint64{}
	for _, h := range heads.GetHeads() {
		if !slices.Contains(origins, h.GetOrigin()) {
			continue
		}
		if err := p.o.agree(h); err != nil {
			return nil, err
		}
		got[h.GetOrigin()] = h.GetSeq()
	}
	return got, nil
}

// fail ends the session with err, unless it has ended already.
func (p *push) fail(err error) { p.cancel(err) }

// send builds and sends batches while the window has room, until the
// session ends.
func (p *push) send() {
	for {
		select { // a place in the window
		case p.slots <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		req, f, err := p.build()
		if err != nil {
			p.fail(err)
			return
		}
		if req == nil {
			return // the session ended while waiting for entries
		}
		// What the batch's entries name goes first: the parent refuses an
		// entry whose attachments it does not hold whole.
		if err := p.o.sendAttachments(p.ctx, p.client, req.Entries, p.held); err != nil {
			p.fail(err)
			return
		}
		// The flight is registered and the watchdog armed before Send, so
		// a Send stuck on flow control is cut like a missing ack.
		p.flights <- f // never blocks: a slot was taken
		p.mu.Lock()
		if p.inflight++; p.inflight == 1 {
			p.watchdog.Reset(p.o.cfg.AckTimeout)
		}
		p.mu.Unlock()
		if err := p.stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				// The parent ended the stream: the receiver reads its
				// status (and the watchdog bounds the wait).
				return
			}
			p.fail(fmt.Errorf("send a batch of %d entries: %w", len(req.Entries), err))
			return
		}
	}
}

// build waits until there are entries to send (reading the heads of
// origins that appear meanwhile) and returns the next batch; nil when the
// session ends first. It looks again soon after finding nothing, backing
// off to every Poll, and at once when woken (Config.Wake).
func (p *push) build() (*sanziv1.SyncPushRequest, flight, error) {
	idleSince := time.Now()
	for idle := 0; ; idle++ {
		origins := p.o.active()
		if idle > 0 && time.Since(idleSince) >= p.o.cfg.Resync {
			if err := p.resync(origins); err != nil {
				return nil, flight{}, err
			}
			idleSince = time.Now()
		}
		var fresh []string
		for _, org := range origins {
			if _, ok := p.sent[org]; !ok {
				fresh = append(fresh, org)
			}
		}
		if len(fresh) > 0 {
			if err := p.readHeads(fresh); err != nil {
				return nil, flight{}, err
			}
		}
		from := map[string]uint64{}
		p.mu.Lock()
		for org, seq := range p.sent {
			from[org] = max(seq, p.acked[org]) // the parent may hold more than was sent
		}
		p.mu.Unlock()
		req, last, err := p.o.next(p.ctx, origins, from, p.sentCert)
		if p.ctx.Err() != nil {
			return nil, flight{}, nil
		}
		if err != nil {
			return nil, flight{}, err
		}
		if len(req.Entries) > 0 {
			for org, seq := range last {
				p.sent[org] = seq
			}
			return req, flight{entries: len(req.Entries), last: last}, nil
		}
		select {
		case <-p.ctx.Done():
			return nil, flight{}, nil
		case <-time.After(min(p.o.cfg.Poll, 5*time.Millisecond<<min(idle, 10))):
		case <-p.o.cfg.Wake:
		case <-p.o.kick:
		}
	}
}

// receive reads the acks, each for the oldest batch in flight, until the
// session ends.
func (p *push) receive() {
	for {
		resp, err := p.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the parent ended the push stream")
			}
			p.fail(fmt.Errorf("push stream: %w", err))
			return
		}
		var f flight
		select {
		case f = <-p.flights:
		default:
			p.fail(errors.New("the parent answered a batch that was not sent"))
			return
		}
		p.mu.Lock()
		for _, a := range resp.GetAcks() {
			if prev, ok := p.acked[a.GetOrigin()]; ok && a.GetSeq() > prev {
				p.acked[a.GetOrigin()] = a.GetSeq()
				if a.GetOrigin() == p.o.cfg.Origin {
					n, seq := a.GetSeq()-prev, a.GetSeq()
					p.o.update(func(s *Status) { s.Acked, s.LastAck, s.Pushed = seq, time.Now(), s.Pushed+n })
				}
			}
		}
		for org, seq := range f.last {
			if p.acked[org] < seq {
				err = fmt.Errorf("the parent acknowledged %s up to %d of a batch of %d entries up to %d", org, p.acked[org], f.entries, seq)
				break
			}
		}
		if p.inflight--; p.inflight == 0 {
			p.watchdog.Stop()
		} else {
			p.watchdog.Reset(p.o.cfg.AckTimeout) // progress: the next batch has AckTimeout from now
		}
		p.mu.Unlock()
		if err != nil {
			p.fail(err)
			return
		}
		<-p.slots
	}
}

// agree checks that the parent's head entry is the one this node holds at
// that seq; anything else is a fork.
func (o *Outbox) agree(h *sanziv1.SyncAck) error {
	if h.GetSeq() == 0 {
		return nil
	}
	mine, err := o.cfg.Ledger.Get(h.GetOrigin(), h.GetSeq())
	if errors.Is(err, ledger.ErrNotFound) {
		return fmt.Errorf("%w: the parent holds %s up to seq %d, beyond this node's head %d", ErrFork, h.GetOrigin(), h.GetSeq(), o.cfg.Ledger.Head(h.GetOrigin()).Seq)
	}
	if err != nil {
		return err
	}
	if hex.EncodeToString(mine.Hash[:]) != h.GetHash() {
		return fmt.Errorf("%w: %s-%d is %s here and %s at the parent", ErrFork, h.GetOrigin(), h.GetSeq(), hex.EncodeToString(mine.Hash[:6]), h.GetHash()[:min(12, len(h.GetHash()))])
	}
	return nil
}

// next builds a batch of the entries of origins after from, in turn, up to
// MaxBatchBytes (at least one entry, and each origin's part ending on the
// signed last entry of an append), with the certificates of origins not
// yet introduced this session; last is the highest seq per origin in it.
// It stops reading early once ctx ends.
func (o *Outbox) next(ctx context.Context, origins []string, from map[string]uint64, sentCert map[string]bool) (*sanziv1.SyncPushRequest, map[string]uint64, error) {
	req := &sanziv1.SyncPushRequest{}
	last := map[string]uint64{}
	size := 0
	for _, org := range origins {
		if size >= o.cfg.MaxBatchBytes {
			break
		}
		// open: the last entry taken carries no signature, so its append
		// goes on and the batch with it, past the bound, to the signed
		// entry that ends it (at most ledger.MaxUnsignedRun more): the
		// parent refuses a batch cut inside an append.
		open := false
		err := o.cfg.Ledger.RangeRaw(org, from[org]+1, 0, func(seq uint64, raw []byte, signed bool) bool {
			if !open && (len(req.Entries) > 0 && size+len(raw) > o.cfg.MaxBatchBytes || ctx.Err() != nil) {
				return false
			}
			req.Entries = append(req.Entries, raw)
			size += len(raw)
			last[org] = seq
			open = !signed
			return true
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read %s after %d: %w", org, from[org], err)
		}
		if _, ok := last[org]; ok && !sentCert[org] && o.cfg.Certificate != nil {
			if der := o.cfg.Certificate(org); der != nil {
				req.Certificates = append(req.Certificates, der)
			}
			sentCert[org] = true
		}
	}
	return req, last, nil
}
