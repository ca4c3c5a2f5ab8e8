package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const testVillage = "350505100201"

// testLedger holds n entries of testVillage with incompressible payloads of
// size bytes, so batches stay big on the wire (gzip).
func testLedger(t *testing.T, n, size int) *ledger.Ledger {
	t.Helper()
	ring := keys.NewRing()
	ring.Add(testVillage, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Keys: ring, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var recs []ledger.Record
	for range n {
		payload := make([]byte, size)
		rand.Read(payload)
		recs = append(recs, ledger.Record{Origin: testVillage, Author: "tester", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload})
	}
	if _, err := l.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return l
}

// parent is a SyncService on loopback (no TLS) whose SyncPush is the
// test's; its stream windows are fixed at 64 KiB, so a child that sends
// more than that while the handler does not read blocks in Send.
type parent struct {
	sanziv1.UnimplementedSyncServiceServer
	push func(grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error
	addr string

	mu    sync.Mutex
	conns []net.Conn
}

// keepConns keeps the parent's accepted connections, for cut.
type keepConns struct {
	net.Listener
	p *parent
}

func (l *keepConns) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.p.mu.Lock()
		l.p.conns = append(l.p.conns, c)
		l.p.mu.Unlock()
	}
	return c, err
}

// cut closes the parent's connections under gRPC, as a link that drops.
func (p *parent) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func startParent(t *testing.T, push func(grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error) *parent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &parent{push: push, addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	sanziv1.RegisterSyncServiceServer(srv, p)
	go srv.Serve(&keepConns{Listener: ln, p: p})
	t.Cleanup(srv.Stop)
	return p
}

func (p *parent) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	return p.push(stream)
}

func (p *parent) SyncHeads(context.Context, *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	return &sanziv1.SyncHeadsResponse{}, nil // holds nothing yet
}

func (p *parent) dial(ctx context.Context) (sanziv1.SyncServiceClient, func(), error) {
	conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		limits.CallOptions())
	if err != nil {
		return nil, nil, err
	}
	return sanziv1.NewSyncServiceClient(conn), func() { conn.Close() }, nil
}

func testOutbox(t *testing.T, l *ledger.Ledger, dial Dialer, ackTimeout time.Duration) *Outbox {
	t.Helper()
	o, err := New(Config{Ledger: l, Origin: testVillage, Dial: dial, MaxBatchBytes: 128 << 10, AckTimeout: ackTimeout,
		Poll: 10 * time.Millisecond, Window: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// endsWithin runs one session and fails the test, instead of hanging, if
// it has not returned within limit.
func endsWithin(t *testing.T, o *Outbox, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- o.session(context.Background()) }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("the session has not ended %v after it started: it hangs", limit)
		return nil, 0
	}
}

// TestSyncSessionEndsWhenParentStopsReading: the parent takes the first batch
// and then neither reads nor acks nor closes (a frozen or black-holed
// parent). With several batches of 128 KiB in flight against 64 KiB flow
// control windows the sender blocks inside Send; the session must still end
// within AckTimeout, having cancelled the stream (the parent's handler sees
// its context end).
func TestSyncSessionEndsWhenParentStopsReading(t *testing.T) {
	l := testLedger(t, 400, 4<<10) // 1.6 MB, about 13 batches
	var got atomic.Int64
	cancelled := make(chan struct{})
	p := startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		got.Add(1)
		<-stream.Context().Done() // never reads again, never acks
		close(cancelled)
		return stream.Context().Err()
	})
	const ackTimeout = 300 * time.Millisecond
	o := testOutbox(t, l, p.dial, ackTimeout)
	err, took := endsWithin(t, o, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "no ack within") {
		t.Fatalf("session ended with %v, want the ack timeout", err)
	}
	if took > ackTimeout+time.Second {
		t.Fatalf("the session took %v to end, want about the ack timeout %v", took, ackTimeout)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the parent's stream was not cancelled by the child")
	}
	if got.Load() != 1 {
		t.Fatalf("the parent read %d batches", got.Load())
	}
	if st := o.Status(); st.Acked != 0 || st.Pushed != 0 {
		t.Fatalf("status %+v: nothing was acked", st)
	}
}

