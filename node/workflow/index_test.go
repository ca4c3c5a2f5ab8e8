package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// observed is an entry as Observe takes it, to replay into another Flows.
type observed struct {
	id string
	at time.Time
	m  proto.Message
}

// history opens n procedures of three orgs over 2026 (bank
// reconciliations and disclosures with a month, a bank reconciliation of
// some months twice, complaints, reimbursements, reopenings) and decides
// most of them (approved to the end, rejected, returned, or left open at
// some step), feeding f and returning the entries in order.
func history(t *testing.T, f *Flows, n int) []observed {
	t.Helper()
	rnd := rand.New(rand.NewPCG(17, 2026))
	orgs := []string{"350505100201", "350505100202", "350505100203"}
	matters := []string{catalog.BankRec, "GOV-DISCLOSE", "GOV-COMPLAINT", "FUND-REIMB", catalog.BooksReopen}
	var log []observed
	feed := func(id string, at time.Time, m proto.Message) {
		t.Helper()
		if err := f.Observe(id, at, m); err != nil {
			t.Fatalf("observe %s: %v", id, err)
		}
		log = append(log, observed{id, at, m})
	}
	start := at("2026-01-05 09:00")
	var opened []string
	for i := range n {
		when := start.Add(time.Duration(i) * 7 * time.Hour)
		org, matter := orgs[rnd.IntN(len(orgs))], matters[rnd.IntN(len(matters))]
		p := &sanziv1.Procedure{Org: org, MatterCode: matter, CatalogVersion: "default", Summary: "x"}
		if matter == catalog.BankRec || matter == "GOV-DISCLOSE" || matter == catalog.BooksReopen {
			p.Period = fmt.Sprintf("2026-%02d", 1+rnd.IntN(6))
		}
		id := fmt.Sprintf("%s-%d", org, i+1)
		feed(id, when, p)
		opened = append(opened, id)
		// Decide a few steps of some earlier procedure, later.
		for j := 0; j < 3; j++ {
			q, ok := f.procs[opened[rnd.IntN(len(opened))]]
			if !ok {
				continue // closed and archived
			}
			step, _ := q.OpenStep()
			if step == nil {
				continue
			}
			action := []sanziv1.StepAction{sanziv1.StepAction_STEP_ACTION_APPROVE, sanziv1.StepAction_STEP_ACTION_APPROVE,
				sanziv1.StepAction_STEP_ACTION_APPROVE, sanziv1.StepAction_STEP_ACTION_REJECT, sanziv1.StepAction_STEP_ACTION_RETURN}[rnd.IntN(5)]
			dAt := when.Add(time.Duration(j+1) * time.Hour * 24 * 3)
			d, err := f.Check(&sanziv1.StepDecision{ProcedureId: q.ID, StepCode: step.GetCode(), Post: step.GetPost(), Action: action, Reason: "r"}, dAt)
			if err != nil {
				continue // a minimum period not run yet
			}
			feed(fmt.Sprintf("%s-d%d-%d", q.ID, i, j), dAt, d)
		}
	}
	return log
}

// all is every procedure of f, which has no archive, oldest first.
func all(f *Flows) []*Proc {
	return inOrder(slices.Collect(maps.Values(f.procs)))
}

// listByScan is List as it was: every procedure walked, in entry-key
// order (List's order: for one org, oldest first).
func listByScan(f *Flows, fl Filter) []string {
	var out []string
	ps := all(f)
	slices.SortStableFunc(ps, func(a, b *Proc) int { return bytes.Compare(ledger.IDKey(a.ID), ledger.IDKey(b.ID)) })
	for _, p := range ps {
		if (fl.Org != "" && p.P.GetOrg() != fl.Org) || (fl.Status != "" && p.Status != fl.Status) ||
			(fl.Matter != "" && p.P.GetMatterCode() != fl.Matter) || (fl.Period != "" && p.P.GetPeriod() != fl.Period) {
			continue
		}
		if s, _ := p.OpenStep(); fl.Post != "" && s.GetPost() != fl.Post {
			continue
		}
		out = append(out, p.ID)
	}
	return out
}

