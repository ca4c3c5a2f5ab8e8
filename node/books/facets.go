package books

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Lists filter by org, and by what the console filters on (a transaction's
// kind; an alert's status, rule and severity), and say how many entries
// match in all (totalSize). So that neither costs a walk of history (issue
// 17), the books keep, inside the ledger's write transactions:
//
//   - idx_type: every entry by type, keyed origin+seq (sorted by origin,
//     so one org's entries are one range of keys, found by a seek);
//   - idx_facet: the same keys under a facet (a transaction's kind, an
//     alert's status, an alert's rule), for a filtered list to walk only
//     what matches; and every transaction's key with what the list's
//     other filters look at (txsearch.go);
//   - idx_count: how many entries of each type each origin holds, broken
//     down by the facets' values together (kind; status, severity and
//     rule), so that a total is a sum over a few dozen counters.
//
// An alerts list in a time window has indexes of its own (alertdays.go).
// A list with a filter no index holds (a card's post; an alert's time
// window across every org) still walks the entries of its org and facet
// to match them.
var (
	bucketFacet = []byte("idx_facet")
	bucketCount = []byte("idx_count")
	bucketMeta  = []byte("idx_meta")
)

// indexVersion is what the books' indexes hold; a ledger whose indexes are
// older is indexed again at open (buildFacets). 3: the transactions' rows;
// 4: the alerts by day (alertdays.go), built from the alerts alone over
// version 3.
const indexVersion = 4

var keyIndexVersion = []byte("version")

// Facets of an entry's index key.
const (
	facetKind   = 'k' // a transaction's kind
	facetStatus = 's' // an alert's status
	facetRule   = 'r' // an alert's rule code
	facetLevel  = 'v' // an alert's severity
	facetTxRow  = 't' // a transaction's row, as its value (txsearch.go)
)

func kindFacet(k sanziv1.TransactionKind) []byte     { return []byte{facetKind, byte(k)} }
func statusFacet(s sanziv1.AlertStatus) []byte       { return []byte{facetStatus, byte(s)} }
func ruleFacet(code string) []byte                   { return append([]byte{facetRule}, code...) }
func severityFacet(sev string) []byte                { return append([]byte{facetLevel}, sev...) }
func facetBucket(tx *bolt.Tx, f []byte) *bolt.Bucket { return tx.Bucket(bucketFacet).Bucket(f) }

// inFacet says whether entry key k is indexed under facet f.
func inFacet(tx *bolt.Tx, f, k []byte) bool {
	b := facetBucket(tx, f)
	return b != nil && b.Get(k) != nil
}

// countKey is the counter of type t at origin for the facet values in
// tuple (see alertTuple, kindTuple): type, origin's length and origin,
// then the tuple.
func countKey(t sanziv1.EntryType, origin string, tuple []byte) []byte {
	k := make([]byte, 0, 2+len(origin)+len(tuple))
	k = append(k, byte(t), byte(len(origin)))
	k = append(k, origin...)
	return append(k, tuple...)
}

// splitCountKey is countKey's parts.
func splitCountKey(k []byte) (sanziv1.EntryType, string, []byte, bool) {
	if len(k) < 2 || len(k) < 2+int(k[1]) {
		return 0, "", nil, false
	}
	n := int(k[1])
	return sanziv1.EntryType(k[0]), string(k[2 : 2+n]), k[2+n:], true
}

func kindTuple(k sanziv1.TransactionKind) []byte { return []byte{byte(k)} }

// alertTuple is status, then severity and rule code (severity ends at a
// zero byte).
func alertTuple(status sanziv1.AlertStatus, severity, rule string) []byte {
	t := append([]byte{byte(status)}, severity...)
	return append(append(t, 0), rule...)
}

func splitAlertTuple(t []byte) (sanziv1.AlertStatus, string, string) {
	if len(t) < 2 {
		return 0, "", ""
	}
	sev, rule, _ := bytes.Cut(t[1:], []byte{0})
	return sanziv1.AlertStatus(t[0]), string(sev), string(rule)
}

// addCount adds d to the counter at k.
func addCount(tx *bolt.Tx, k []byte, d int64) error {
	b := tx.Bucket(bucketCount)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += d
	if n <= 0 {
		return b.Delete(k)
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(n))
	return b.Put(k, v)
}

// putFacet indexes entry key k under facet f.
func putFacet(tx *bolt.Tx, f, k []byte) error { return putFacetValue(tx, f, k, nil) }

// putFacetValue indexes entry key k under facet f with a value (a
// transaction's row).
func putFacetValue(tx *bolt.Tx, f, k, v []byte) error {
	b, err := tx.Bucket(bucketFacet).CreateBucketIfNotExists(f)
	if err != nil {
		return err
	}
	b.FillPercent = 0.9
	return b.Put(k, v)
}

func deleteFacet(tx *bolt.Tx, f, k []byte) error {
	if b := facetBucket(tx, f); b != nil {
		return b.Delete(k)
	}
	return nil
}

// indexFacets keeps the facets and counters of s, whose payload is m
// (nil: not decoded).
func indexFacets(tx *bolt.Tx, s *ledger.Stored, m any) error {
	k := key(s.Origin, s.Seq)
	switch m := m.(type) {
	case *sanziv1.Transaction:
		if err := putFacet(tx, kindFacet(m.GetKind()), k); err != nil {
			return err
		}
		if err := putFacetValue(tx, txRowsFacet, k, txRow(m)); err != nil {
			return err
		}
		if err := addCount(tx, countKey(s.Type, s.Origin, kindTuple(m.GetKind())), 1); err != nil {
			return err
		}
	case *sanziv1.Alert:
		open := sanziv1.AlertStatus_ALERT_STATUS_OPEN
		if err := putFacet(tx, statusFacet(open), k); err != nil {
			return err
		}
		if err := putAlertFacets(tx, m, k); err != nil {
			return err
		}
		if err := addCount(tx, countKey(s.Type, s.Origin, alertTuple(open, m.GetSeverity(), m.GetRuleCode())), 1); err != nil {
			return err
		}
		if err := indexAlertDay(tx, s, m, open); err != nil {
			return err
		}
	case *sanziv1.AlertTransition:
		if err := moveAlert(tx, m.GetAlertId(), m.GetStatus()); err != nil {
			return err
		}
	}
	return addCount(tx, countKey(s.Type, s.Origin, nil), 1)
}

// putAlertFacets indexes alert key k under its rule and severity, which
// never change (its status does: moveAlert).
func putAlertFacets(tx *bolt.Tx, a *sanziv1.Alert, k []byte) error {
	if err := putFacet(tx, ruleFacet(a.GetRuleCode()), k); err != nil {
		return err
	}
	return putFacet(tx, severityFacet(a.GetSeverity()), k)
}

// moveAlert moves the alert id names to status: its status facet and its
// counter. The caller then records the status itself. An alert the
// ledger does not hold is left alone (the status index says what it
// knows).
func moveAlert(tx *bolt.Tx, id string, to sanziv1.AlertStatus) error {
	ak, err := keyOf(id)
	if err != nil {
		return err
	}
	o, seq, _ := ledger.ParseEntryID(id)
	st, err := ledger.GetTx(tx, o, seq)
	if err != nil || st.Type != sanziv1.EntryType_ENTRY_TYPE_ALERT {
		return nil
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil {
		return nil
	}
	a := m.(*sanziv1.Alert)
	from := alertStatus(tx, ak)
	if from == to {
		return nil
	}
	if err := deleteFacet(tx, statusFacet(from), ak); err != nil {
		return err
	}
	if err := putFacet(tx, statusFacet(to), ak); err != nil {
		return err
	}
	if err := addCount(tx, countKey(st.Type, o, alertTuple(from, a.GetSeverity(), a.GetRuleCode())), -1); err != nil {
		return err
	}
	if err := addCount(tx, countKey(st.Type, o, alertTuple(to, a.GetSeverity(), a.GetRuleCode())), 1); err != nil {
		return err
	}
	return moveAlertDay(tx, st, a, from, to)
}

// total sums the counters of type t at org ("": every origin) whose
// tuple match accepts (nil: all of them).
func total(tx *bolt.Tx, t sanziv1.EntryType, org string, match func(tuple []byte) bool) int64 {
	prefix := []byte{byte(t)}
	if org != "" {
		prefix = countKey(t, org, nil)
	}
	var n int64
	c := tx.Bucket(bucketCount).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, _, tuple, ok := splitCountKey(k)
		if !ok || len(v) != 8 {
			continue
		}
		if match == nil && len(tuple) > 0 {
			continue // the type's own counter has the empty tuple
		}
		if match != nil && (len(tuple) == 0 || !match(tuple)) {
			continue
		}
		n += int64(binary.BigEndian.Uint64(v))
	}
	return n
}

// buildFacets indexes the facets and counters of every entry already in
// the ledger when its indexes are older than indexVersion (a ledger
// written before them), once, saying how far it is.
func (b *Books) buildFacets(log *slog.Logger) error {
	var have uint64
	if err := b.l.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyIndexVersion); len(v) == 8 {
			have = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return err
	}
	t0 := time.Now()
	if have >= indexVersion {
		var marked bool
		if err := b.l.DB().View(func(tx *bolt.Tx) error {
			var err error
			marked, err = alertDaysMarked(tx, b.l.Origins())
			return err
		}); err != nil || marked {
			return err
		}
		// An older binary recorded alerts or reviews, or a ledger
		// indexed before the marks: once.
		log.Warn("the books' alerts by day may miss alerts or reviews (an older binary recorded some); indexing them again")
	}
	if have >= 3 {
		n, err := b.buildAlertDaysOnce(log)
		if err != nil {
			return fmt.Errorf("index the books' alerts by day: %w", err)
		}
		log.Info("indexed the books' alerts by day", "alerts", n, "took", time.Since(t0).Round(time.Millisecond))
		return nil
	}
	var n uint64
	err := b.l.DB().Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAlertDay, bucketAlertDayCount} {
			if err := tx.DeleteBucket(name); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
		}
		for _, name := range [][]byte{bucketFacet, bucketCount} {
			if err := tx.DeleteBucket(name); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		byType := tx.Bucket(bucketByType)
		err := byType.ForEachBucket(func(name []byte) error {
			return byType.Bucket(name).ForEach(func(k, _ []byte) error {
				if len(k) < 9 {
					return nil
				}
				origin, seq := string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:])
				s, err := ledger.GetTx(tx, origin, seq)
				if err != nil {
					return err
				}
				if n++; n%200_000 == 0 {
					log.Info("indexing the books' entries by org and filter", "entries", n)
				}
				return reindexFacets(tx, s)
			})
		})
		if err != nil {
			return err
		}
		if err := markAllAlertDays(tx); err != nil {
			return err
		}
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, indexVersion)
		return tx.Bucket(bucketMeta).Put(keyIndexVersion, v)
	})
	if err != nil {
		return fmt.Errorf("index the books by org and filter: %w", err)
	}
	if n > 0 {
		log.Info("indexed the books' entries by org and filter", "entries", n, "took", time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// reindexFacets indexes s's facets and counters as they stand now: an
// alert under its current status (its transitions are counted once, by
// the status index, not replayed).
func reindexFacets(tx *bolt.Tx, s *ledger.Stored) error {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		m = nil
	}
	if a, ok := m.(*sanziv1.Alert); ok {
		k := key(s.Origin, s.Seq)
		st := alertStatus(tx, k)
		if err := putFacet(tx, statusFacet(st), k); err != nil {
			return err
		}
		if err := putAlertFacets(tx, a, k); err != nil {
			return err
		}
		if err := addCount(tx, countKey(s.Type, s.Origin, alertTuple(st, a.GetSeverity(), a.GetRuleCode())), 1); err != nil {
			return err
		}
		if err := indexAlertDay(tx, s, a, st); err != nil {
			return err
		}
		return addCount(tx, countKey(s.Type, s.Origin, nil), 1)
	}
	if _, ok := m.(*sanziv1.AlertTransition); ok {
		m = nil // the status it set is the alert's, indexed with the alert
	}
	return indexFacets(tx, s, m)
}

// unindexFacets forgets the facets of origin's entries from seq from on
// and counts origin's remaining entries again (a chain restore; see
// Unindex).
func unindexFacets(tx *bolt.Tx, origin string, from uint64) error {
	facets := tx.Bucket(bucketFacet)
	if err := facets.ForEachBucket(func(name []byte) error {
		b := facets.Bucket(name)
		var dead [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(key(origin, from)); k != nil && removedFrom(k, origin, from); k, _ = c.Next() {
			dead = append(dead, append([]byte(nil), k...))
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	counts := tx.Bucket(bucketCount)
	var dead [][]byte
	if err := counts.ForEach(func(k, _ []byte) error {
		if _, o, _, ok := splitCountKey(k); ok && o == origin {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range dead {
		if err := counts.Delete(k); err != nil {
			return err
		}
	}
	if err := unindexAlertDays(tx, origin, from); err != nil {
		return err
	}
	// What stays of the chain is counted again from its entries; the
	// facets of those stay as they were.
	byType := tx.Bucket(bucketByType)
	return byType.ForEachBucket(func(name []byte) error {
		c := byType.Bucket(name).Cursor()
		prefix := []byte(origin)
		for k, _ := c.Seek(prefix); k != nil && len(k) == len(origin)+8 && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if binary.BigEndian.Uint64(k[len(origin):]) >= from {
				break
			}
			s, err := ledger.GetTx(tx, origin, binary.BigEndian.Uint64(k[len(origin):]))
			if err != nil {
				return err
			}
			if err := recount(tx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// recount adds s to the counters as it stands now.
func recount(tx *bolt.Tx, s *ledger.Stored) error {
	m, _ := entries.Decode(s.Type, s.Payload)
	switch m := m.(type) {
	case *sanziv1.Transaction:
		if err := addCount(tx, countKey(s.Type, s.Origin, kindTuple(m.GetKind())), 1); err != nil {
			return err
		}
	case *sanziv1.Alert:
		st := alertStatus(tx, key(s.Origin, s.Seq))
		if err := addCount(tx, countKey(s.Type, s.Origin, alertTuple(st, m.GetSeverity(), m.GetRuleCode())), 1); err != nil {
			return err
		}
		if err := countAlertDay(tx, s.Origin, alertDay(s.RecordedAt), alertTuple(st, m.GetSeverity(), m.GetRuleCode()), s.Seq, 1); err != nil {
			return err
		}
	}
	return addCount(tx, countKey(s.Type, s.Origin, nil), 1)
}
