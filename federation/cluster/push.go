package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// PushResult is what a push achieved once applied.
type PushResult struct {
	// Heads holds, per origin of the push, the highest contiguous seq the
	// district holds after applying it.
	Heads map[string]ledger.Head
	// Added and Duplicates count entries of the whole Raft entry that
	// carried this push (several pushes may share one).
	Added, Duplicates int
	// Index is the Raft index that carried it (0 if nothing was new).
	Index uint64
}

// pending is one verified push waiting to be proposed.
type pending struct {
	entries [][]byte
	origins []string
	bytes   int
	res     *fsm.Result
	err     error
	done    chan struct{}
}

// inflight is one proposed Raft entry and the pushes it carries.
type inflight struct {
	fut   raft.ApplyFuture
	batch []*pending
	start time.Time
	n     int
}

// Push verifies raw entries (encoded sanzi.v1.Entry, in chain order per
// origin) against the district's state and proposes what is new. It returns
// after the entries are committed and applied. Only the leader accepts
// pushes; others return ErrNotLeader.
func (n *Node) Push(ctx context.Context, raws [][]byte) (*PushResult, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	t0 := time.Now()
	fresh, origins, err := n.verify(raws)
	n.met.verifySeconds.Observe(time.Since(t0).Seconds())
	var fork *forkError
	var tamper *tamperError
	switch {
	case errors.As(err, &fork):
		n.recordFork(ctx, fork.rec)
	case errors.As(err, &tamper):
		n.recordFork(ctx, tamper.rec) // the same record, with its kind
	}
	if err != nil {
		return nil, err
	}
	if len(fresh) == 0 {
		return n.heads(origins, nil), nil
	}
	p := &pending{entries: fresh, origins: origins, done: make(chan struct{})}
	for _, r := range fresh {
		p.bytes += len(r)
	}
	select {
	case n.queue <- p:
	default:
		n.met.saturated.Inc()
		return nil, fmt.Errorf("%w: %d pushes are waiting to be proposed", ErrSaturated, cap(n.queue))
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		// The push may still commit; the child learns it from the next ack.
		return nil, fmt.Errorf("wait for commit: %w", ctx.Err())
	}
	if p.err != nil {
		return nil, p.err
	}
	return n.heads(origins, p.res), nil
}

func (n *Node) heads(origins []string, res *fsm.Result) *PushResult {
	out := &PushResult{Heads: map[string]ledger.Head{}}
	if res != nil {
		out.Added, out.Duplicates, out.Index = res.Added, res.Duplicates, res.Index
	}
	for _, o := range origins {
		if res != nil {
			if h, ok := res.Heads[o]; ok {
				out.Heads[o] = h
				continue
			}
		}
		out.Heads[o] = n.fsm.Head(o)
	}
	return out
}