// dueByScan is Due as it was: every procedure looked at, closed ones too.
func dueByScan(f *Flows, now time.Time, person func(org, post string) string) []*sanziv1.Card {
	var out []*sanziv1.Card
	for _, p := range all(f) {
		out = f.dueOf(p, now, person, out)
	}
	return out
}

func ids(ps []*Proc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// sameLists compares List and Page (from the indexes, in memory and in
// f's archive, if any) with the scan of ref (every procedure in memory,
// the same history) over every filter of the history's orgs, statuses,
// matters, periods and a post, page by page with the totals, and the
// duplicate check of CheckOpen with the scan's; it returns how many
// filters matched something.
func sameLists(t *testing.T, f, ref *Flows, when string) int {
	t.Helper()
	// The index holds the open procedures and no other: a closed one left
	// in it would be filtered out, but cost each sweep as before.
	if got, want := ids(f.openInOrder()), ids(ref.openInOrder()); !slices.Equal(got, want) {
		t.Errorf("%s: open index %v, the scan %v", when, got, want)
	}
	matched := 0
	for _, org := range []string{"", "350505100201", "350505100203"} {
		for _, status := range []Status{"", StatusOpen, StatusCompleted, StatusRejected} {
			for _, matter := range []string{"", catalog.BankRec, "GOV-DISCLOSE"} {
				for _, period := range []string{"", "2026-01", "2026-04", "2026-09"} {
					if period != "" && matter == "" {
						continue
					}
					for _, post := range []string{"", "town.reviewer"} {
						fl := Filter{Org: org, Status: status, Matter: matter, Period: period, Post: post}
						list, err := f.List(fl)
						if err != nil {
							t.Fatal(err)
						}
						got, want := ids(list), listByScan(ref, fl)
						if !slices.Equal(got, want) {
							t.Errorf("%s: List(%+v) = %v, the scan %v", when, fl, got, want)
						}
						samePages(t, f, fl, want, when)
						if len(want) > 0 {
							matched++
						}
					}
				}
			}
		}
	}
	for _, matter := range []string{catalog.BankRec, "GOV-DISCLOSE"} {
		for m := 1; m <= 9; m++ {
			period := fmt.Sprintf("2026-%02d", m)
			taken := false
			for _, q := range all(ref) {
				taken = taken || (q.P.GetOrg() == "350505100201" && q.P.GetMatterCode() == matter && q.P.GetPeriod() == period && q.Status != StatusRejected)
			}
			err := f.CheckOpen(&sanziv1.Procedure{Org: "350505100201", MatterCode: matter, Period: period, Summary: "x"})
			if (err != nil) != taken {
				t.Errorf("%s: CheckOpen %s %s: %v; the scan finds one not rejected: %v", when, matter, period, err, taken)
			}
		}
	}
	return matched
}

// TestIndexesAnswerAsTheScan: over a history of procedures opened, decided,
// completed, rejected and returned, List (open ones; a matter's of one
// period) and CheckOpen's duplicates read from the indexes are what walking
// every procedure finds, and Due gives the cards the scan of every
// procedure gives, sweep after sweep; so after a checkpoint is loaded.
func TestIndexesAnswerAsTheScan(t *testing.T) {
	f := newFlows(t)
	log := history(t, f, 300)
	if len(f.opens) == 0 || len(f.opens) == len(f.procs) {
		t.Fatalf("%d of %d procedures open: the history should close some and leave some open", len(f.opens), len(f.procs))
	}
	if n := sameLists(t, f, f, "as observed"); n < 50 {
		t.Fatalf("only %d filters matched procedures: the comparison shows little", n)
	}

	loaded := saveLoad(t, f)
	sameLists(t, loaded, f, "loaded")

	scan := newFlows(t)
	for _, o := range log {
		if err := scan.Observe(o.id, o.at, o.m); err != nil {
			t.Fatal(err)
		}
	}
	person := func(org, post string) string { return org + "/" + post }
	cards := 0
	for _, now := range []string{"2026-02-01 10:00", "2026-03-15 10:00", "2026-06-01 10:00", "2026-06-02 10:00", "2026-12-30 10:00"} {
		want := dueByScan(scan, at(now), person)
		for _, fl := range []*Flows{f, loaded} {
			sameCards(t, fl.Due(at(now), person), want, now)
		}
		cards += len(want)
	}
	if cards == 0 {
		t.Fatal("no card was due: the comparison shows nothing")
	}
}

// sameCards compares the cards a Flows gave with those of its reference.
func sameCards(t *testing.T, got, want []*sanziv1.Card, when string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("at %s: %d cards, the reference %d", when, len(got), len(want))
		return
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("at %s: card %d %v, the reference %v", when, i, got[i], want[i])
		}
	}
}

