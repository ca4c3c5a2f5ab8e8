package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Unindexer is an Indexer that can forget what it indexed of a chain from
// a seq on, so Restore can index the restored entries afresh.
type Unindexer interface {
	Unindex(tx *bolt.Tx, origin string, from uint64) error
}

// Restored is what Restore did to a chain.
type Restored struct {
	Origin string `json:"origin"`
	// Head is the restored head: the last entry of the parent's copy.
	Head uint64 `json:"head"`
	// From is the first seq rewritten (Head+1 when nothing was).
	From uint64 `json:"from"`
	// Replaced are seqs the parent holds whose local bytes differed;
	// Lost are local seqs beyond the parent's copy (it never received
	// them): both were removed from the chain after keep saw them.
	Replaced []uint64 `json:"replaced"`
	Lost     []uint64 `json:"lost"`
}

// Restore rewrites origin's chain in the ledger file at path (its node
// stopped) to parent, the parent's copy of it from seq 1 (raw entries in
// order): "restore from the parent's copy". The copy must verify against
// pub, every signature checked. Local entries that differ from it, and
// those beyond it, are handed to keep (lost tells which) before anything
// changes; an error from keep changes nothing. ix, when it is an
// Unindexer, forgets the removed entries and indexes the restored ones.
// It is one bbolt transaction: all of it happens or none.
func Restore(path, origin string, pub ed25519.PublicKey, parent [][]byte, ix Indexer, keep func(seq uint64, raw []byte, lost bool) error) (*Restored, error) {
	v := NewChainVerifier(origin, pub, 1, [HashSize]byte{}, true)
	for _, raw := range parent {
		if _, err := v.Next(0, raw); err != nil {
			return nil, fmt.Errorf("the parent's copy of %s does not verify: %w", origin, err)
		}
	}
	if _, err := v.Finish(); err != nil {
		return nil, fmt.Errorf("the parent's copy of %s does not verify: %w", origin, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s (is a node still running on it?): %w", path, err)
	}
	defer db.Close()
	res := &Restored{Origin: origin, Head: uint64(len(parent)), From: uint64(len(parent)) + 1}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketChains).CreateBucketIfNotExists([]byte(origin))
		if err != nil {
			return err
		}
		// The first seq where the local chain and the parent's part.
		c := b.Cursor()
		for k, raw := c.First(); k != nil; k, raw = c.Next() {
			seq := keySeq(k)
			if seq == 0 || seq > uint64(len(parent)) || !bytes.Equal(raw, parent[seq-1]) {
				res.From = min(res.From, max(seq, 1))
				break
			}
		}
		if n := b.Stats().KeyN; uint64(n) < uint64(len(parent)) {
			res.From = min(res.From, uint64(n)+1) // the parent holds more than is here
		}
		var dead [][]byte
		for k, raw := c.Seek(seqKey(res.From)); k != nil; k, raw = c.Next() {
			seq := keySeq(k)
			lost := seq > uint64(len(parent))
			if err := keep(seq, append([]byte(nil), raw...), lost); err != nil {
				return fmt.Errorf("keep %s as evidence: %w", EntryID(origin, seq), err)
			}
			if lost {
				res.Lost = append(res.Lost, seq)
			} else {
				res.Replaced = append(res.Replaced, seq)
			}
			dead = append(dead, append([]byte(nil), k...))
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if u, ok := ix.(Unindexer); ok {
			if err := u.Unindex(tx, origin, res.From); err != nil {
				return fmt.Errorf("forget the indexes of %s from %d: %w", origin, res.From, err)
			}
		}
		for seq := res.From; seq <= uint64(len(parent)); seq++ {
			raw := parent[seq-1]
			if err := b.Put(seqKey(seq), raw); err != nil {
				return err
			}
			if ix != nil {
				s, err := Decode(raw)
				if err != nil {
					return err
				}
				if err := ix.Index(tx, s); err != nil {
					return fmt.Errorf("index %s: %w", s.ID(), err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", origin, err)
	}
	return res, nil
}
