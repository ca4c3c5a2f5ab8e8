// Package cpstore keeps the district's signed checkpoints in bbolt: the
// layout the district's replicated state (federation/fsm) and a town that
// serves its villages' public site (Store) share, so that both rebuild a
// statement and find the checkpoint covering an entry the same way.
//
// A checkpoint's statement names every chain head, but most heads do not
// change from one checkpoint to the next, so each is stored once per
// change, under a bucket the caller owns:
//
//	signed/<number>          the checkpoint without heads (signature, key, time, prev)
//	heads/<origin>/<number>  seq (8 bytes) + hash, where origin's head changed
//
// and the statement of checkpoint n is rebuilt from, for every origin, its
// last head change at or before n. A checkpoint a minute while villages
// record would otherwise add every head a minute to the store; and "the
// first checkpoint whose head of origin is at or after seq" is a search
// over origin's changes, a seek per step, not a scan.
package cpstore

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

var (
	bucketSigned = []byte("signed")
	bucketHeads  = []byte("heads")
)

// Put stores checkpoint c (its changed heads only, as checkpoint.Delta
// makes it), whose statement is next (checkpoint.Rebuild), under cps, once
// the caller has checked that it follows the newest one
// (checkpoint.Follows) and that its signature verifies.
func Put(cps *bolt.Bucket, next *checkpoint.Statement, c *clusterv1.Checkpoint) error {
	signed, err := cps.CreateBucketIfNotExists(bucketSigned)
	if err != nil {
		return fmt.Errorf("create signed checkpoints bucket: %w", err)
	}
	heads, err := cps.CreateBucketIfNotExists(bucketHeads)
	if err != nil {
		return fmt.Errorf("create checkpoint heads bucket: %w", err)
	}
	rec := &clusterv1.Checkpoint{Number: c.GetNumber(), District: c.GetDistrict(), TimeUnixMs: next.Time.UnixMilli(),
		Prev: c.GetPrev(), Signature: c.GetSignature(), PublicKey: c.GetPublicKey()}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	signed.FillPercent = 1 // numbers only grow
	if err := signed.Put(u64(c.GetNumber()), v); err != nil {
		return fmt.Errorf("store checkpoint %d: %w", c.GetNumber(), err)
	}
	for _, ch := range c.GetChanged() {
		b, err := heads.CreateBucketIfNotExists([]byte(ch.GetOrigin()))
		if err != nil {
			return fmt.Errorf("create checkpoint heads of %s: %w", ch.GetOrigin(), err)
		}
		b.FillPercent = 1
		if err := b.Put(u64(c.GetNumber()), append(u64(ch.GetSeq()), ch.GetHash()...)); err != nil {
			return fmt.Errorf("store checkpoint head of %s: %w", ch.GetOrigin(), err)
		}
	}
	return nil
}

// Latest is the number of the newest checkpoint under cps, 0 when none.
func Latest(cps *bolt.Bucket) uint64 {
	if cps == nil || cps.Bucket(bucketSigned) == nil {
		return 0
	}
	k, _ := cps.Bucket(bucketSigned).Cursor().Last()
	if k == nil {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// At rebuilds checkpoint n's statement and signature from cps; nil when
// there is none.
func At(cps *bolt.Bucket, n uint64) (*checkpoint.Signed, error) {
	if cps == nil {
		return nil, nil
	}
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
	s := &checkpoint.Statement{District: c.GetDistrict(), Number: n, Time: time.UnixMilli(c.GetTimeUnixMs()).UTC()}
	copy(s.Prev[:], c.GetPrev())
	if hb := cps.Bucket(bucketHeads); hb != nil {
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

// Covering is the number of the first checkpoint under cps whose head of
// origin is at or after seq, and that head; 0 when none covers it yet. A
// public page proves an entry with the chain from it to this head.
func Covering(cps *bolt.Bucket, origin string, seq uint64) (uint64, checkpoint.Head, error) {
	if cps == nil || cps.Bucket(bucketHeads) == nil {
		return 0, checkpoint.Head{}, nil
	}
	b := cps.Bucket(bucketHeads).Bucket([]byte(origin))
	if b == nil {
		return 0, checkpoint.Head{}, nil
	}
	// Head changes are keyed by checkpoint number and their seqs only grow
	// with it, so "the first change at or after number x has a seq >= seq"
	// turns true once and stays true: search for the smallest such x, a
	// seek per step (a village with a head change every minute for years
	// has hundreds of thousands).
	c := b.Cursor()
	atOrAfter := func(x uint64) ([]byte, []byte) { return c.Seek(u64(x)) }
	fk, _ := c.First()
	lk, lv := c.Last()
	if fk == nil || len(lv) < 8 || binary.BigEndian.Uint64(lv) < seq {
		return 0, checkpoint.Head{}, nil
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
	if len(v) != 8+ledger.HashSize {
		return 0, checkpoint.Head{}, fmt.Errorf("checkpoint head of %s at %d: %d bytes", origin, binary.BigEndian.Uint64(k), len(v))
	}
	head := checkpoint.Head{Origin: origin, Seq: binary.BigEndian.Uint64(v)}
	copy(head.Hash[:], v[8:])
	return binary.BigEndian.Uint64(k), head, nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}
