package books_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// testClock is a clock a test sets.
type testClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *testClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.at = t }

// utc is s (2006-01-02 15:04) in UTC.
func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// beijing is s (2006-01-02 15:04) in Beijing time (UTC+8).
func beijing(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, time.FixedZone("CST", 8*3600))
	if err != nil {
		panic(err)
	}
	return t
}

func windowName(w [2]time.Time) string {
	return fmt.Sprintf("[%s, %s)", w[0].Format(time.DateTime), w[1].Format(time.DateTime))
}

// alertsBase is when fillAlertDays raises its first alert (UTC).
var alertsBase = utc("2026-03-01 20:00")

// fillAlertDays raises 48 alerts in benchOrg and otherOrg, one every five
// hours from alertsBase over ten days and across their UTC midnights, of
// three rules and two severities, with the chains' clock stepping back
// two days before every ninth (so that a later seq can be an earlier
// day), one exactly at midnight; then moves some through their review,
// later.
func fillAlertDays(t *testing.T, b *books.Books, clk *testClock) {
	t.Helper()
	ctx := context.Background()
	clk.set(alertsBase.Add(-time.Hour))
	var subjects []string
	for _, org := range []string{benchOrg, otherOrg} {
		tx := sampleTx(len(subjects))
		tx.Org = org
		st, _, err := b.RecordTransaction(ctx, "t", tx)
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, st.ID())
	}
	var raised []*ledger.Stored
	for i := range 48 {
		at := alertsBase.Add(time.Duration(i) * 5 * time.Hour)
		if i%9 == 8 {
			at = at.Add(-48 * time.Hour)
		}
		if i == 20 {
			at = utc("2026-03-06 00:00") // on a day's edge
		}
		clk.set(at)
		code := []string{"SPLIT", "ARREARS", "DUP-INVOICE"}[i%3]
		sev := []rules.Severity{rules.SeverityYellow, rules.SeverityRed}[i%2]
		out, err := b.RecordFindings(ctx, nil, []rules.Hit{{Code: code, Severity: sev, Reason: "test", Subject: subjects[i%5%2], Key: fmt.Sprintf("%s/%d", code, i)}})
		if err != nil {
			t.Fatal(err)
		}
		raised = append(raised, out...)
	}
	clk.set(alertsBase.Add(400 * time.Hour))
	steps := []sanziv1.AlertStatus{sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED, sanziv1.AlertStatus_ALERT_STATUS_RESOLVED}
	for n, st := range raised {
		for _, to := range steps[:n%4] {
			if _, err := b.UpdateAlertStatus(ctx, "t", &sanziv1.AlertTransition{Org: st.Origin, AlertId: st.ID(), Status: to, Reason: "核实"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// alertWindows are the time windows the tests list alerts in: on days'
// edges, within days, at an alert's own instant (Since holds it, Until
// does not), open at either side or both far out, before 1970, and empty
// (Until at or before Since; no alert in it). empty says which hold no
// alert whatever the chains.
func alertWindows() (ws [][2]time.Time, empty map[int]bool) {
	ws = [][2]time.Time{
		{utc("2026-03-02 00:00"), utc("2026-03-03 00:00")},
		{utc("2026-03-02 00:00"), utc("2026-03-06 00:00")},
		{utc("2026-03-06 00:00"), utc("2026-03-07 00:00")},
		{utc("2026-03-02 07:30"), utc("2026-03-04 13:00")},
		{alertsBase.Add(5 * time.Hour), alertsBase.Add(25 * time.Hour)},
		{alertsBase.Add(5*time.Hour + 1), alertsBase.Add(25*time.Hour + 1)},
		{utc("2026-03-04 00:00"), {}},
		{utc("2026-03-04 12:00"), {}},
		{{}, utc("2026-03-04 12:00")},
		{{}, utc("2026-03-06 00:00")},
		{utc("1960-01-01 00:00"), utc("2100-01-01 00:00")},
		{utc("1960-01-01 00:00"), {}},
		{utc("2026-03-05 00:00"), utc("2026-03-05 00:00")},
		{utc("2026-03-05 00:00"), utc("2026-03-04 00:00")},
		{utc("2030-01-01 00:00"), {}},
		{{}, utc("1965-01-01 00:00")},
		// In Beijing time (a console's): the days the index keeps are
		// UTC's, the window's bounds instants.
		{beijing("2026-03-02 00:00"), beijing("2026-03-03 00:00")},
		{beijing("2026-03-03 07:59"), beijing("2026-03-05 08:00")},
		{{}, beijing("2026-03-06 00:00")},
	}
	return ws, map[int]bool{12: true, 13: true, 14: true, 15: true}
}

// alertWindowCases are the alerts lists of every window, by each org
// (none: across orgs; one that holds nothing) and with each other filter.
func alertWindowCases() []listCase {
	ws, _ := alertWindows()
	var cs []listCase
	for _, w := range ws {
		for _, org := range []string{benchOrg, otherOrg, "", "350505100299"} {
			for _, f := range []books.AlertFilter{
				{},
				{Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN},
				{Status: sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED},
				{RuleCode: "SPLIT"},
				{Severity: "red"},
				{Status: sanziv1.AlertStatus_ALERT_STATUS_RESOLVED, RuleCode: "ARREARS", Severity: "yellow"},
			} {
				f.Org, f.Since, f.Until = org, w[0], w[1]
				cs = append(cs, alertCase(f))
			}
		}
	}
	return cs
}

// TestAlertWindowsMatchTheChains: an alerts list in a time window, by org
// and with each other filter, pages through exactly the alerts a walk of
// the chains finds in it, in seq order though the chains' clock stepped
// back, with the total on every page: as recorded; after the day indexes
// were built at open over a ledger indexed before them (version 3); after
// every index was built again; and after a chain was restored from the
// parent's shorter copy.
func TestAlertWindowsMatchTheChains(t *testing.T) {
	top := t
	dir := t.TempDir()
	clk := &testClock{}
	b, ring, closeFn := openTwoOrgsAt(t, dir, clk.Now)
	fillAlertDays(t, b, clk)
	ws, empty := alertWindows()
	cases := alertWindowCases()
	t.Run("as recorded", func(t *testing.T) {
		checkCases(t, b, cases)
		// The comparison shows something: most windows hold alerts of
		// each org, and the empty ones none.
		for i, w := range ws {
			want := expected(t, b, alertCase(books.AlertFilter{Org: benchOrg, Since: w[0], Until: w[1]}))
			if empty[i] != (len(want) == 0) {
				t.Errorf("window %s holds %d alerts of %s; empty: %v", windowName(w), len(want), benchOrg, empty[i])
			}
		}
	})

	reopen := func(t *testing.T, drop func(tx *bolt.Tx) error) {
		t.Helper()
		if err := b.Ledger().DB().Update(drop); err != nil {
			t.Fatal(err)
		}
		closeFn()
		b, _, closeFn = openTwoOrgsAt(top, dir, clk.Now)
	}
	t.Run("day indexes built at open over version 3", func(t *testing.T) {
		reopen(t, func(tx *bolt.Tx) error {
			for _, name := range []string{"idx_alert_day", "idx_alert_daycount"} {
				if err := tx.DeleteBucket([]byte(name)); err != nil {
					return err
				}
			}
			return tx.Bucket([]byte("idx_meta")).Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 3))
		})
		checkCases(t, b, cases)
	})
	t.Run("day indexes built at open over version 3 and what they held", func(t *testing.T) {
		// A ledger written by this binary, then by one of version 3 (its
		// day indexes left behind as they were), holds day indexes the
		// build must not add to.
		reopen(t, func(tx *bolt.Tx) error {
			for _, name := range []string{"idx_alert_day", "idx_alert_daycount"} {
				b := tx.Bucket([]byte(name))
				k, v := b.Cursor().First()
				if err := b.Put(append(bytes.Clone(k), 0), v); err != nil {
					return err
				}
				if err := b.Put(k, bytes.Repeat([]byte{0xff}, len(v))); err != nil {
					return err
				}
			}
			return tx.Bucket([]byte("idx_meta")).Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 3))
		})
		checkCases(t, b, cases)
	})
	t.Run("every index built again", func(t *testing.T) {
		reopen(t, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("idx_meta")) })
		checkCases(t, b, cases)
	})
	t.Run("after a chain restore from a shorter copy", func(t *testing.T) {
		restoreHalf(t, b, ring, dir, closeFn)
		b, _, _ = openTwoOrgsAt(top, dir, clk.Now)
		checkCases(t, b, cases)
	})
}

