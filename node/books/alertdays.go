package books

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// An alerts list filtered by a time window (when raised: the entry's
// recorded time) finds its page and its total without walking the org's
// alerts (issue 17) through two indexes kept with the others:
//
//   - idx_alert_day: every alert's key by origin, then the UTC day it was
//     recorded, then seq (origin + day + seq), its recorded time (Unix
//     nanoseconds) as the value: one org's alerts of one day are one
//     range of keys, in seq order;
//   - idx_alert_daycount: per origin and day, how many alerts hold each
//     status, severity and rule together (alertTuple), with the least
//     and the greatest seq they were ever counted with.
//
// A total sums the counters of the window's days that its filters
// accept; a day the window holds only part of is counted from its range
// of idx_alert_day, time by time. A page merges the day ranges in seq
// order (the list's order; a chain's clock may step back, so a later day
// can hold an earlier seq), opening a day's range only once the seqs
// before its least are taken: on a chain whose clock runs forward, the
// first page reads the first days of the window and no other.
var (
	bucketAlertDay      = []byte("idx_alert_day")
	bucketAlertDayCount = []byte("idx_alert_daycount")
)

// alertDay is the UTC day t falls on, counted from 1970 and moved by
// 2^31 so that days before it order first as bytes too.
func alertDay(t time.Time) uint32 {
	sec := t.Unix()
	d := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		d--
	}
	return uint32(min(max(d, math.MinInt32), math.MaxInt32) + 1<<31)
}

// dayStart is the first instant of day d (alertDay).
func dayStart(d uint32) time.Time { return time.Unix((int64(d)-1<<31)*86400, 0) }

// dayKey is the key of origin's alert seq, recorded on day, in
// idx_alert_day.
func dayKey(origin string, day uint32, seq uint64) []byte {
	k := make([]byte, 0, len(origin)+12)
	k = append(k, origin...)
	k = binary.BigEndian.AppendUint32(k, day)
	return binary.BigEndian.AppendUint64(k, seq)
}

// dayCountPrefix is the start of origin's counters in idx_alert_daycount:
// origin's length and origin, then the day and the tuple follow.
func dayCountPrefix(origin string) []byte {
	return append([]byte{byte(len(origin))}, origin...)
}

// dayCount is one counter of idx_alert_daycount: n alerts, whose seqs
// lie within [lo, hi]. The bounds only widen while n > 0 (an alert that
// moves to another status leaves them as they were), so they may be
// loose, never wrong.
type dayCount struct {
	n, lo, hi uint64
}

func decodeDayCount(v []byte) (dayCount, bool) {
	if len(v) != 24 {
		return dayCount{}, false
	}
	return dayCount{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:])}, true
}

func (c dayCount) encode() []byte {
	v := make([]byte, 0, 24)
	v = binary.BigEndian.AppendUint64(v, c.n)
	v = binary.BigEndian.AppendUint64(v, c.lo)
	return binary.BigEndian.AppendUint64(v, c.hi)
}

// alertDayBucket is the bucket named name, made if missing (the ledger
// may index entries before New made the books' buckets).
func alertDayBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	if b := tx.Bucket(name); b != nil {
		return b, nil
	}
	return tx.CreateBucket(name)
}

// countAlertDay adds d (1 or -1) to the counter of origin's alerts of
// day with tuple, seq being the alert's.
func countAlertDay(tx *bolt.Tx, origin string, day uint32, tuple []byte, seq uint64, d int) error {
	b, err := alertDayBucket(tx, bucketAlertDayCount)
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint32(dayCountPrefix(origin), day)
	k = append(k, tuple...)
	c, ok := decodeDayCount(b.Get(k))
	switch {
	case d < 0 && c.n <= 1:
		return b.Delete(k)
	case d < 0:
		c.n--
	case !ok || c.n == 0:
		c = dayCount{1, seq, seq}
	default:
		c.n++
		c.lo, c.hi = min(c.lo, seq), max(c.hi, seq)
	}
	return b.Put(k, c.encode())
}

