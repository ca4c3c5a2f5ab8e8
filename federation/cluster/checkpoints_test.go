package cluster_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestListCheckpoints: a member answers the signed checkpoints after a
// number, oldest first, at most limit (at most 100), each as signed, and
// the newest number it holds.
func TestListCheckpoints(t *testing.T) {
	c := NewCluster(t, 1, nil)
	l := c.Leader()
	v := newVillage(1)
	c.register(v)
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	ctx := context.Background()
	var prev *checkpoint.Statement
	var signed []*checkpoint.Signed
	for n := uint64(1); n <= 5; n++ {
		if _, err := push(t, c.Client(l.id), v.next(1, 50)); err != nil {
			t.Fatal(err)
		}
		h := l.node.FSM().Head(v.origin)
		st := &checkpoint.Statement{District: "350505000000", Number: n, Time: time.Now().UTC().Truncate(time.Second),
			Heads: []checkpoint.Head{{Origin: v.origin, Seq: h.Seq, Hash: h.Hash}}}
		if prev != nil {
			st.Prev = prev.Sum()
		}
		s := checkpoint.Sign(st, key)
		if err := l.node.ProposeCheckpoint(ctx, checkpoint.Delta(prev, s, key.Public().(ed25519.PublicKey))); err != nil {
			t.Fatalf("checkpoint %d: %v", n, err)
		}
		prev, signed = st, append(signed, s)
	}
	for _, tc := range []struct {
		after       uint64
		limit       uint32
		first, last uint64 // 0: none
	}{{0, 0, 1, 5}, {0, 2, 1, 2}, {2, 2, 3, 4}, {4, 0, 5, 5}, {5, 0, 0, 0}, {9, 1, 0, 0}} {
		resp, err := c.Client(l.id).ListCheckpoints(ctx, &sanziv1.ListCheckpointsRequest{After: tc.after, Limit: tc.limit})
		if err != nil {
			t.Fatalf("after %d limit %d: %v", tc.after, tc.limit, err)
		}
		if resp.GetLatest() != 5 {
			t.Errorf("after %d: latest %d, want 5", tc.after, resp.GetLatest())
		}
		want := 0
		if tc.first > 0 {
			want = int(tc.last - tc.first + 1)
		}
		if len(resp.GetCheckpoints()) != want {
			t.Fatalf("after %d limit %d: %d checkpoints, want %d", tc.after, tc.limit, len(resp.GetCheckpoints()), want)
		}
		for i, got := range resp.GetCheckpoints() {
			s := signed[tc.first-1+uint64(i)]
			if string(got.GetStatement()) != string(s.Text) || string(got.GetSignature()) != string(s.Signature) {
				t.Errorf("after %d: checkpoint %d is not the one signed", tc.after, tc.first+uint64(i))
			}
			if _, err := checkpoint.Open(got.GetStatement(), got.GetSignature(), key.Public().(ed25519.PublicKey)); err != nil {
				t.Errorf("after %d: checkpoint %d: %v", tc.after, tc.first+uint64(i), err)
			}
		}
	}
}
