package relay

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ackingParent acks every batch it gets, unless hold is set.
func ackingParent(t *testing.T, hold bool) *parent {
	return startParent(t, func(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
		for {
			req, err := stream.Recv()
			if err != nil {
				return nil
			}
			if hold {
				continue
			}
			last, err := ledger.Peek(req.GetEntries()[len(req.GetEntries())-1])
			if err != nil {
				return err
			}
			if err := stream.Send(&sanziv1.SyncPushResponse{Acks: []*sanziv1.SyncAck{{Origin: testVillage, Seq: last.Seq, Hash: hex.EncodeToString(last.Hash[:])}}}); err != nil {
				return err
			}
		}
	})
}

// TestPushNow: PushNow returns once the parent acknowledged the chain up to
// the head at the call, entries appended after a first push included; with
// a parent that never acks it returns ctx's error, not a false success.
func TestPushNow(t *testing.T) {
	t.Run("acknowledged up to the head", func(t *testing.T) {
		l := testLedger(t, 5, 64)
		p := ackingParent(t, false)
		o := testOutbox(t, l, p.dial, 5*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go o.Run(ctx)
		for round := range 3 {
			if round > 0 {
				if _, err := l.Append(ctx, ledger.Record{Origin: testVillage, Author: "tester", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte{byte(round)}}); err != nil {
					t.Fatal(err)
				}
			}
			c, stop := context.WithTimeout(ctx, 30*time.Second)
			err := o.PushNow(c)
			stop()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if st := o.Status(); st.Acked != l.Head(testVillage).Seq {
				t.Fatalf("round %d: PushNow returned with %d acknowledged of %d", round, st.Acked, l.Head(testVillage).Seq)
			}
		}
	})
	t.Run("a parent that never acks", func(t *testing.T) {
		l := testLedger(t, 3, 64)
		p := ackingParent(t, true)
		o := testOutbox(t, l, p.dial, time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go o.Run(ctx)
		c, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		defer stop()
		if err := o.PushNow(c); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PushNow with no ack: %v, want the deadline's error", err)
		}
	})
}