// indexAlertDay puts alert s, of status st, in idx_alert_day and its
// counter.
func indexAlertDay(tx *bolt.Tx, s *ledger.Stored, a *sanziv1.Alert, st sanziv1.AlertStatus) error {
	b, err := alertDayBucket(tx, bucketAlertDay)
	if err != nil {
		return err
	}
	b.FillPercent = 0.9
	day := alertDay(s.RecordedAt)
	if err := b.Put(dayKey(s.Origin, day, s.Seq), binary.BigEndian.AppendUint64(nil, uint64(s.RecordedAt.UnixNano()))); err != nil {
		return err
	}
	return countAlertDay(tx, s.Origin, day, alertTuple(st, a.GetSeverity(), a.GetRuleCode()), s.Seq, 1)
}

// moveAlertDay moves alert s from status from to status to in its day's
// counters.
func moveAlertDay(tx *bolt.Tx, s *ledger.Stored, a *sanziv1.Alert, from, to sanziv1.AlertStatus) error {
	day := alertDay(s.RecordedAt)
	if err := countAlertDay(tx, s.Origin, day, alertTuple(from, a.GetSeverity(), a.GetRuleCode()), s.Seq, -1); err != nil {
		return err
	}
	return countAlertDay(tx, s.Origin, day, alertTuple(to, a.GetSeverity(), a.GetRuleCode()), s.Seq, 1)
}

// unindexAlertDays forgets origin's alerts from seq from on in
// idx_alert_day, and all of origin's day counters: recount makes those of
// the alerts that stay again (see unindexFacets).
func unindexAlertDays(tx *bolt.Tx, origin string, from uint64) error {
	for _, l := range []struct {
		name   []byte
		prefix []byte
		gone   func(k []byte) bool
	}{
		{bucketAlertDay, []byte(origin), func(k []byte) bool {
			return len(k) == len(origin)+12 && binary.BigEndian.Uint64(k[len(origin)+4:]) >= from
		}},
		{bucketAlertDayCount, dayCountPrefix(origin), func([]byte) bool { return true }},
	} {
		b := tx.Bucket(l.name)
		if b == nil {
			continue
		}
		var dead [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(l.prefix); k != nil && bytes.HasPrefix(k, l.prefix); k, _ = c.Next() {
			if l.gone(k) {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildAlertDays makes idx_alert_day, its counters and its marks from the
// alerts a ledger indexed at version 3 holds (the indexes before them),
// with their current statuses, in tx, calling each after each alert.
func buildAlertDays(tx *bolt.Tx, each func()) error {
	for _, name := range [][]byte{bucketAlertDay, bucketAlertDayCount} {
		if err := tx.DeleteBucket(name); err != nil && err != bolt.ErrBucketNotFound {
			return err
		}
	}
	alerts := tx.Bucket(bucketByType).Bucket([]byte{byte(sanziv1.EntryType_ENTRY_TYPE_ALERT)})
	if alerts == nil {
		return markAllAlertDays(tx)
	}
	err := alerts.ForEach(func(k, _ []byte) error {
		if len(k) < 9 {
			return nil
		}
		s, err := ledger.GetTx(tx, string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:]))
		if err != nil {
			return err
		}
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return nil // not indexed by its facets either (reindexFacets)
		}
		each()
		return indexAlertDay(tx, s, m.(*sanziv1.Alert), alertStatus(tx, k))
	})
	if err != nil {
		return err
	}
	return markAllAlertDays(tx)
}

// window is [since, until) of an AlertFilter; a zero bound is open.
type window struct{ since, until time.Time }

func (w window) has(t time.Time) bool {
	return (w.since.IsZero() || !t.Before(w.since)) && (w.until.IsZero() || t.Before(w.until))
}

// days are the first and last day w touches; ok is false when it holds
// no instant.
func (w window) days() (first, last uint32, ok bool) {
	first, last = 0, math.MaxUint32
	if !w.since.IsZero() {
		first = alertDay(w.since)
	}
	if !w.until.IsZero() {
		if !w.since.IsZero() && !w.until.After(w.since) {
			return 0, 0, false
		}
		last = alertDay(w.until.Add(-time.Nanosecond))
	}
	return first, last, first <= last
}

// whole says whether w holds all of day d.
func (w window) whole(d uint32) bool {
	return (w.since.IsZero() || !dayStart(d).Before(w.since)) && (w.until.IsZero() || d < math.MaxUint32 && !dayStart(d+1).After(w.until))
}

// alertsInWindow is ListAlerts of org's alerts in w whose status,
// severity and rule keep accepts (nil: all) and which are under every
// facet of facets (the same filters as index keys), from the day indexes.
func (b *Books) alertsInWindow(org string, w window, keep func(sanziv1.AlertStatus, string, string) bool, facets [][]byte,
	p Page, build func(tx *bolt.Tx, s *ledger.Stored) error) (next string, total int64, err error) {
	size, after, err := p.bounds()
	if err != nil {
		return "", 0, err
	}
	first, last, ok := w.days()
	if !ok {
		return "", 0, nil
	}
	from, past := seqsAfter(org, after)
	var lastKey []byte
	more := false
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		ws := windowScan{tx: tx, idx: tx.Bucket(bucketAlertDay), counts: tx.Bucket(bucketAlertDayCount), org: org, w: w, facets: facets}
		if ws.idx == nil || ws.counts == nil {
			return nil
		}
		runs := ws.days(first, last, keep)
		for _, r := range runs {
			total += int64(r.n)
		}
		if past {
			return nil
		}
		n := 0
		return ws.inSeqOrder(runs, from, func(seq uint64) (bool, error) {
			if n == size {
				more = true
				return false, nil
			}
			s, err := ledger.GetTx(tx, org, seq)
			if err != nil {
				return false, err
			}
			if err := build(tx, s); err != nil {
				return false, err
			}
			n++
			lastKey = key(org, seq)
			return true, nil
		})
	})
	if err != nil {
		return "", 0, fmt.Errorf("list alerts in a time window: %w", err)
	}
	if more {
		next = hex.EncodeToString(lastKey)
	}
	return next, total, nil
}

