// Package sync is the child side of syncing between tiers: an outbox that
// pushes a node's chain to its parent, from what the parent acknowledged,
// in batches bounded by bytes, and resumes by itself after any failure with
// exponential backoff and jitter. A village works offline for weeks; when a
// link appears it catches up without anyone doing anything.
package sync

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	gosync "sync"
	"time"

	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/ledger"
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
	// Poll is how often a caught-up outbox looks for new entries; default
	// 200ms.
	Poll time.Duration
	// AckTimeout bounds the wait for one batch's ack; a link that stops
	// carrying bytes (black-holed, not closed) is cut after it and the
	// session starts again. Default 1 minute.
	AckTimeout time.Duration
	// Attachments, when set, sends up before each batch the attachments
	// its entries name that the parent does not hold whole.
	Attachments *AttachmentSource
	Logger      *slog.Logger
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
}

// Outbox pushes one chain up.
type Outbox struct {
	cfg Config
	mu  gosync.Mutex
	st  Status
}

// New checks cfg.
func New(cfg Config) (*Outbox, error) {
	if cfg.Ledger == nil || cfg.Origin == "" || cfg.Dial == nil {
		return nil, errors.New("sync outbox: Ledger, Origin and Dial are required")
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 1 << 20
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Outbox{cfg: cfg, st: Status{Origin: cfg.Origin}}, nil
}

// Status returns a snapshot.
func (o *Outbox) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.st
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

// Run pushes until ctx ends; it returns ctx's error, or ErrFork.
func (o *Outbox) Run(ctx context.Context) error {
	failures := 0
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
		failures++
		wait := retry.Backoff(failures, o.cfg.Base, o.cfg.Max, nil)
		o.update(func(s *Status) {
			s.Connected, s.Failures = false, failures
			if err != nil {
				s.LastError = err.Error()
			}
		})
		o.cfg.Logger.Warn("sync to parent failed; retrying", "origin", o.cfg.Origin, "err", err, "in", wait.Round(time.Millisecond), "failures", failures)
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

// session is one connection: find where the parent is, then push until
// something fails.
func (o *Outbox) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, closeConn, err := o.cfg.Dial(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn()
	acked := map[string]uint64{}
	sentCert := map[string]bool{}
	held := map[string]bool{} // attachments the parent holds whole
	readHeads := func(origins []string) error {
		hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
		heads, err := client.SyncHeads(hctx, &sanziv1.SyncHeadsRequest{Origins: origins})
		hcancel()
		if err != nil {
			return fmt.Errorf("read the parent's heads: %w", err)
		}
		for _, h := range heads.GetHeads() {
			if err := o.agree(h); err != nil {
				return err
			}
			acked[h.GetOrigin()] = h.GetSeq()
		}
		for _, org := range origins {
			if _, ok := acked[org]; !ok {
				acked[org] = 0
			}
		}
		return nil
	}
	if err := readHeads(o.origins()); err != nil {
		return err
	}
	o.update(func(s *Status) { s.Acked, s.Connected, s.Failures, s.LastError = acked[o.cfg.Origin], true, 0, "" })
	stream, err := client.SyncPush(ctx, grpc.UseCompressor("gzip"))
	if err != nil {
		return fmt.Errorf("open push stream: %w", err)
	}
	defer stream.CloseSend()
	for {
		var fresh []string
		for _, org := range o.origins() {
			if _, ok := acked[org]; !ok {
				fresh = append(fresh, org)
			}
		}
		if len(fresh) > 0 {
			if err := readHeads(fresh); err != nil {
				return err
			}
		}
		req, last, err := o.next(acked, sentCert)
		if err != nil {
			return err
		}
		if len(req.Entries) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(o.cfg.Poll):
			}
			continue
		}
		if err := o.sendAttachments(ctx, client, req.Entries, held); err != nil {
			return err
		}
		stalled := time.AfterFunc(o.cfg.AckTimeout, cancel)
		if err := stream.Send(req); err != nil {
			stalled.Stop()
			return fmt.Errorf("send a batch of %d entries: %w", len(req.Entries), recvErr(stream, err))
		}
		resp, err := stream.Recv()
		if !stalled.Stop() {
			return fmt.Errorf("no ack for a batch of %d entries within %v: the link is cut", len(req.Entries), o.cfg.AckTimeout)
		}
		if err != nil {
			return fmt.Errorf("a batch of %d entries: %w", len(req.Entries), err)
		}
		for _, a := range resp.GetAcks() {
			if prev, ok := acked[a.GetOrigin()]; ok && a.GetSeq() > prev {
				acked[a.GetOrigin()] = a.GetSeq()
				if a.GetOrigin() == o.cfg.Origin {
					n, seq := a.GetSeq()-prev, a.GetSeq()
					o.update(func(s *Status) { s.Acked, s.LastAck, s.Pushed = seq, time.Now(), s.Pushed+n })
				}
			}
		}
		for org, seq := range last {
			if acked[org] < seq {
				return fmt.Errorf("the parent acknowledged %s up to %d of a batch up to %d", org, acked[org], seq)
			}
		}
	}
}

// recvErr prefers the status the server closed the stream with.
func recvErr(stream grpc.BidiStreamingClient[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse], sendErr error) error {
	if errors.Is(sendErr, io.EOF) {
		if _, err := stream.Recv(); err != nil {
			return err
		}
	}
	return sendErr
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

// next builds a batch of the entries after acked, origin by origin, up to
// MaxBatchBytes (at least one entry), with the certificates of origins not
// yet introduced this session; last is the highest seq per origin in it.
func (o *Outbox) next(acked map[string]uint64, sentCert map[string]bool) (*sanziv1.SyncPushRequest, map[string]uint64, error) {
	req := &sanziv1.SyncPushRequest{}
	last := map[string]uint64{}
	size := 0
	for _, org := range o.origins() {
		if size >= o.cfg.MaxBatchBytes {
			break
		}
		from := acked[org] + 1
		err := o.cfg.Ledger.Range(org, from, 0, func(s *ledger.Stored) bool {
			if len(req.Entries) > 0 && size+len(s.Raw) > o.cfg.MaxBatchBytes {
				return false
			}
			req.Entries = append(req.Entries, s.Raw)
			size += len(s.Raw)
			last[org] = s.Seq
			return true
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read %s after %d: %w", org, from-1, err)
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