// samePages reads fl from f a page of 7 at a time, as Supervisor.Procedures
// does, and compares the pages and every page's total with want.
func samePages(t *testing.T, f *Flows, fl Filter, want []string, when string) {
	t.Helper()
	const size = 7
	var got []string
	var after []byte
	for pages := 0; ; pages++ {
		page, total, err := f.Page(fl, after, size+1)
		if err != nil {
			t.Fatal(err)
		}
		if total != len(want) {
			t.Errorf("%s: Page(%+v) page %d: total %d, the scan %d", when, fl, pages, total, len(want))
			return
		}
		more := len(page) > size
		if more {
			page = page[:size]
		}
		got = append(got, ids(page)...)
		if !more || pages > len(want) {
			break
		}
		after = ledger.IDKey(page[size-1].ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Page(%+v) pages %v, the scan %v", when, fl, got, want)
	}
}

// sameProcedures compares every procedure ref holds, as Get reads it from
// f (in memory or archived) and renders it, and the resolution verdict
// that reads it, with ref's.
func sameProcedures(t *testing.T, f, ref *Flows, when string) {
	t.Helper()
	for _, want := range all(ref) {
		got, err := f.Get(want.ID)
		if err != nil {
			t.Fatalf("%s: Get(%s): %v", when, want.ID, err)
		}
		gr, err := got.Record()
		if err != nil {
			t.Fatal(err)
		}
		wr, err := want.Record()
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(gr, wr) || !got.Opened.Equal(want.Opened) {
			t.Errorf("%s: procedure %s reads %v, the reference %v", when, want.ID, gr, wr)
		}
		tx := &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, Org: want.P.GetOrg(), AmountFen: 6_000_000,
			ResolutionProcedureId: want.ID}
		if g, w := f.Resolution(tx), ref.Resolution(tx); g.Approved != w.Approved || g.Why != w.Why {
			t.Errorf("%s: resolution by %s: %v %q, the reference %v %q", when, want.ID, g.Approved, g.Why, w.Approved, w.Why)
		}
	}
	if _, err := f.Get("350505100201-999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("%s: Get of a procedure never opened: %v, want ErrNotFound", when, err)
	}
}

// saveLoad is a Flows New made that loaded what f saves (without an
// archive: all of f).
func saveLoad(t *testing.T, f *Flows) *Flows {
	t.Helper()
	loaded := newFlows(t)
	if err := loaded.Load(checkpoint.NewDecoder(saved(t, f))); err != nil {
		t.Fatal(err)
	}
	return loaded
}