// blockedStream is a push stream whose Send and Recv block until the
// stream's context ends, as grpc-go's do on a link that carries nothing
// (Send on exhausted flow control); sends counts the Sends that returned.
type blockedStream struct {
	grpc.ClientStream
	ctx   context.Context
	free  int // Sends that return at once before the rest block
	sends atomic.Int64
}

func (s *blockedStream) Send(*sanziv1.SyncPushRequest) error {
	if s.sends.Load() < int64(s.free) {
		s.sends.Add(1)
		return nil
	}
	<-s.ctx.Done()
	return io.EOF // grpc-go: the stream is over, Recv has its status
}

func (s *blockedStream) Recv() (*sanziv1.SyncPushResponse, error) {
	<-s.ctx.Done()
	return nil, status.FromContextError(s.ctx.Err()).Err()
}

func (s *blockedStream) CloseSend() error { return nil }

type blockedClient struct {
	sanziv1.SyncServiceClient
	free    int
	streams chan *blockedStream
}

func (c *blockedClient) SyncHeads(context.Context, *sanziv1.SyncHeadsRequest, ...grpc.CallOption) (*sanziv1.SyncHeadsResponse, error) {
	return &sanziv1.SyncHeadsResponse{}, nil
}

func (c *blockedClient) SyncPush(ctx context.Context, _ ...grpc.CallOption) (grpc.BidiStreamingClient[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse], error) {
	s := &blockedStream{ctx: ctx, free: c.free}
	c.streams <- s
	return s, nil
}

// TestSyncSessionEndsWhenSendBlocks: whatever number of batches the link takes
// before it stops (none, one, a full window, more), a Send that never
// returns on its own is cut by the ack timeout through the stream's context.
func TestSyncSessionEndsWhenSendBlocks(t *testing.T) {
	l := testLedger(t, 200, 4<<10)
	for _, free := range []int{0, 1, 3, 4, 6} {
		c := &blockedClient{free: free, streams: make(chan *blockedStream, 1)}
		dial := func(context.Context) (sanziv1.SyncServiceClient, func(), error) { return c, func() {}, nil }
		const ackTimeout = 200 * time.Millisecond
		o := testOutbox(t, l, dial, ackTimeout)
		err, took := endsWithin(t, o, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "no ack within") {
			t.Fatalf("%d sends free: session ended with %v, want the ack timeout", free, err)
		}
		if took > ackTimeout+time.Second {
			t.Fatalf("%d sends free: the session took %v to end", free, took)
		}
		if s := <-c.streams; s.sends.Load() != int64(min(free, 4)) {
			t.Fatalf("%d sends free: %d batches went out, want at most the window (4)", free, s.sends.Load())
		}
	}
}

// TestSyncParentErrorReachesChild: the parent refuses the first batch while
// the child is blocked sending the next ones (flow control); the child ends
// at once with the parent's status, not after the ack timeout. (The
// reverted pipelined outbox hung here: its sender, on Send's io.EOF, called
// Recv for the status while the receiver goroutine was in Recv too; one of
// them took the stream's end and the other waited forever.)
func TestSyncParentErrorReachesChild(t *testing.T) {
	l := testLedger(t, 400, 4<<10)
	p := startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond) // the child fills the window meanwhile
		return status.Error(codes.FailedPrecondition, "the parent refuses this batch")
	})
	o := testOutbox(t, l, p.dial, 10*time.Second)
	err, took := endsWithin(t, o, 20*time.Second)
	if status.Code(errors.Unwrap(err)) != codes.FailedPrecondition || !strings.Contains(err.Error(), "the parent refuses this batch") {
		t.Fatalf("session ended with %v, want the parent's status", err)
	}
	if took > 3*time.Second {
		t.Fatalf("the parent's error took %v to reach the child", took)
	}
}