// verify checks, for each origin of the push, that the new entries link to
// the district's head of that origin, link to each other, hash to their
// stored hashes, and that the last one carries the origin's signature (an
// origin's part ending in unsigned entries, cut inside an append, is
// refused: ledger.FailureUnsigned). It
// returns only the entries the district does not hold yet.
func (n *Node) verify(raws [][]byte) ([][]byte, []string, error) {
	type stretch struct {
		raws    [][]byte
		decoded []ledger.Link
	}
	// One pass reads every entry's links into one array (and each origin's
	// name once), a second cuts each origin's stretch to its exact size:
	// a push is mostly one origin's thousand entries, and growing its
	// stretch entry by entry copied it a dozen times.
	var names ledger.Origins
	links := make([]ledger.Link, len(raws))
	count := map[string]int{}
	var origins []string
	for i, raw := range raws {
		s, err := names.Peek(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d of the push: %v", ErrInvalid, i, err)
		}
		if count[s.Origin] == 0 {
			origins = append(origins, s.Origin)
		}
		count[s.Origin]++
		links[i] = s
	}
	byOrigin := make(map[string]*stretch, len(origins))
	if len(origins) == 1 {
		byOrigin[origins[0]] = &stretch{raws: raws, decoded: links} // the same entries in the same order: no copy
	} else {
		for _, o := range origins {
			byOrigin[o] = &stretch{raws: make([][]byte, 0, count[o]), decoded: make([]ledger.Link, 0, count[o])}
		}
		for i, raw := range raws {
			st := byOrigin[links[i].Origin]
			st.raws = append(st.raws, raw)
			st.decoded = append(st.decoded, links[i])
		}
	}
	var fresh [][]byte
	for _, o := range origins {
		st := byOrigin[o]
		pub, ok := n.fsm.Current(o)
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s", ErrUnknownOrigin, o)
		}
		head := n.fsm.Head(o)
		i := 0
		for ; i < len(st.decoded) && st.decoded[i].Seq <= head.Seq; i++ {
			// A resend: each must be the entry held at its seq (a resend is
			// rare, so reading the held one is affordable); anything else is
			// a fork, however old the seq.
			d := st.decoded[i]
			held := head.Hash
			if d.Seq < head.Seq {
				var found bool
				if err := n.fsm.Range(o, d.Seq, 1, func(s *ledger.Stored) bool { held, found = s.Hash, s.Seq == d.Seq; return false }); err != nil {
					return nil, nil, fmt.Errorf("read %s seq %d: %w", o, d.Seq, err)
				}
				if !found {
					return nil, nil, fmt.Errorf("%w: %s seq %d is not held below the head %d", ErrGap, o, d.Seq, head.Seq)
				}
			}
			if d.Hash != held {
				n.met.forks.Inc()
				// An entry with no signature of its own is signed through
				// the links by the entry that ends its append, later in
				// the push.
				signed := ledger.Vouched(pub, st.decoded[i:min(len(st.decoded), i+ledger.MaxUnsignedRun+1)])
				n.log.Error("FORK refused: a push holds a different entry at a seq the district holds", "origin", o, "seq", d.Seq, "signed_by_origin", signed)
				return nil, nil, &forkError{rec: &sanziv1.ForkRecord{Origin: o, Seq: d.Seq, HeldHash: hex.EncodeToString(held[:]),
					SentHash: hex.EncodeToString(d.Hash[:]), SignedByOrigin: signed, Entry: st.raws[i]}}
			}
		}
		if i == len(st.decoded) {
			continue
		}
		if first := st.decoded[i].Seq; first != head.Seq+1 {
			return nil, nil, fmt.Errorf("%w: %s: push starts at seq %d but the district holds up to %d; resend from %d", ErrGap, o, first, head.Seq, head.Seq+1)
		}
		// A redacted entry (no private part) is refused, and a split one
		// whose two parts disagree.
		v := ledger.NewChainVerifier(o, pub, head.Seq+1, head.Hash, false).WithKeys(n.keyOptions(o, pub)).
			WithPrivate(ledger.PrivateOptions{Masker: entries.Masker{}})
		for j, l := range st.decoded[i:] {
			if err := v.Check(l); err != nil {
				return nil, nil, n.refused(st.raws[i+j], err)
			}
		}
		if _, err := v.Finish(); ledger.KeyRefused(err) {
			n.log.Warn("push refused: signing key revoked or expired", "origin", o, "err", err)
			return nil, nil, err
		} else if err != nil {
			return nil, nil, n.refused(st.raws[len(st.raws)-1], err)
		}
		if fresh == nil {
			fresh = st.raws[i:len(st.raws):len(st.raws)] // an append to it copies, never writes into raws
		} else {
			fresh = append(fresh, st.raws[i:]...)
		}
	}
	return fresh, origins, nil
}

// propose coalesces queued pushes into Raft entries of up to MaxBatchBytes
// and hands each to await; MaxInflight bounds how many are unapplied.
func (n *Node) propose() {
	defer n.wg.Done()
	defer close(n.flight)
	for {
		var p *pending
		select {
		case <-n.stop:
			n.failQueued()
			return
		case p = <-n.queue:
		}
		batch, size := []*pending{p}, p.bytes
	drain:
		for size < n.cfg.MaxBatchBytes {
			select {
			case q := <-n.queue:
				batch = append(batch, q)
				size += q.bytes
			default:
				break drain
			}
		}
		var all [][]byte
		for _, q := range batch {
			all = append(all, q.entries...)
		}
		cmd := encodeAppend(all)
		n.met.batchEntries.Observe(float64(len(all)))
		n.met.batchBytes.Observe(float64(len(cmd)))
		f := n.raft.Apply(cmd, n.cfg.ApplyTimeout)
		select {
		case n.flight <- &inflight{fut: f, batch: batch, start: time.Now(), n: len(all)}:
		case <-n.stop:
			finish(batch, nil, ErrNotLeader)
			n.failQueued()
			return
		}
	}
}