// seqsAfter is where a page of org's alerts after the token's key after
// (nil: none) starts: the least seq whose key (origin + seq) sorts after
// it, as a walk of idx_type would find, or past when no key of org does.
// A token is the client's to send: another org's, or one that no page
// gave (a key shorter or longer than org's, the greatest seq), must
// neither list org from its start again nor wrap round.
func seqsAfter(org string, after []byte) (from uint64, past bool) {
	switch {
	case after == nil || bytes.Compare(key(org, 0), after) > 0:
		return 0, false
	case bytes.Compare(key(org, math.MaxUint64), after) <= 0:
		return 0, true
	}
	// Between the two: after is org followed by a seq's bytes, maybe
	// fewer (a key that sorts before the seq they begin) or more (after
	// it).
	rest := after[len(org):]
	var seq [8]byte
	copy(seq[:], rest)
	from = binary.BigEndian.Uint64(seq[:])
	if len(rest) >= 8 {
		from++
	}
	return from, false
}

// windowScan reads org's alerts in w under every facet of facets from
// the day indexes, in tx.
type windowScan struct {
	tx          *bolt.Tx
	idx, counts *bolt.Bucket
	org         string
	w           window
	facets      [][]byte
}

// dayRun is one day of a window's matches: how many, and bounds of their
// seqs.
type dayRun struct {
	day uint32
	dayCount
}

// dayPrefix is the start of org's keys of day in idx_alert_day.
func (ws *windowScan) dayPrefix(day uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(ws.org), day)
}