// TestSyncLinkCutWhileSending: the connection drops while the child is
// blocked sending (flow control); the session ends at once with the
// transport's error. (The reverted pipelined outbox could hang here: on
// Send's io.EOF its sender called Recv for the status while the receiver
// goroutine was in Recv too, and only one of them got the stream's end.)
func TestSyncLinkCutWhileSending(t *testing.T) {
	l := testLedger(t, 400, 4<<10)
	var p *parent
	p = startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond) // the child fills the window meanwhile
		p.cut()
		<-stream.Context().Done()
		return nil
	})
	o := testOutbox(t, l, p.dial, 10*time.Second)
	err, took := endsWithin(t, o, 20*time.Second)
	if status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Fatalf("session ended with %v, want the link's Unavailable", err)
	}
	if took > 3*time.Second {
		t.Fatalf("the cut took %v to end the session", took)
	}
}

// TestSyncPushPipelined: a parent that reads ahead and acks in order with a
// delay sees up to Window batches at once, never more, gets every entry
// once and in order, and the certificate with the first batch only; the
// outbox reports every entry acked and pushed.
func TestSyncPushPipelined(t *testing.T) {
	const n = 400
	l := testLedger(t, n, 4<<10)
	var maxAhead, received, answered atomic.Int64
	var mu sync.Mutex
	var certs int
	var next uint64 = 1
	var bad error
	p := startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		reqs := make(chan *sanziv1.SyncPushRequest, 100)
		go func() {
			defer close(reqs)
			for {
				req, err := stream.Recv()
				if err != nil {
					return
				}
				if a := received.Add(1) - answered.Load(); a > maxAhead.Load() {
					maxAhead.Store(a)
				}
				reqs <- req
			}
		}()
		for req := range reqs {
			time.Sleep(50 * time.Millisecond) // storing takes time: more batches arrive meanwhile
			mu.Lock()
			certs += len(req.GetCertificates())
			var last ledger.Link
			for _, raw := range req.GetEntries() {
				link, err := ledger.Peek(raw)
				if err != nil || link.Seq != next {
					bad = errors.New("entries out of order or resent")
				}
				next, last = link.Seq+1, link
			}
			mu.Unlock()
			if err := stream.Send(&sanziv1.SyncPushResponse{Acks: []*sanziv1.SyncAck{{Origin: testVillage, Seq: last.Seq, Hash: hex.EncodeToString(last.Hash[:])}}}); err != nil {
				return err
			}
			answered.Add(1)
		}
		return nil
	})
	o := testOutbox(t, l, p.dial, 5*time.Second)
	o.cfg.Certificate = func(string) []byte { return []byte("certificate") }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.session(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for o.Status().Acked < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("session ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end after its context")
	}
	st := o.Status()
	if st.Acked != n || st.Pushed != n || st.Lag != 0 || st.LastAck.IsZero() {
		t.Fatalf("status %+v, want all %d entries acked and pushed", st, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != nil || next != n+1 {
		t.Fatalf("the parent got up to %d: %v", next-1, bad)
	}
	if certs != 1 {
		t.Fatalf("the certificate went %d times, want once per session", certs)
	}
	if a := maxAhead.Load(); a < 2 || a > 4 {
		t.Fatalf("the parent saw at most %d batches unanswered, want 2 to 4 (the window)", a)
	}
}

// TestSyncShortAckEndsSession: an ack below the batch it answers is an error.
func TestSyncShortAckEndsSession(t *testing.T) {
	l := testLedger(t, 50, 1<<10)
	p := startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		for {
			if _, err := stream.Recv(); err != nil {
				return err
			}
			if err := stream.Send(&sanziv1.SyncPushResponse{Acks: []*sanziv1.SyncAck{{Origin: testVillage, Seq: 1}}}); err != nil {
				return err
			}
		}
	})
	o := testOutbox(t, l, p.dial, 5*time.Second)
	err, _ := endsWithin(t, o, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "acknowledged "+testVillage+" up to 1 of a batch") {
		t.Fatalf("session ended with %v", err)
	}
}

// allHeads answers SyncHeads as the district does: an empty list asks for
// every head it holds, here another town's village far ahead.
type allHeads struct {
	sanziv1.UnimplementedSyncServiceServer
}

func (allHeads) SyncHeads(_ context.Context, r *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	other := &sanziv1.SyncAck{Origin: "350505101203", Seq: 5002, Hash: strings.Repeat("ab", 32)}
	if len(r.GetOrigins()) == 0 || slices.Contains(r.GetOrigins(), other.GetOrigin()) {
		return &sanziv1.SyncHeadsResponse{Heads: []*sanziv1.SyncAck{other}}, nil
	}
	return &sanziv1.SyncHeadsResponse{}, nil
}