func (n *Node) failQueued() {
	for {
		select {
		case p := <-n.queue:
			finish([]*pending{p}, nil, ErrNotLeader)
		default:
			return
		}
	}
}

// await acknowledges each proposed entry's pushes once it is applied.
func (n *Node) await() {
	defer n.wg.Done()
	for f := range n.flight {
		// raft does not resolve futures still queued in its apply channel
		// when it shuts down, so wait for the stop signal too.
		errc := make(chan error, 1)
		go func(fut raft.ApplyFuture) { errc <- fut.Error() }(f.fut)
		var err error
		select {
		case err = <-errc:
		case <-n.stop:
			finish(f.batch, nil, fmt.Errorf("%w: member shutting down", ErrNotLeader))
			for f := range n.flight {
				finish(f.batch, nil, fmt.Errorf("%w: member shutting down", ErrNotLeader))
			}
			return
		}
		n.met.applySeconds.Observe(time.Since(f.start).Seconds())
		if err != nil {
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
				err = fmt.Errorf("%w: %v", ErrNotLeader, err)
			}
			finish(f.batch, nil, err)
			continue
		}
		res, ok := f.fut.Response().(*fsm.Result)
		if !ok {
			finish(f.batch, nil, fmt.Errorf("apply: unexpected FSM response %T", f.fut.Response()))
			continue
		}
		n.met.entriesCommitted.Add(float64(res.Added))
		finish(f.batch, res, nil)
	}
}

func finish(batch []*pending, res *fsm.Result, err error) {
	for _, p := range batch {
		p.res, p.err = res, err
		close(p.done)
	}
}

// encodeAppend encodes Command{APPEND, AppendBatch{entries}} into one
// buffer of its exact size, the bytes proto.Marshal gives (fields in number
// order): marshalling the batch and then the envelope copied every entry
// twice.
func encodeAppend(entries [][]byte) []byte {
	batch := 0
	for _, e := range entries {
		batch += protowire.SizeTag(1) + protowire.SizeBytes(len(e))
	}
	typ := uint64(clusterv1.CommandType_COMMAND_TYPE_APPEND)
	size := protowire.SizeTag(1) + protowire.SizeVarint(typ)
	if batch > 0 { // an empty payload is left out, as protobuf leaves it
		size += protowire.SizeTag(2) + protowire.SizeBytes(batch)
	}
	out := make([]byte, 0, size)
	out = protowire.AppendTag(out, 1, protowire.VarintType)
	out = protowire.AppendVarint(out, typ)
	if batch == 0 {
		return out
	}
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(batch))
	for _, e := range entries {
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, e)
	}
	return out
}

// forkError is a push holding a different entry at a seq the district
// holds; it carries the evidence.
type forkError struct{ rec *sanziv1.ForkRecord }

func (e *forkError) Error() string {
	return fmt.Sprintf("%v: %s seq %d differs from the entry the district holds", ErrFork, e.rec.GetOrigin(), e.rec.GetSeq())
}

func (e *forkError) Unwrap() error { return ErrFork }

// recordFork records a refused fork through Raft: the district's critical
// TAMPER alert, kept once per fork and loaded into the analytics. The push
// is refused whether or not this succeeds.
func (n *Node) recordFork(ctx context.Context, rec *sanziv1.ForkRecord) {
	if org, role, err := peerIdentity(ctx); err == nil {
		rec.PushedBy = string(role) + " " + org
	}
	rec.At = timestamppb.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK, rec); err != nil {
		n.log.Error("record the refused entry as a TAMPER alert", "kind", rec.GetKind().String(), "origin", rec.GetOrigin(), "seq", rec.GetSeq(), "err", err)
	}
}
