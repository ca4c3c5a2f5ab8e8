package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// push sends entries, retrying while the cluster answers Unavailable (an
// election is under way), as every real client does.
func push(t testing.TB, c sanziv1.DistrictServiceClient, entries [][]byte) (*sanziv1.PushEntriesResponse, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := c.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: entries})
		cancel()
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			return resp, err
		}
		time.Sleep(50 * time.Millisecond) // client backoff during an election
	}
}

func ackOf(resp *sanziv1.PushEntriesResponse, origin string) uint64 {
	for _, a := range resp.GetAcks() {
		if a.GetOrigin() == origin {
			return a.GetSeq()
		}
	}
	return 0
}

// TestPushThroughFollower pushes through a follower (forwarded to the
// leader), checks acks, duplicates, refusals and that replicas agree.
func TestPushThroughFollower(t *testing.T) {
	c := NewCluster(t, 3, nil)
	l := c.Leader()
	var follower string
	for _, m := range c.Running() {
		if m.id != l.id {
			follower = m.id
		}
	}
	fc := c.Client(follower)
	v1, v2 := newVillage(1), newVillage(2)
	c.register(v1)
	c.register(v2)
	batch := append(v1.next(500, 300), v2.next(500, 300)...)
	resp, err := push(t, fc, batch)
	if err != nil {
		t.Fatal(err)
	}
	if ackOf(resp, v1.origin) != 500 || ackOf(resp, v2.origin) != 500 || resp.GetAdded() != 1000 {
		t.Fatalf("acks %v added %d", resp.GetAcks(), resp.GetAdded())
	}
	// A resend is harmless.
	resp, err = push(t, fc, batch[:500])
	if err != nil || resp.GetAdded() != 0 || ackOf(resp, v1.origin) != 500 {
		t.Fatalf("resend: %v %v", resp, err)
	}
	// Linearizable read on a follower sees the push.
	ctx := context.Background()
	h, err := fc.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: v2.origin, Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
	if err != nil || h.GetHead().GetSeq() != 500 {
		t.Fatalf("linearizable head: %v %v", h, err)
	}
	// Refusals.
	gapV := *v1
	gapV.next(3, 100) // skipped: the district never sees these
	gap := gapV.next(2, 100)
	forged := v2.next(1, 100)
	forged[0][20] ^= 1 // a byte inside the body
	stranger := newVillage(99)
	for _, tc := range []struct {
		name    string
		entries [][]byte
		code    codes.Code
	}{
		{"gap", gap, codes.FailedPrecondition},
		{"forged body", forged, codes.InvalidArgument},
		{"unregistered origin", stranger.next(1, 100), codes.FailedPrecondition},
	} {
		if _, err := push(t, fc, tc.entries); status.Code(err) != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	// A village certificate may not push to the district.
	vcert, err := c.ca.Issue(v1.origin, pki.RoleVillage, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(l.apiAddr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(c.ca.Pool(), vcert.TLSCertificate(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := push(t, sanziv1.NewDistrictServiceClient(conn), v1.next(1, 10)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("village push: got %v, want PermissionDenied", err)
	}
	// Nor may it speak Raft to a member.
	raftConn, err := tls.Dial("tcp", l.raftAddr, pki.ClientConfig(c.ca.Pool(), vcert.TLSCertificate(), nil))
	if err == nil {
		raftConn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = raftConn.Read(make([]byte, 1)) // TLS 1.3: the server's refusal arrives on first read
		raftConn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("village certificate on the Raft port: %v, want the handshake refused", err)
	}
	c.converged()
}

// TestBackpressure fills a tiny proposal queue: extra pushes get
// ResourceExhausted with a retry delay instead of waiting in an unbounded
// queue, and nothing refused is stored.
func TestBackpressure(t *testing.T) {
	c := NewCluster(t, 3, func(cfg *cluster.Config) { cfg.QueueLen, cfg.MaxInflight = 1, 1 })
	lc := c.Client(c.Leader().id)
	var vs []*village
	for i := 1; i <= 24; i++ {
		v := newVillage(i)
		c.register(v)
		vs = append(vs, v)
	}
	var wg sync.WaitGroup
	var ok, exhausted atomic.Int64
	var retryHint atomic.Bool
	for _, v := range vs {
		wg.Add(1)
		go func(v *village) {
			defer wg.Done()
			_, err := push(t, lc, v.next(500, 300))
			switch status.Code(err) {
			case codes.OK:
				ok.Add(1)
			case codes.ResourceExhausted:
				exhausted.Add(1)
				for _, d := range status.Convert(err).Details() {
					if ri, isRI := d.(*errdetails.RetryInfo); isRI && ri.GetRetryDelay().AsDuration() > 0 {
						retryHint.Store(true)
					}
				}
			default:
				t.Errorf("push: %v", err)
			}
		}(v)
	}
	wg.Wait()
	if exhausted.Load() == 0 || !retryHint.Load() {
		t.Fatalf("%d ok, %d ResourceExhausted (retry hint %v): want some refused with a hint", ok.Load(), exhausted.Load(), retryHint.Load())
	}
	stored := 0
	for _, v := range vs {
		stored += int(c.Leader().node.FSM().Head(v.origin).Seq)
	}
	if stored != int(ok.Load())*500 {
		t.Fatalf("%d entries stored, want %d (only acknowledged pushes)", stored, ok.Load()*500)
	}
	t.Logf("%d pushes acknowledged, %d refused with ResourceExhausted and a retry hint", ok.Load(), exhausted.Load())
}

// TestFollowerRestoredBySnapshot cuts a follower off until the others have
// compacted their logs past it; healed, it catches up by snapshot install
// and ends with the same state digest.
func TestFollowerRestoredBySnapshot(t *testing.T) {
	c := NewCluster(t, 3, func(cfg *cluster.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 20, 10, 100*time.Millisecond
	})
	l := c.Leader()
	lc := c.Client(l.id)
	v := newVillage(1)
	c.register(v)
	var lagger string
	for _, m := range c.Running() {
		if m.id != l.id {
			lagger = m.id
			break
		}
	}
	if _, err := push(t, lc, v.next(10, 200)); err != nil {
		t.Fatal(err)
	}
	c.converged()
	before := c.Member(lagger).node.Status().GetLastSnapshotIndex()
	c.Partition(lagger)
	for i := 0; i < 120; i++ {
		if _, err := push(t, lc, v.next(10, 200)); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	lagIndex := c.Member(lagger).node.Status().GetAppliedIndex()
	// Wait until the leader's log no longer holds what the lagger needs.
	eventually(t, 20*time.Second, "the leader to compact past the lagger", func() bool {
		first, err := l.node.FirstLogIndex()
		return err == nil && first > lagIndex+1
	})
	c.Heal(lagger)
	digests := c.converged()
	st := c.Member(lagger).node.Status()
	if st.GetLastSnapshotIndex() <= before {
		t.Fatalf("lagger did not install a snapshot: last snapshot index %d (was %d)", st.GetLastSnapshotIndex(), before)
	}
	d := digests[lagger]
	t.Logf("lagger %s applied %d before heal, installed snapshot at %d; digest %x", lagger, lagIndex, st.GetLastSnapshotIndex(), d[:6])
	if h := c.Member(lagger).node.FSM().Head(v.origin); h.Seq != 1210 {
		t.Fatalf("lagger head %d, want 1210", h.Seq)
	}
}

// TestFullRestart stops every member and starts them again: same state,
// same heads.
func TestFullRestart(t *testing.T) {
	c := NewCluster(t, 3, nil)
	lc := c.Client(c.Leader().id)
	vs := []*village{newVillage(1), newVillage(2), newVillage(3)}
	for _, v := range vs {
		c.register(v)
		if _, err := push(t, lc, v.next(300, 300)); err != nil {
			t.Fatal(err)
		}
	}
	before := c.converged()
	heads := c.Running()[0].node.FSM().Heads()
	for _, m := range c.Running() {
		c.Stop(m.id)
	}
	for _, id := range c.order {
		c.Start(id)
	}
	c.Leader()
	after := c.converged()
	for id, d := range before {
		if after[id] != d {
			t.Fatalf("%s digest changed across restart", id)
		}
	}
	for o, h := range c.Running()[1].node.FSM().Heads() {
		if heads[o] != h {
			t.Fatalf("head of %s changed: %v -> %v", o, heads[o], h)
		}
	}
	// And the cluster takes writes again.
	if _, err := push(t, c.Client(c.Leader().id), vs[0].next(10, 100)); err != nil {
		t.Fatal(err)
	}
}

// loadGen pushes batches for its own villages until stopped, recording every
// acknowledged seq per origin.
type loadGen struct {
	mu    sync.Mutex
	acked map[string]uint64
	errs  map[string]int
	sent  atomic.Int64
	fails atomic.Int64
}

func (g *loadGen) run(ctx context.Context, c *Cluster, v *village, batch int) {
	var pendingBatch [][]byte
	for ctx.Err() == nil {
		if pendingBatch == nil {
			pendingBatch = v.next(batch, 300)
		}
		running := c.Running()
		if len(running) == 0 {
			return
		}
		m := running[int(g.sent.Load())%len(running)]
		resp, err := push(nil, c.Client(m.id), pendingBatch)
		g.sent.Add(1)
		if err != nil {
			g.fails.Add(1)
			g.mu.Lock()
			msg := status.Convert(err).Message()
			if len(msg) > 40 {
				msg = msg[:40]
			}
			g.errs[msg]++
			g.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // client backoff before resending
			continue                          // the same batch: pushes are idempotent
		}
		g.mu.Lock()
		if a := ackOf(resp, v.origin); a > g.acked[v.origin] {
			g.acked[v.origin] = a
		}
		g.mu.Unlock()
		if ackOf(resp, v.origin) == v.head.Seq {
			pendingBatch = nil
		}
	}
}

// TestMembershipUnderLoad grows the cluster 3 → 5 and shrinks it back to 3
// while pushers push; every acknowledged entry is on every member at the end.
func TestMembershipUnderLoad(t *testing.T) {
	c := NewCluster(t, 3, nil)
	g := &loadGen{acked: map[string]uint64{}, errs: map[string]int{}}
	vs := []*village{newVillage(1), newVillage(2), newVillage(3), newVillage(4)}
	for _, v := range vs {
		c.register(v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func(v *village) { defer wg.Done(); g.run(ctx, c, v, 50) }(v)
	}
	waitAcks := func(n int64) {
		start := g.sent.Load()
		eventually(t, 30*time.Second, "pushes to continue", func() bool { return g.sent.Load() >= start+n })
	}
	waitAcks(20)
	c.Add("m4")
	waitAcks(20)
	c.Add("m5")
	waitAcks(20)
	if n := len(c.Running()); n != 5 {
		t.Fatalf("%d members, want 5", n)
	}
	c.Remove("m1") // may be the leader: the cluster elects another
	waitAcks(20)
	c.Remove("m4")
	waitAcks(20)
	cancel()
	wg.Wait()
	c.converged()
	for _, m := range c.Running() {
		for _, v := range vs {
			if h := m.node.FSM().Head(v.origin); h.Seq < g.acked[v.origin] {
				t.Fatalf("%s holds %s up to %d but %d was acknowledged", m.id, v.origin, h.Seq, g.acked[v.origin])
			}
		}
	}
	t.Logf("%d pushes, %d refused or failed during changes (%v); members now %d", g.sent.Load(), g.fails.Load(), g.errs, len(c.Running()))
}

// TestSetLoadedHonoursItsContext: the analytics loader records its index
// through Raft; a loader being stopped (its context cancelled) must get
// its answer at once instead of waiting for raft (up to twice
// ApplyTimeout when the entry is never applied).
func TestSetLoadedHonoursItsContext(t *testing.T) {
	c := NewCluster(t, 1, nil)
	n := c.Leader().node
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := n.SetLoaded(ctx, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("SetLoaded with a cancelled context: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("SetLoaded with a cancelled context took %s", d)
	}
	if err := n.SetLoaded(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	if got := n.FSM().LoadedIndex(); got != 7 {
		t.Fatalf("loaded index %d after SetLoaded(7)", got)
	}
}