// TestSyncTownWithNoChainYet: a town that holds no chain yet (it just
// started; nothing of its own, no village pushed) asks its parent for no
// heads, so another town's heads at the district are never taken for a
// fork of its own chains (which stopped the outbox for good: seen after
// kill -9 of a town in TestSyncTownKilledFiveTimes).
func TestSyncTownWithNoChainYet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, allHeads{})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	p := &parent{addr: ln.Addr().String()}
	l := testLedger(t, 0, 0)
	o, err := New(Config{Ledger: l, Origin: "350505100000", Origins: func() []string { return nil }, Dial: p.dial,
		AckTimeout: time.Second, Poll: 10 * time.Millisecond, Base: time.Millisecond, Max: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := o.Run(ctx); errors.Is(err, ErrFork) {
		t.Fatalf("a town with no chain yet stopped on another town's head: %v", err)
	}
	if st := o.Status(); strings.Contains(st.LastError, "fork") {
		t.Fatalf("status: %+v", st)
	}
}

// forgetfulParent acks every batch, then reports a head below what it
// acknowledged (a district restored from a backup, a lagging member) while
// the child's push stream stays open.
type forgetfulParent struct {
	sanziv1.UnimplementedSyncServiceServer
	l      *ledger.Ledger
	mu     sync.Mutex
	head   uint64 // what SyncHeads reports
	acked  uint64 // the highest seq it acknowledged
	resent chan uint64
}

func (f *forgetfulParent) SyncHeads(context.Context, *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == 0 {
		return &sanziv1.SyncHeadsResponse{}, nil
	}
	s, err := f.l.Get(testVillage, f.head)
	if err != nil {
		return nil, err
	}
	return &sanziv1.SyncHeadsResponse{Heads: []*sanziv1.SyncAck{{Origin: testVillage, Seq: f.head, Hash: hex.EncodeToString(s.Hash[:])}}}, nil
}

func (f *forgetfulParent) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		first, err := ledger.Peek(req.Entries[0])
		if err != nil {
			return err
		}
		last, err := ledger.Peek(req.Entries[len(req.Entries)-1])
		if err != nil {
			return err
		}
		f.mu.Lock()
		if first.Seq <= f.acked { // a resend
			select {
			case f.resent <- first.Seq:
			default:
			}
		}
		f.head, f.acked = max(f.head, last.Seq), max(f.acked, last.Seq)
		f.mu.Unlock()
		if err := stream.Send(&sanziv1.SyncPushResponse{Acks: []*sanziv1.SyncAck{{Origin: testVillage, Seq: last.Seq}}}); err != nil {
			return err
		}
	}
}

// TestSyncIdleSessionResendsWhatTheParentLost: once a chain is acked in
// full, the parent loses its last entries (its heads say so) while the
// push stream stays open. The idle session reads the heads again after
// Resync and sends the lost entries within the open session, rather than
// sitting connected and silent for ever with the chain short at the parent.
func TestSyncIdleSessionResendsWhatTheParentLost(t *testing.T) {
	l := testLedger(t, 40, 1<<10)
	f := &forgetfulParent{l: l, resent: make(chan uint64, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	p := &parent{addr: ln.Addr().String()}
	o, err := New(Config{Ledger: l, Origin: testVillage, Dial: p.dial, MaxBatchBytes: 8 << 10, AckTimeout: 5 * time.Second,
		Poll: 10 * time.Millisecond, Resync: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for o.Status().Acked < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("the chain was not acked in full: %+v", o.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sessions := o.Status().Sessions
	f.mu.Lock()
	f.head = 25 // the parent lost seqs 26 to 40
	f.mu.Unlock()
	select {
	case seq := <-f.resent:
		if seq != 26 {
			t.Fatalf("the outbox resent from seq %d, want 26", seq)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("the parent holds 25 of 40 entries and the idle session sent nothing in 3s: %+v", o.Status())
	}
	if s := o.Status().Sessions; s != sessions {
		t.Fatalf("the resend took %d new sessions, want it within the open one", s-sessions)
	}
	cancel()
	<-done
}