// TestAlertWindowHostileTokens: a page token an alerts list in a time
// window did not give (another org's, one past the org's last seq, one
// before its first) lists the first page of the alerts whose keys (origin
// + seq) come after it, as every other list does, never from the start
// again: a client paging on a token at the top of the range would
// otherwise go round for ever. The total is the window's whatever the
// token.
func TestAlertWindowHostileTokens(t *testing.T) {
	clk := &testClock{}
	b, _, _ := openTwoOrgsAt(t, t.TempDir(), clk.Now)
	fillAlertDays(t, b, clk)
	f := books.AlertFilter{Org: benchOrg, Since: utc("2026-03-02 00:00"), Until: utc("2026-03-06 00:00")}
	all := expected(t, b, alertCase(f))
	if len(all) < 4 {
		t.Fatalf("the window holds %d alerts of %s: the test shows little", len(all), benchOrg)
	}
	_, mid, err := ledger.ParseEntryID(all[len(all)/2])
	if err != nil {
		t.Fatal(err)
	}
	tok := func(org string, seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte(org), seq) }
	for _, tc := range []struct {
		name  string
		after []byte
	}{
		{"the org's seq 0", tok(benchOrg, 0)},
		{"within the org's alerts", tok(benchOrg, mid)},
		{"the org's greatest seq", tok(benchOrg, math.MaxUint64)},
		{"an org before it", tok("350505100200", 5)},
		{"an org after it", tok(otherOrg, 1)},
		{"the org and more", append(tok(benchOrg, mid), 1)},
		{"a shorter org's greatest seq", tok(benchOrg[:len(benchOrg)-1], math.MaxUint64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, id := range all {
				o, seq, err := ledger.ParseEntryID(id)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Compare(tok(o, seq), tc.after) > 0 {
					want = append(want, id)
				}
			}
			recs, _, total, err := b.ListAlerts(f, books.Page{Size: 1000, Token: hex.EncodeToString(tc.after)})
			if err != nil {
				t.Fatal(err)
			}
			if got := idsOf(recs); !slices.Equal(got, want) {
				t.Errorf("listed %v, want those after the token: %v", got, want)
			}
			if total != int64(len(all)) {
				t.Errorf("total %d, the window holds %d", total, len(all))
			}
		})
	}
}