// saved is what f.Save writes.
func saved(t *testing.T, f *Flows) []byte {
	t.Helper()
	e := &checkpoint.Encoder{}
	f.Save(e)
	state, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// archiveDB is a bbolt file in a test's folder.
func archiveDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkpointTo saves f's state as a checkpoint would, with the closed
// procedures it stages written to the archive in the same transaction
// (state kept under "state"), and returns the batch written; done drops
// it from memory at once, as a start's or a shutdown's checkpoint does
// (a Sweep's drops it later).
func checkpointTo(t *testing.T, db *bolt.DB, f *Flows, done bool) *Batch {
	t.Helper()
	state := saved(t, f)
	b := f.Staged()
	err := db.Update(func(tx *bolt.Tx) error {
		if err := b.Write(tx); err != nil {
			return err
		}
		st, err := tx.CreateBucketIfNotExists([]byte("test-state"))
		if err != nil {
			return err
		}
		return st.Put([]byte("state"), state)
	})
	if err != nil {
		t.Fatal(err)
	}
	if done {
		b.Done()
	}
	return b
}

// TestArchiveAnswersAsMemory: a Flows that leaves its closed procedures to
// an archive at each checkpoint lists, pages, counts, refuses a month's
// duplicate, reads each procedure and its resolution, and gives the cards
// exactly as one that keeps every procedure in memory, over the same
// history: between checkpoints, while a checkpoint's batch is written and
// not yet dropped from memory (and once again, re-staged), after a batch
// whose write failed, and after a crash (the file reopened, the state
// loaded from the last checkpoint, the entries after it replayed). After a
// checkpoint it holds in memory only what is open.
func TestArchiveAnswersAsMemory(t *testing.T) {
	log := history(t, newFlows(t), 400)
	path := filepath.Join(t.TempDir(), "archive.db")
	db := archiveDB(t, path)
	ref, f := newFlows(t), newFlows(t)
	f.UseArchive(NewArchive(db, "test"))
	person := func(org, post string) string { return org + "/" + post }
	var full []observed // every entry ref observed, the sweeps' cards too
	observe := func(o observed, fs ...*Flows) {
		t.Helper()
		full = append(full, o)
		for _, x := range append([]*Flows{ref}, fs...) {
			if err := x.Observe(o.id, o.at, o.m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// sweep gives the cards due at now in ref and in x, compares them, and
	// records them (as the supervision's sweep does).
	cards := 0
	sweep := func(now time.Time, x *Flows) {
		t.Helper()
		want := ref.Due(now, person)
		sameCards(t, x.Due(now, person), want, now.String())
		for _, c := range want {
			cards++
			observe(observed{fmt.Sprintf("350505100299-%d", cards), now, c}, x)
		}
	}
	compare := func(x *Flows, when string) {
		t.Helper()
		if n := sameLists(t, x, ref, when); n < 20 {
			t.Fatalf("%s: only %d filters matched procedures", when, n)
		}
		sameProcedures(t, x, ref, when)
	}
	const chunk = 150
	cut := len(log) - 2*chunk // the crash comes there
	chunks := (cut + chunk - 1) / chunk
	checkpointed := 0 // how many of full the last checkpoint written covers
	for k := range chunks {
		for _, o := range log[k*chunk : min((k+1)*chunk, cut)] {
			observe(o, f)
		}
		sweep(full[len(full)-1].at.Add(96*time.Hour), f)
		when := fmt.Sprintf("after %d entries", len(full))
		switch 2 - (chunks-1-k)%3 { // the last before the crash fails
		case 0: // a checkpoint written and its batch dropped at once
			checkpointTo(t, db, f, true)
			checkpointed = len(full)
			if len(f.procs) != len(f.opens) {
				t.Errorf("%s: %d procedures in memory, %d open: the closed ones belong to the archive", when, len(f.procs), len(f.opens))
			}
		case 1: // written, not dropped yet: a list meanwhile reads each once
			b := checkpointTo(t, db, f, false)
			compare(f, when+", batch written, not dropped yet")
			checkpointTo(t, db, f, true) // the same procedures staged again
			b.Done()
			checkpointed = len(full)
		case 2: // staged, but the write failed: still in memory only
			f.Save(&checkpoint.Encoder{})
			if b := f.Staged(); b.Len() == 0 {
				t.Errorf("%s: nothing staged", when)
			}
		}
		compare(f, when)
	}
	if checkpointed == 0 || checkpointed == len(full) {
		t.Fatalf("the last checkpoint covers %d of %d entries: the crash should replay some", checkpointed, len(full))
	}

	// A crash: the file reopened, the last checkpoint loaded into a Flows
	// with an archive, the entries after it replayed; then the rest of the
	// history, checkpointed.
	var saved []byte
	if err := db.View(func(tx *bolt.Tx) error {
		saved = slices.Clone(tx.Bucket([]byte("test-state")).Get([]byte("state")))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = archiveDB(t, path)
	fresh := newFlows(t)
	fresh.UseArchive(NewArchive(db, "test"))
	g := fresh.Blank()
	if err := g.Load(checkpoint.NewDecoder(saved)); err != nil {
		t.Fatal(err)
	}
	if len(g.procs) != len(g.opens) {
		t.Errorf("loaded: %d procedures in memory, %d open", len(g.procs), len(g.opens))
	}
	for _, o := range full[checkpointed:] {
		if err := g.Observe(o.id, o.at, o.m); err != nil {
			t.Fatal(err)
		}
	}
	compare(g, "reopened")
	for _, o := range log[cut:] {
		observe(o, g)
	}
	sweep(full[len(full)-1].at.Add(400*time.Hour), g)
	checkpointTo(t, db, g, true)
	compare(g, "reopened, the rest observed and checkpointed")
	if cards == 0 {
		t.Fatal("no card was due: the comparison of Due shows nothing")
	}
}

// BenchmarkDueAfterHistory times a timers' sweep (Due) with 20 procedures
// open after 1,000 and after 20,000 closed ones, from the open index
// (index) beside the walk over every procedure Due made before (scan):
// the first must cost what is open, not the history (issue 17).
func BenchmarkDueAfterHistory(b *testing.B) {
	for _, closed := range []int{1_000, 20_000} {
		f := newFlows(b)
		fillHistory(b, f, closed, 20)
		now := at("2026-01-06 10:00") // nothing due yet: the sweep's cost alone
		person := func(org, post string) string { return "" }
		for _, way := range []struct {
			name string
			due  func(time.Time, func(string, string) string) []*sanziv1.Card
		}{{"index", f.Due}, {"scan", func(now time.Time, p func(string, string) string) []*sanziv1.Card { return dueByScan(f, now, p) }}} {
			b.Run(fmt.Sprintf("%s/closed=%d", way.name, closed), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if cards := way.due(now, person); len(cards) != 0 {
						b.Fatalf("%d cards due a day after opening", len(cards))
					}
				}
			})
		}
	}
}

// BenchmarkPageAfterHistory times the first page (20) of a village's
// procedures with its total, after 1,000 and after 20,000 closed ones
// with 20 open: kept in memory (memory: every one filtered and sorted,
// as a Flows without an archive does, and as every Flows did before issue
// 17) and left to the archive by a checkpoint (archive: the open ones in
// memory, a page of the archive's index, its counter).
func BenchmarkPageAfterHistory(b *testing.B) {
	for _, closed := range []int{1_000, 20_000} {
		for _, way := range []string{"memory", "archive"} {
			f := newFlows(b)
			var db *bolt.DB
			if way == "archive" {
				var err error
				if db, err = bolt.Open(filepath.Join(b.TempDir(), "archive.db"), 0o600, nil); err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				f.UseArchive(NewArchive(db, "bench"))
			}
			fillHistory(b, f, closed, 20)
			if db != nil {
				f.Save(&checkpoint.Encoder{})
				batch := f.Staged()
				if err := db.Update(batch.Write); err != nil {
					b.Fatal(err)
				}
				batch.Done()
			}
			for _, fl := range []Filter{{Org: "350505100201"}, {Org: "350505100201", Status: StatusRejected}} {
				name := "all"
				if fl.Status != "" {
					name = string(fl.Status)
				}
				b.Run(fmt.Sprintf("%s/%s/closed=%d", way, name, closed), func(b *testing.B) {
					for range b.N {
						page, total, err := f.Page(fl, nil, 21)
						if err != nil || len(page) != 21 || total < closed/2 {
							b.Fatalf("a page of %d of %d: %v", len(page), total, err)
						}
					}
				})
			}
		}
	}
}

// fillHistory opens closed+open procedures of one village on 5 January
// 2026 and rejects the first closed of them at their first step, leaving
// the last open ones open.
func fillHistory(b *testing.B, f *Flows, closed, open int) {
	b.Helper()
	start := at("2026-01-05 09:00")
	for i := range closed + open {
		id := fmt.Sprintf("350505100201-%d", i+1)
		if err := f.Observe(id, start, &sanziv1.Procedure{Org: "350505100201", MatterCode: "FUND-REIMB", CatalogVersion: "default", Summary: "x"}); err != nil {
			b.Fatal(err)
		}
		if i >= closed {
			continue // left open
		}
		step, _ := f.procs[id].OpenStep()
		d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_REJECT, Reason: "r"}, start)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Observe(id+"-d", start, d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnencodableProcedureIsNotLost: a closed procedure that fails to
// encode (a summary that is not UTF-8, which proto refuses to marshal)
// fails the checkpoint, as it does without an archive, rather than let a
// checkpoint be written that holds it neither in its state nor in the
// archive (a start from it would never see it again: the chain is
// replayed only after it). The state in memory is as before, every
// procedure listed, counted and read; each checkpoint tried fails alike.
func TestUnencodableProcedureIsNotLost(t *testing.T) {
	db := archiveDB(t, filepath.Join(t.TempDir(), "archive.db"))
	ref, f := newFlows(t), newFlows(t)
	f.UseArchive(NewArchive(db, "test"))
	for _, o := range history(t, ref, 200) {
		if err := f.Observe(o.id, o.at, o.m); err != nil {
			t.Fatal(err)
		}
	}
	var bad string
	for _, p := range all(f) {
		if p.Status != StatusOpen {
			bad = p.ID
			break
		}
	}
	if bad == "" {
		t.Fatal("the history closed no procedure")
	}
	for _, x := range []*Flows{f, ref} {
		x.procs[bad].P.Summary = "\xff"
	}
	for round := range 2 {
		when := fmt.Sprintf("checkpoint %d", round+1)
		e := &checkpoint.Encoder{}
		f.Save(e)
		if _, err := e.Data(); err == nil {
			// Written as a checkpoint would be: the start from it must
			// find every procedure.
			state, _ := e.Data()
			b := f.Staged()
			if err := db.Update(b.Write); err != nil {
				t.Fatal(err)
			}
			b.Done()
			loaded := f.Blank()
			if err := loaded.Load(checkpoint.NewDecoder(state)); err != nil {
				t.Fatal(err)
			}
			if _, err := loaded.Get(bad); err != nil {
				t.Fatalf("%s: written without procedure %s, in neither its state nor the archive: %v", when, bad, err)
			}
		}
		if p, ok := f.procs[bad]; !ok || p.batched {
			t.Fatalf("%s: procedure %s that did not encode is not in memory unbatched (in memory: %v)", when, bad, ok)
		}
		sameLists(t, f, ref, when)
		sameProcedures(t, f, ref, when)
	}
}

// TestLoadKeepsTheOrderOpened: a Flows loaded from a checkpoint holds its
// procedures in the order they were opened, as the one saved did: the
// open ones (the timers' sweep goes through them oldest first) and each
// matter's of a period (List of a period reads them so). Load indexes
// them in the order Save wrote them, without sorting: this fails if
// either stops being oldest first.
func TestLoadKeepsTheOrderOpened(t *testing.T) {
	f := newFlows(t)
	history(t, f, 300)
	loaded := saveLoad(t, f)
	if got, want := ids(loaded.openInOrder()), ids(f.openInOrder()); !slices.Equal(got, want) {
		t.Errorf("open procedures loaded in the order %v, opened %v", got, want)
	}
	if got, want := ids(all(loaded)), ids(all(f)); !slices.Equal(got, want) {
		t.Errorf("procedures loaded in the order %v, opened %v", got, want)
	}
	periods := 0
	for k, want := range f.ofPeriod {
		if len(want) > 1 {
			periods++
		}
		if got := loaded.ofPeriod[k]; !slices.Equal(ids(got), ids(want)) {
			t.Errorf("period %s loaded in the order %v, opened %v", k, ids(got), ids(want))
		}
	}
	if len(loaded.ofPeriod) != len(f.ofPeriod) || periods == 0 {
		t.Errorf("%d periods loaded, %d saved, %d with more than one procedure: the comparison shows little", len(loaded.ofPeriod), len(f.ofPeriod), periods)
	}
}

// TestLoadRefusesAProcedureTwice: a checkpoint that holds a procedure
// twice (Save writes each once: it is damaged) is refused, as Load
// refuses any other damage, rather than leave the first copy in the
// indexes (open, the period's list) with the second in the map: Load
// indexes what it decoded in order, not the map's values.
func TestLoadRefusesAProcedureTwice(t *testing.T) {
	f := newFlows(t)
	history(t, f, 40)
	// The same procedure under a second key: Save writes it twice.
	twice := f.openInOrder()[0]
	f.procs[twice.ID+"-again"] = twice
	state := saved(t, f)
	delete(f.procs, twice.ID+"-again")
	loaded := newFlows(t)
	if err := loaded.Load(checkpoint.NewDecoder(state)); err == nil {
		t.Errorf("a checkpoint holding procedure %s twice loaded: %d open, %d in memory", twice.ID, len(loaded.opens), len(loaded.procs))
	}
}