// match says whether the alert at k (a key of idx_alert_day, v its
// value) is in w and under every facet, and its seq.
func (ws *windowScan) match(k, v []byte) (uint64, bool) {
	if len(k) != len(ws.org)+12 || len(v) != 8 || !ws.w.has(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(k[len(ws.org)+4:])
	for _, f := range ws.facets {
		if !inFacet(ws.tx, f, key(ws.org, seq)) {
			return 0, false
		}
	}
	return seq, true
}

// days are the days from first to last holding matches, in day order,
// from the counters whose tuple keep accepts; a day w holds only part of
// is counted alert by alert. It reads every counter of the window's days,
// never more counters than alerts, and no day that holds none: a window
// from 1900 to 9999 over the 1 M sample (2,616 alerts in ten years)
// costs 1.1 ms a page, a month 0.42 ms (BenchmarkListFirstPage1M).
// TODO(issue 17): a village with many alerts a day pays days × (status,
// severity, rule) counters for a wide window; counters by month would
// bound it.
func (ws *windowScan) days(first, last uint32, keep func(sanziv1.AlertStatus, string, string) bool) []dayRun {
	var runs []dayRun
	prefix := dayCountPrefix(ws.org)
	c := ws.counts.Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint32(bytes.Clone(prefix), first)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+4 {
			continue
		}
		day := binary.BigEndian.Uint32(k[len(prefix):])
		if day > last {
			break
		}
		n, ok := decodeDayCount(v)
		if !ok || keep != nil && !keep(splitAlertTuple(k[len(prefix)+4:])) {
			continue
		}
		if i := len(runs) - 1; i >= 0 && runs[i].day == day {
			r := &runs[i]
			r.n, r.lo, r.hi = r.n+n.n, min(r.lo, n.lo), max(r.hi, n.hi)
			continue
		}
		runs = append(runs, dayRun{day, n})
	}
	for i := range runs {
		r := &runs[i]
		if ws.w.whole(r.day) {
			continue
		}
		dp := ws.dayPrefix(r.day)
		r.n = 0
		c := ws.idx.Cursor()
		for k, v := c.Seek(dp); k != nil && bytes.HasPrefix(k, dp); k, v = c.Next() {
			if _, ok := ws.match(k, v); ok {
				r.n++
			}
		}
	}
	return slices.DeleteFunc(runs, func(r dayRun) bool { return r.n == 0 })
}

// inSeqOrder calls each with the seqs of the matches in runs from seq
// from on, in seq order, until it returns false or an error. The days'
// ranges are merged: a day's is opened only once no open one holds a seq
// below the least its counters allow (lo), so on a chain whose clock runs
// forward a page opens a day or two.
func (ws *windowScan) inSeqOrder(runs []dayRun, from uint64, each func(seq uint64) (bool, error)) error {
	runs = slices.DeleteFunc(runs, func(r dayRun) bool { return r.hi < from })
	for i := range runs {
		runs[i].lo = max(runs[i].lo, from)
	}
	slices.SortStableFunc(runs, func(a, b dayRun) int { return cmp.Compare(a.lo, b.lo) })
	type cur struct {
		c      *bolt.Cursor
		prefix []byte
		seq    uint64
	}
	// advance moves oc to its day's next match from k on; false when
	// there is none.
	advance := func(oc *cur, k, v []byte) bool {
		for ; k != nil && bytes.HasPrefix(k, oc.prefix); k, v = oc.c.Next() {
			if seq, ok := ws.match(k, v); ok {
				oc.seq = seq
				return true
			}
		}
		return false
	}
	var open []*cur
	for i := 0; ; {
		least := -1
		for j, oc := range open {
			if least < 0 || oc.seq < open[least].seq {
				least = j
			}
		}
		if i < len(runs) && (least < 0 || runs[i].lo <= open[least].seq) {
			r := runs[i]
			i++
			oc := &cur{c: ws.idx.Cursor(), prefix: ws.dayPrefix(r.day)}
			if k, v := oc.c.Seek(dayKey(ws.org, r.day, r.lo)); advance(oc, k, v) {
				open = append(open, oc)
			}
			continue
		}
		if least < 0 {
			return nil
		}
		oc := open[least]
		if ok, err := each(oc.seq); !ok || err != nil {
			return err
		}
		if k, v := oc.c.Next(); !advance(oc, k, v) {
			open = slices.Delete(open, least, least+1)
		}
	}
}

