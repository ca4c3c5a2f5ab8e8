package relay

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// refusingParent holds what it acked per origin and refuses for good any
// batch holding brokenOrigin's entry at brokenSeq while refusing is set.
type refusingParent struct {
	sanziv1.UnimplementedSyncServiceServer
	brokenOrigin string
	brokenSeq    uint64
	refusing     atomic.Bool
	sessions     atomic.Int64 // SyncHeads calls: one per session
	refusals     atomic.Int64

	mu   sync.Mutex
	held map[string]*sanziv1.SyncAck
}

func (p *refusingParent) SyncHeads(_ context.Context, r *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	p.sessions.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	out := &sanziv1.SyncHeadsResponse{}
	for _, o := range r.GetOrigins() {
		if h := p.held[o]; h != nil {
			out.Heads = append(out.Heads, h)
		}
	}
	return out, nil
}

func (p *refusingParent) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	return ServePush(stream, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		resp := &sanziv1.SyncPushResponse{}
		var links []ledger.Link
		for _, raw := range req.GetEntries() { // the whole batch is checked before any is held
			l, err := ledger.Peek(raw)
			if err != nil {
				return nil, err
			}
			if p.refusing.Load() && l.Origin == p.brokenOrigin && l.Seq == p.brokenSeq {
				p.refusals.Add(1)
				ve := &ledger.VerifyError{Origin: l.Origin, Seq: l.Seq, Problem: "body does not match its hash", Failure: ledger.FailureHash}
				return nil, ChainBroken(ve, codes.InvalidArgument, "entry does not verify: "+ve.Error())
			}
			links = append(links, l)
		}
		for _, l := range links {
			if h := p.held[l.Origin]; h == nil || h.GetSeq() < l.Seq {
				p.held[l.Origin] = &sanziv1.SyncAck{Origin: l.Origin, Seq: l.Seq, Hash: hex.EncodeToString(l.Hash[:])}
			}
		}
		for _, h := range p.held {
			resp.Acks = append(resp.Acks, h)
		}
		return resp, nil
	})
}

// TestSyncPermanentRefusal: the parent refuses one chain for good (a
// CHAIN_BROKEN detail naming seq 3); the outbox stops pushing that chain,
// names the seq in its status, keeps syncing the other chain, does not
// retry the refused one while its head stands still (a handful of sessions
// where a passing fault would have made dozens), and pushes it again once
// Recheck has passed on its clock.
func TestSyncPermanentRefusal(t *testing.T) {
	const other = "350505100202"
	l, _ := twoVillageLedger(t, other)
	appendN := func(origin string, n int) {
		t.Helper()
		for range n {
			if _, err := l.Append(context.Background(), ledger.Record{Origin: origin, Author: "tester", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(testVillage, 5)
	appendN(other, 5)

	p := &refusingParent{brokenOrigin: testVillage, brokenSeq: 3, held: map[string]*sanziv1.SyncAck{}}
	p.refusing.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, p)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	dial := func(context.Context) (sanziv1.SyncServiceClient, func(), error) {
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		return sanziv1.NewSyncServiceClient(conn), func() { conn.Close() }, nil
	}
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	o, err := New(Config{Ledger: l, Origin: testVillage, Origins: func() []string { return []string{testVillage, other} }, Dial: dial,
		Base: 10 * time.Millisecond, Max: 20 * time.Millisecond, Poll: 10 * time.Millisecond, Recheck: time.Hour,
		Clock: func() time.Time { return time.Unix(0, now.Load()) }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s; status %+v", what, o.Status())
			}
		}
	}
	held := func(origin string) uint64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		if h := p.held[origin]; h != nil {
			return h.GetSeq()
		}
		return 0
	}
	t.Run("the refused chain stops, the other syncs", func(t *testing.T) {
		waitFor(t, "a refusal and the other chain acked", func() bool { return len(o.Status().Refused) == 1 && held(other) == 5 })
		r := o.Status().Refused[0]
		if r.Origin != testVillage || r.Seq != 3 || r.Reason != string(refusal.ReasonChainBroken) || r.Failure != "hash" ||
			r.Summary != "chain broken at seq 3 (hash), refused by parent" {
			t.Fatalf("refused: %+v", r)
		}
		if held(testVillage) != 0 {
			t.Fatalf("the parent holds %d of the refused chain (the batch was refused whole)", held(testVillage))
		}
	})
	t.Run("no retry storm", func(t *testing.T) {
		before, refusalsBefore := p.sessions.Load(), p.refusals.Load()
		appendN(other, 3) // the other chain still moves up
		waitFor(t, "the other chain's new entries", func() bool { return held(other) == 8 })
		time.Sleep(500 * time.Millisecond) // 50 backoff rounds of a passing fault
		if n := p.refusals.Load() - refusalsBefore; n != 0 {
			t.Errorf("the refused chain was pushed %d more times", n)
		}
		if n := p.sessions.Load() - before; n > 2 {
			t.Errorf("%d sessions in 500ms after the refusal, want at most 2", n)
		}
		st := o.Status()
		if st.Refusals != 1 || len(st.Refused) != 1 {
			t.Errorf("status: %d refusals, refused %+v", st.Refusals, st.Refused)
		}
	})
	t.Run("pushed again after Recheck", func(t *testing.T) {
		p.refusing.Store(false) // repaired on the parent's side of the test
		now.Add(int64(2 * time.Hour))
		appendN(other, 1) // wakes the idle sender's loop
		waitFor(t, "the chain pushed again and acked", func() bool { return held(testVillage) == 5 && len(o.Status().Refused) == 0 })
	})
}
