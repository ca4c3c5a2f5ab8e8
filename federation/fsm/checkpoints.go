package fsm

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/checkpoint/cpstore"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// The district's signed checkpoints (federation/checkpoint) live in the
// replicated state, so every member serves the same ones, under the
// checkpoints bucket in federation/checkpoint/cpstore's layout (each head
// stored once per change).
var bucketCheckpoints = []byte("checkpoints")

// ErrCheckpoint is the result of a checkpoint the FSM does not store: it
// does not follow the newest one, contradicts it, names an entry the state
// does not hold, or its signature does not verify with the district
// chain's key. Every member refuses it alike.
var ErrCheckpoint = errors.New("fsm: checkpoint refused")

// checkpoint stores one checkpoint after checking it against the state.
func (a *applier) checkpoint(payload []byte) (interface{}, error) {
	var c clusterv1.Checkpoint
	if err := decode(payload, &c); err != nil {
		return err, nil
	}
	cps, err := a.tx.CreateBucketIfNotExists(bucketCheckpoints)
	if err != nil {
		return nil, fmt.Errorf("create checkpoints bucket: %w", err)
	}
	var prev *checkpoint.Statement
	if last := cpstore.Latest(cps); last > 0 {
		p, err := cpstore.At(cps, last)
		if err != nil {
			return nil, err
		}
		prev = p.Statement
	}
	refuse := func(err error) (interface{}, error) {
		a.log.Error("checkpoint refused", "number", c.GetNumber(), "err", err)
		return fmt.Errorf("%w: %w", ErrCheckpoint, err), nil
	}
	next, err := checkpoint.Rebuild(prev, &c)
	if err != nil {
		return refuse(err)
	}
	if err := checkpoint.Follows(prev, next, a.hashAt); err != nil {
		return refuse(err)
	}
	for _, ch := range c.GetChanged() {
		h, held, err := a.hashAt(ch.GetOrigin(), ch.GetSeq())
		if err != nil {
			return nil, err
		}
		if !held || !bytes.Equal(h[:], ch.GetHash()) {
			return refuse(fmt.Errorf("it signs %s with hash %x, which the state does not hold", ledger.EntryID(ch.GetOrigin(), ch.GetSeq()), ch.GetHash()[:8]))
		}
	}
	if want := a.districtKey(next.District); want != nil && !bytes.Equal(want, c.GetPublicKey()) {
		return refuse(fmt.Errorf("signed with key %s, not the district chain's %s", checkpoint.Fingerprint(c.GetPublicKey()), checkpoint.Fingerprint(want)))
	}
	if _, err := checkpoint.Open(next.Encode(), c.GetSignature(), c.GetPublicKey()); err != nil {
		return refuse(err)
	}
	if err := cpstore.Put(cps, next, &c); err != nil {
		return nil, err
	}
	a.checkpointed = &checkpoint.Signed{Statement: next, Text: next.Encode(), Signature: c.GetSignature()}
	return nil, nil
}

// hashAt reads origin's entry at seq in the transaction.
func (a *applier) hashAt(origin string, seq uint64) ([ledger.HashSize]byte, bool, error) {
	return hashIn(a.tx, origin, seq)
}

func hashIn(tx *bolt.Tx, origin string, seq uint64) ([ledger.HashSize]byte, bool, error) {
	var h [ledger.HashSize]byte
	b := tx.Bucket(bucketChains).Bucket([]byte(origin))
	if b == nil {
		return h, false, nil
	}
	raw := b.Get(u64(seq))
	if raw == nil {
		return h, false, nil
	}
	s, err := ledger.Peek(raw)
	if err != nil {
		return h, false, fmt.Errorf("stored entry %s: %w", ledger.EntryID(origin, seq), err)
	}
	return s.Hash, true, nil
}

// districtKey is the key the district's own chain is signed with now
// (after its last rotation), nil when the chain has none registered yet.
func (a *applier) districtKey(district string) ed25519.PublicKey {
	if b := a.tx.Bucket(bucketCurrent); b != nil {
		if v := b.Get([]byte(district)); v != nil {
			return v
		}
	}
	return a.tx.Bucket(bucketKeys).Get([]byte(district))
}

// LatestCheckpoint is the newest checkpoint, nil when none was signed yet.
func (f *FSM) LatestCheckpoint() (*checkpoint.Signed, error) {
	f.mu.RLock()
	l := f.checkpointed
	f.mu.RUnlock()
	if l != nil {
		return l, nil
	}
	var out *checkpoint.Signed
	err := f.view(func(tx *bolt.Tx) error {
		cps := tx.Bucket(bucketCheckpoints)
		last := cpstore.Latest(cps)
		if last == 0 {
			return nil
		}
		var err error
		out, err = cpstore.At(cps, last)
		return err
	})
	if err == nil && out != nil {
		f.mu.Lock()
		if f.checkpointed == nil || f.checkpointed.Statement.Number < out.Statement.Number {
			f.checkpointed = out
		}
		f.mu.Unlock()
	}
	return out, err
}

// Checkpoint is checkpoint n, nil when there is none.
func (f *FSM) Checkpoint(n uint64) (*checkpoint.Signed, error) {
	var out *checkpoint.Signed
	err := f.view(func(tx *bolt.Tx) error {
		var err error
		out, err = cpstore.At(tx.Bucket(bucketCheckpoints), n)
		return err
	})
	return out, err
}

// CheckpointCovering is the number of the first checkpoint whose head of
// origin is at or after seq, and that head; 0 when no checkpoint covers it
// yet. A public page proves an entry with the chain from it to this head.
func (f *FSM) CheckpointCovering(origin string, seq uint64) (uint64, checkpoint.Head, error) {
	var n uint64
	var head checkpoint.Head
	err := f.view(func(tx *bolt.Tx) error {
		var err error
		n, head, err = cpstore.Covering(tx.Bucket(bucketCheckpoints), origin, seq)
		return err
	})
	return n, head, err
}

// HashAt is the hash of origin's entry at seq; false when not held (the
// checkpoint signer's view of the state).
func (f *FSM) HashAt(origin string, seq uint64) ([ledger.HashSize]byte, bool, error) {
	var h [ledger.HashSize]byte
	var held bool
	err := f.view(func(tx *bolt.Tx) error {
		var err error
		h, held, err = hashIn(tx, origin, seq)
		return err
	})
	return h, held, err
}
