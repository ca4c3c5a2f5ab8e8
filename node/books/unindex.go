package books

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// removedFrom says whether the index key k (origin + seq) names an entry of
// origin at from or later: one a chain restore removes.
func removedFrom(k []byte, origin string, from uint64) bool {
	return len(k) == len(origin)+8 && bytes.HasPrefix(k, []byte(origin)) && binary.BigEndian.Uint64(k[len(origin):]) >= from
}

// Unindex implements ledger.Unindexer: it forgets every index row about
// origin's entries from seq from on, and every row pointing to one (a
// reversal, disposal or asset code recorded by a removed entry), so that a
// chain restored from the parent's copy (issue 18) is indexed again from
// from as if the removed entries had never been. Attachment locks stay:
// what a removed entry named is kept as evidence.
func (indexer) Unindex(tx *bolt.Tx, origin string, from uint64) error {
	gone := func(k []byte) bool { return removedFrom(k, origin, from) }
	goneID := func(v []byte) bool {
		k, err := keyOf(string(v))
		return err == nil && gone(k)
	}
	// Each bucket: delete the keys for which drop says so.
	sweep := func(b *bolt.Bucket, drop func(k, v []byte) bool) error {
		if b == nil {
			return nil
		}
		var dead [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			if v != nil || b.Bucket(k) == nil { // not a nested bucket
				if drop(k, v) {
					dead = append(dead, append([]byte(nil), k...))
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}
	if byType := tx.Bucket(bucketByType); byType != nil {
		if err := byType.ForEachBucket(func(name []byte) error {
			return sweep(byType.Bucket(name), func(k, _ []byte) bool { return gone(k) })
		}); err != nil {
			return err
		}
	}
	if err := unindexMonths(tx, origin); err != nil {
		return err
	}
	// Before the statuses below go: the counters are made again from
	// the remaining entries' statuses.
	if err := unindexFacets(tx, origin, from); err != nil {
		return err
	}
	keyed := func(k, _ []byte) bool { return gone(k) }
	byValue := func(k, v []byte) bool { return gone(k) || goneID(v) }
	for _, s := range []struct {
		b    []byte
		drop func(k, v []byte) bool
	}{
		{bucketAlertStatus, keyed},
		{bucketReversed, byValue},
		{bucketDisposed, byValue},
		{bucketAssetCodes, func(_, v []byte) bool { return goneID(v) }},
		{bucketLinks, func(k, _ []byte) bool {
			n := len(origin) + 8
			return len(k) >= n && (gone(k[:n]) || gone(k[len(k)-n:]))
		}},
	} {
		if err := sweep(tx.Bucket(s.b), s.drop); err != nil {
			return err
		}
	}
	return nil
}