// buildAlertDaysOnce is buildFacets' step from version 3, and its repair
// of day indexes an older binary left behind (alertDaysMarked): only the
// day indexes are built, so only the alerts are read.
func (b *Books) buildAlertDaysOnce(log *slog.Logger) (uint64, error) {
	var n uint64
	err := b.l.DB().Update(func(tx *bolt.Tx) error {
		if err := buildAlertDays(tx, func() {
			if n++; n%200_000 == 0 {
				log.Info("indexing the books' alerts by day", "alerts", n)
			}
		}); err != nil {
			return err
		}
		// Never lowered: a build after an older binary's writes leaves a
		// newer binary's version as it found it.
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyIndexVersion); len(v) == 8 && binary.BigEndian.Uint64(v) >= indexVersion {
			return nil
		}
		return meta.Put(keyIndexVersion, binary.BigEndian.AppendUint64(nil, indexVersion))
	})
	return n, err
}

// A binary of index version 3 opening a ledger this one indexed sees
// version 4, keeps it, and records alerts and reviews without the day
// indexes: a window would then list wrong, and nothing would build them
// again. So that an open finds that out without reading every alert, the
// day indexes keep a mark per origin (idx_alert_daymark): the seq and hash
// of the last alert or review of origin's chain they took in. An older
// binary appends, or restores a chain, without moving the mark, and the
// chain's last alert or review is then another entry or has another hash
// (the hash covers the whole chain before it): alertDaysMarked sees it and
// the open builds the day indexes again (buildFacets). Equal marks mean
// every alert and review the chain holds is one the day indexes took in.
var bucketAlertDayMark = []byte("idx_alert_daymark")

// lastAlertSeq is the greatest seq of origin's alerts and reviews in
// idx_type, 0 when it has none.
func lastAlertSeq(tx *bolt.Tx, origin string) uint64 {
	byType := tx.Bucket(bucketByType)
	if byType == nil {
		return 0
	}
	var last uint64
	for _, t := range []sanziv1.EntryType{sanziv1.EntryType_ENTRY_TYPE_ALERT, sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION} {
		b := byType.Bucket([]byte{byte(t)})
		if b == nil {
			continue
		}
		// origin's keys are origin + seq: its last is the key before
		// origin + 2^56 (no chain gets that long), before the keys of a
		// longer origin it begins (a village's code begins with its
		// town's), whose next byte is a character.
		c := b.Cursor()
		k, _ := c.Seek(key(origin, 1<<56))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if len(k) == len(origin)+8 && bytes.HasPrefix(k, []byte(origin)) {
			last = max(last, binary.BigEndian.Uint64(k[len(origin):]))
		}
	}
	return last
}

// alertMark is what idx_alert_daymark holds for origin now (nil: origin
// has no alert or review).
func alertMark(tx *bolt.Tx, origin string) ([]byte, error) {
	seq := lastAlertSeq(tx, origin)
	if seq == 0 {
		return nil, nil
	}
	s, err := ledger.GetTx(tx, origin, seq)
	if err != nil {
		return nil, fmt.Errorf("read the last alert or review of %s: %w", origin, err)
	}
	return append(binary.BigEndian.AppendUint64(nil, seq), s.Hash[:]...), nil
}