// TestRestoreMovesAlertsBack: a chain restored from a parent's shorter
// copy loses the reviews recorded after it; an alert it keeps goes back
// to the status its remaining history gives (open when none), in the
// status index, the counters and the day counters alike, so that a list
// by status (in a time window or not) finds it there.
func TestRestoreMovesAlertsBack(t *testing.T) {
	dir := t.TempDir()
	clk := &testClock{}
	b, ring, closeFn := openTwoOrgsAt(t, dir, clk.Now)
	fillAlertDays(t, b, clk)
	restoreHalf(t, b, ring, dir, closeFn)
	b, _, _ = openTwoOrgsAt(t, dir, clk.Now)
	recs, _, _, err := b.ListAlerts(books.AlertFilter{Org: otherOrg}, books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, r := range recs {
		want := sanziv1.AlertStatus_ALERT_STATUS_OPEN
		if h := r.GetHistory(); len(h) > 0 {
			want = h[len(h)-1].GetStatus()
		}
		if want != sanziv1.AlertStatus_ALERT_STATUS_OPEN {
			moved++
		}
		if r.GetStatus() != want {
			t.Errorf("alert %s is %v after the restore; its history left it %v", r.GetEntry().GetId(), r.GetStatus(), want)
		}
	}
	if len(recs) == 0 {
		t.Fatal("the restore kept no alert: the test shows nothing")
	}
	t.Logf("%d alerts kept, %d still reviewed", len(recs), moved)
	ws, _ := alertWindows()
	var cases []listCase
	for _, st := range []sanziv1.AlertStatus{sanziv1.AlertStatus_ALERT_STATUS_OPEN, sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED} {
		cases = append(cases, alertCase(books.AlertFilter{Org: otherOrg, Status: st}))
		for _, w := range ws[:4] {
			cases = append(cases, alertCase(books.AlertFilter{Org: otherOrg, Status: st, Since: w[0], Until: w[1]}))
		}
	}
	checkCases(t, b, cases)
}

// TestAlertDaysAfterAnOlderBinary: a binary of index version 3 opening a
// ledger of version 4 keeps the version and records alerts or reviews
// without the day indexes (played here by putting the day indexes back as
// they were before this binary recorded them); the next open finds it
// and builds them again, so windows list what the chains hold. An open
// after this binary's own writes builds nothing (a stray key the day
// indexes hold stays).
func TestAlertDaysAfterAnOlderBinary(t *testing.T) {
	ctx := context.Background()
	review := func(t *testing.T, b *books.Books, _ *testClock) {
		// An alert of each org already indexed by day moves on: the orgs'
		// totals stay, their statuses' do not.
		for _, org := range []string{benchOrg, otherOrg} {
			recs, _, _, err := b.ListAlerts(books.AlertFilter{Org: org, Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN}, books.Page{Size: 1})
			if err != nil || len(recs) != 1 {
				t.Fatalf("an open alert of %s: %v, %v", org, recs, err)
			}
			if _, err := b.UpdateAlertStatus(ctx, "t", &sanziv1.AlertTransition{Org: org, AlertId: recs[0].GetEntry().GetId(),
				Status: sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, Reason: "核实"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raise := func(t *testing.T, b *books.Books, clk *testClock) {
		clk.set(alertsBase.Add(30 * time.Hour)) // a day that holds some
		if _, err := b.RecordFindings(ctx, nil, []rules.Hit{{Code: "SPLIT", Severity: rules.SeverityRed, Reason: "test", Subject: ledger.EntryID(benchOrg, 1), Key: "SPLIT/old"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		older   func(t *testing.T, b *books.Books, clk *testClock) // what the older binary records
		noMarks bool                                               // the ledger was indexed at version 4 before the marks
	}{
		{"reviews", review, false},
		{"alerts", raise, false},
		{"alerts and reviews", func(t *testing.T, b *books.Books, clk *testClock) { review(t, b, clk); raise(t, b, clk) }, false},
		{"alerts, on a ledger indexed before the marks", raise, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &testClock{}
			b, _, closeFn := openTwoOrgsAt(t, dir, clk.Now)
			fillAlertDays(t, b, clk)
			dayBuckets := []string{"idx_alert_day", "idx_alert_daycount", "idx_alert_daymark"}
			saved := map[string]map[string][]byte{}
			if err := b.Ledger().DB().View(func(tx *bolt.Tx) error {
				for _, name := range dayBuckets {
					saved[name] = map[string][]byte{}
					if err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
						saved[name][string(k)] = bytes.Clone(v)
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(saved["idx_alert_daymark"]) != 2 {
				t.Fatalf("marks of %d orgs, want 2", len(saved["idx_alert_daymark"]))
			}
			tc.older(t, b, clk)
			if err := b.Ledger().DB().Update(func(tx *bolt.Tx) error {
				for _, name := range dayBuckets {
					if err := tx.DeleteBucket([]byte(name)); err != nil {
						return err
					}
					bk, err := tx.CreateBucket([]byte(name))
					if err != nil {
						return err
					}
					for k, v := range saved[name] {
						if err := bk.Put([]byte(k), v); err != nil {
							return err
						}
					}
				}
				if tc.noMarks {
					return tx.DeleteBucket([]byte("idx_alert_daymark"))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			closeFn()
			b, _, closeFn = openTwoOrgsAt(t, dir, clk.Now)
			checkCases(t, b, alertWindowCases())

			stray := []byte("zz-stray")
			if err := b.Ledger().DB().Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("idx_alert_day")).Put(stray, nil)
			}); err != nil {
				t.Fatal(err)
			}
			closeFn()
			b, _, closeFn = openTwoOrgsAt(t, dir, clk.Now)
			defer closeFn()
			if err := b.Ledger().DB().View(func(tx *bolt.Tx) error {
				if tx.Bucket([]byte("idx_alert_day")).Get(stray) == nil {
					t.Error("an open after this binary's writes built the day indexes again")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkRecordAlert times recording one alert (a finding on a
// transaction) after 2,000 others of the same org: what the day indexes
// and their mark (idx_alert_daymark) add to each alert's append.
func BenchmarkRecordAlert(b *testing.B) {
	ctx := context.Background()
	bk := openBooks(b, b.TempDir())
	st, _, err := bk.RecordTransaction(ctx, "bench", sampleTx(0))
	if err != nil {
		b.Fatal(err)
	}
	hit := func(i int) []rules.Hit {
		return []rules.Hit{{Code: "SPLIT", Severity: rules.SeverityYellow, Reason: "bench", Subject: st.ID(), Key: fmt.Sprintf("SPLIT/%d", i)}}
	}
	for i := range 2000 {
		if _, err := bk.RecordFindings(ctx, nil, hit(-1-i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := bk.RecordFindings(ctx, nil, hit(i)); err != nil {
			b.Fatal(err)
		}
	}
}
