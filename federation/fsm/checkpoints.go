package fsm

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// The district's signed checkpoints (federation/checkpoint) live in the
// replicated state, so every member serves the same ones. A checkpoint's
// statement names every chain head, but most heads do not change from one
// checkpoint to the next, so each is stored once per change:
//
//	checkpoints/signed/<number>          the checkpoint without heads (signature, key, time, prev)
//	checkpoints/heads/<origin>/<number>  seq (8 bytes) + hash, where origin's head changed
//
// and the statement of checkpoint n is rebuilt from, for every origin, its
// last head change at or before n. A checkpoint a minute while villages
// record would otherwise add every head a minute to the state.
var (
	bucketCheckpoints = []byte("checkpoints")
	bucketSigned      = []byte("signed")
	bucketCPHeads     = []byte("heads")
)

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
	signed, err := cps.CreateBucketIfNotExists(bucketSigned)
	if err != nil {
		return nil, err
	}
	heads, err := cps.CreateBucketIfNotExists(bucketCPHeads)
	if err != nil {
		return nil, err
	}
	var prev *checkpoint.Statement
	if k, _ := signed.Cursor().Last(); k != nil {
		p, err := statementAt(cps, binary.BigEndian.Uint64(k))
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
	rec := &clusterv1.Checkpoint{Number: c.GetNumber(), District: c.GetDistrict(), TimeUnixMs: next.Time.UnixMilli(),
		Prev: c.GetPrev(), Signature: c.GetSignature(), PublicKey: c.GetPublicKey()}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	signed.FillPercent = 1 // numbers only grow
	if err := signed.Put(u64(c.GetNumber()), v); err != nil {
		return nil, fmt.Errorf("store checkpoint %d: %w", c.GetNumber(), err)
	}
	for _, ch := range c.GetChanged() {
		b, err := heads.CreateBucketIfNotExists([]byte(ch.GetOrigin()))
		if err != nil {
			return nil, fmt.Errorf("create checkpoint heads of %s: %w", ch.GetOrigin(), err)
		}
		b.FillPercent = 1
		if err := b.Put(u64(c.GetNumber()), append(u64(ch.GetSeq()), ch.GetHash()...)); err != nil {
			return nil, fmt.Errorf("store checkpoint head of %s: %w", ch.GetOrigin(), err)
		}
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

// statementAt rebuilds checkpoint n's statement and signature from the
// checkpoints bucket cps.
func statementAt(cps *bolt.Bucket, n uint64) (*checkpoint.Signed, error) {
	signed := cps.Bucket(bucketSigned)
	if signed == nil {
		return nil, nil
	}
	v := signed.Get(u64(n))
	if v == nil {
		return nil, nil
	}
	var c clusterv1.Checkpoint
	if err := proto.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("read checkpoint %d: %w", n, err)
	}
	s := &checkpoint.Statement{District: c.GetDistrict(), Number: n, Time: unixMs(c.GetTimeUnixMs())}
	copy(s.Prev[:], c.GetPrev())
	if hb := cps.Bucket(bucketCPHeads); hb != nil {
		err := hb.ForEachBucket(func(origin []byte) error {
			k, v := lastAtOrBefore(hb.Bucket(origin), n)
			if k == nil {
				return nil
			}
			if len(v) != 8+ledger.HashSize {
				return fmt.Errorf("checkpoint head of %s at %d: %d bytes", origin, binary.BigEndian.Uint64(k), len(v))
			}
			h := checkpoint.Head{Origin: string(origin), Seq: binary.BigEndian.Uint64(v)}
			copy(h.Hash[:], v[8:])
			s.Heads = append(s.Heads, h) // ForEachBucket walks in key (origin) order
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &checkpoint.Signed{Statement: s, Text: s.Encode(), Signature: c.GetSignature()}, nil
}

// lastAtOrBefore is the entry of b with the greatest key <= n.
func lastAtOrBefore(b *bolt.Bucket, n uint64) ([]byte, []byte) {
	c := b.Cursor()
	k, v := c.Seek(u64(n))
	if k != nil && binary.BigEndian.Uint64(k) == n {
		return k, v
	}
	if k == nil {
		return c.Last()
	}
	return c.Prev()
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
		if cps == nil || cps.Bucket(bucketSigned) == nil {
			return nil
		}
		k, _ := cps.Bucket(bucketSigned).Cursor().Last()
		if k == nil {
			return nil
		}
		var err error
		out, err = statementAt(cps, binary.BigEndian.Uint64(k))
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
		cps := tx.Bucket(bucketCheckpoints)
		if cps == nil {
			return nil
		}
		var err error
		out, err = statementAt(cps, n)
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
		cps := tx.Bucket(bucketCheckpoints)
		if cps == nil || cps.Bucket(bucketCPHeads) == nil {
			return nil
		}
		b := cps.Bucket(bucketCPHeads).Bucket([]byte(origin))
		if b == nil {
			return nil
		}
		// Head changes are keyed by checkpoint number and their seqs only
		// grow with it, so "the first change at or after number x has a
		// seq >= seq" turns true once and stays true: search for the
		// smallest such x, a seek per step (a village with a head change
		// every minute for years has hundreds of thousands).
		c := b.Cursor()
		atOrAfter := func(x uint64) ([]byte, []byte) { return c.Seek(u64(x)) }
		fk, _ := c.First()
		lk, lv := c.Last()
		if fk == nil || binary.BigEndian.Uint64(lv) < seq {
			return nil
		}
		lo, hi := binary.BigEndian.Uint64(fk), binary.BigEndian.Uint64(lk)
		for lo < hi {
			mid := lo + (hi-lo)/2
			if _, v := atOrAfter(mid); binary.BigEndian.Uint64(v) >= seq {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		k, v := atOrAfter(lo)
		n, head = binary.BigEndian.Uint64(k), checkpoint.Head{Origin: origin, Seq: binary.BigEndian.Uint64(v)}
		copy(head.Hash[:], v[8:])
		return nil
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

// unixMs is a checkpoint's time (Unix ms) in UTC.
func unixMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