// alertMarkCurrent says whether origin's mark is what its chain holds.
func alertMarkCurrent(tx *bolt.Tx, origin string) (bool, error) {
	want, err := alertMark(tx, origin)
	if err != nil {
		return false, err
	}
	var have []byte
	if b := tx.Bucket(bucketAlertDayMark); b != nil {
		have = b.Get([]byte(origin))
	}
	return bytes.Equal(have, want), nil
}

// alertMarkCurrentTo is alertMarkCurrent in a restore of origin's chain
// from seq from (Unindex), the entries from there on already gone from
// the chain though not yet from idx_type: a mark on one of those is
// current when it names the last alert or review idx_type holds (its hash
// can no longer be read).
func alertMarkCurrentTo(tx *bolt.Tx, origin string, from uint64) (bool, error) {
	seq := lastAlertSeq(tx, origin)
	if seq < from {
		return alertMarkCurrent(tx, origin)
	}
	var have []byte
	if b := tx.Bucket(bucketAlertDayMark); b != nil {
		have = b.Get([]byte(origin))
	}
	return len(have) == 8+ledger.HashSize && binary.BigEndian.Uint64(have) == seq, nil
}

// setAlertMark makes origin's mark what its chain holds (none when it has
// no alert or review, or when its last cannot be read: the next open then
// builds the day indexes again rather than a restore failing).
func setAlertMark(tx *bolt.Tx, origin string) error {
	b, err := alertDayBucket(tx, bucketAlertDayMark)
	if err != nil {
		return err
	}
	m, err := alertMark(tx, origin)
	if err != nil || m == nil {
		return b.Delete([]byte(origin))
	}
	return b.Put([]byte(origin), m)
}

// markAlertEntry moves origin's mark on to s, an alert or review the day
// indexes take in, called before s is in idx_type: only when the mark was
// current, so that one an older binary left behind stays behind (the open
// rebuilds) even if this binary records alerts before the open checks.
func markAlertEntry(tx *bolt.Tx, s *ledger.Stored) error {
	// A last alert or review that cannot be read leaves the mark as it is
	// (the open rebuilds): an error here would refuse every append.
	if ok, err := alertMarkCurrent(tx, s.Origin); err != nil || !ok {
		return nil
	}
	b, err := alertDayBucket(tx, bucketAlertDayMark)
	if err != nil {
		return err
	}
	return b.Put([]byte(s.Origin), append(binary.BigEndian.AppendUint64(nil, s.Seq), s.Hash[:]...))
}

// markAllAlertDays sets every origin's mark after a build of the day
// indexes, the marks of origins without alerts or reviews removed.
func markAllAlertDays(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketAlertDayMark); err != nil && err != bolt.ErrBucketNotFound {
		return err
	}
	if _, err := tx.CreateBucket(bucketAlertDayMark); err != nil {
		return err
	}
	origins := map[string]bool{}
	for _, t := range []sanziv1.EntryType{sanziv1.EntryType_ENTRY_TYPE_ALERT, sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION} {
		b := tx.Bucket(bucketByType).Bucket([]byte{byte(t)})
		if b == nil {
			continue
		}
		if err := b.ForEach(func(k, _ []byte) error {
			if len(k) >= 9 {
				origins[string(k[:len(k)-8])] = true
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for o := range origins {
		if err := setAlertMark(tx, o); err != nil {
			return err
		}
	}
	return nil
}

// alertDaysMarked says whether the day indexes hold every alert and review
// of origins (the ledger's chains) and of every origin marked: an open
// reads two keys and an entry per origin.
func alertDaysMarked(tx *bolt.Tx, origins []string) (bool, error) {
	all := slices.Clone(origins)
	if b := tx.Bucket(bucketAlertDayMark); b != nil {
		if err := b.ForEach(func(k, _ []byte) error {
			all = append(all, string(k))
			return nil
		}); err != nil {
			return false, err
		}
	}
	for _, o := range all {
		ok, err := alertMarkCurrent(tx, o)
		if err != nil || !ok {
			return false, nil // a chain that cannot be read: the build says why
		}
	}
	return true, nil
}
