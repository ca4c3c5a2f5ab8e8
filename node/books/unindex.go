package books

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
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
	// The day indexes' mark moves back with the chain only when it was
	// current: one an older binary left behind stays behind.
	marked, err := alertMarkCurrentTo(tx, origin, from)
	if err != nil {
		return err
	}
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
	// Before the links below go: they say which reviews remain.
	if err := revertAlerts(tx, origin, from); err != nil {
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
	if marked {
		return setAlertMark(tx, origin)
	}
	return nil
}

// revertAlerts puts each alert of origin that stays (before seq from)
// but whose review went on from from on back to the status its remaining
// reviews give (open when none remain), in the status index and, through
// moveAlert, its facet and counters: what the restored chain then
// replays of its review moves it on again as recorded. A review is in its
// alert's chain (CheckReferences), so the alert's links in key order are
// its reviews in the order recorded.
func revertAlerts(tx *bolt.Tx, origin string, from uint64) error {
	links := tx.Bucket(bucketLinks)
	if links == nil {
		return nil
	}
	n := len(origin) + 8
	review := func(k, v []byte) bool {
		return len(k) == 2*n && len(v) == 9 && sanziv1.EntryType(v[0]) == sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION
	}
	// The alerts that stay with a review that goes.
	var alerts [][]byte
	c := links.Cursor()
	for k, v := c.Seek([]byte(origin)); k != nil && bytes.HasPrefix(k, []byte(origin)); k, v = c.Next() {
		if review(k, v) && !removedFrom(k[:n], origin, from) && removedFrom(k[n:], origin, from) &&
			(len(alerts) == 0 || !bytes.Equal(alerts[len(alerts)-1], k[:n])) {
			alerts = append(alerts, bytes.Clone(k[:n]))
		}
	}
	for _, ak := range alerts {
		st := sanziv1.AlertStatus_ALERT_STATUS_OPEN
		for k, v := c.Seek(ak); k != nil && bytes.HasPrefix(k, ak); k, v = c.Next() {
			if review(k, v) && !removedFrom(k[n:], origin, from) {
				st = sanziv1.AlertStatus(binary.BigEndian.Uint64(v[1:]))
			}
		}
		if err := moveAlert(tx, idOfKey(ak), st); err != nil {
			return fmt.Errorf("put alert %s back to %v: %w", idOfKey(ak), st, err)
		}
		if err := tx.Bucket(bucketAlertStatus).Put(ak, []byte{byte(st)}); err != nil {
			return fmt.Errorf("put alert %s back to %v: %w", idOfKey(ak), st, err)
		}
	}
	return nil
}
