package relay

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// refusingHeads is a parent that is up and answers SyncHeads with code.
type refusingHeads struct {
	sanziv1.UnimplementedSyncServiceServer
	code codes.Code
}

func (r refusingHeads) SyncHeads(context.Context, *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	return nil, status.Error(r.code, "refused by the test parent")
}

// closedPort is a loopback address nothing listens on (connection refused).
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSyncSessionUnreached: a session ends as Unreached only when the
// parent could not be reached (nothing listening); a parent that is up and
// answers, even with an error, is not taken for one that is down.
func TestSyncSessionUnreached(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent func(t *testing.T) string
		want   bool
	}{
		{"nothing listening", closedPort, true},
		{"a proxy whose parent is down (accepts, then closes)", closingPort, true},
		{"parent refuses the heads", func(t *testing.T) string { return serveHeads(t, refusingHeads{code: codes.PermissionDenied}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &parent{addr: tc.parent(t)}
			o := testOutbox(t, testLedger(t, 3, 10), p.dial, time.Second)
			err := o.session(context.Background())
			if err == nil {
				t.Fatal("the session did not fail")
			}
			if got := Unreached(err); got != tc.want {
				t.Fatalf("Unreached(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

// closingPort accepts connections and closes them at once: a proxy in
// front of a parent that is down.
func closingPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func serveHeads(t *testing.T, s sanziv1.SyncServiceServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, s)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// TestSyncComebackAfterParentRestart: a parent down for many tries (its
// port refusing) is reached again soon after it comes back, although the
// backoff ladder would by then wait up to Max (an hour here) between tries.
func TestSyncComebackAfterParentRestart(t *testing.T) {
	addr := closedPort(t)
	p := &parent{addr: addr, push: func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		return ServePush(stream, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
			es := req.GetEntries()
			last, err := ledger.Peek(es[len(es)-1])
			if err != nil {
				return nil, err
			}
			return &sanziv1.SyncPushResponse{Added: int64(len(es)), Acks: []*sanziv1.SyncAck{{Origin: last.Origin, Seq: last.Seq, Hash: hex.EncodeToString(last.Hash[:])}}}, nil
		})
	}}
	var dials atomic.Int64
	dial := func(ctx context.Context) (sanziv1.SyncServiceClient, func(), error) {
		dials.Add(1)
		return p.dial(ctx)
	}
	o, err := New(Config{Ledger: testLedger(t, 3, 10), Origin: testVillage, Dial: dial, AckTimeout: time.Second,
		Poll: 10 * time.Millisecond, Base: 40 * time.Millisecond, Max: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	// Twelve failed tries: the ladder would now wait 40ms·2^11 (80s) or
	// more before the next one.
	for deadline := time.Now().Add(30 * time.Second); dials.Load() < 12; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d tries in 30s against a parent that is down", dials.Load())
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the parent's port was taken meanwhile: %v", err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, p)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	for deadline := time.Now().Add(30 * time.Second); o.Status().Acked < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the parent came back and the outbox has not pushed to it within 30s: %+v", o.Status())
		}
	}
}
