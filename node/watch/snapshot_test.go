package watch

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// describe is a rec as text, with what Save keeps of its message
// (saveRec), so that two states compare without their pointers; whether
// that is all the rules read, TestLoadEqualsSaved tells by their findings.
func describe(t testing.TB, r *rec) string {
	t.Helper()
	var e checkpoint.Encoder
	saveRec(&e, r)
	b, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s seq=%d rec=%d date=%d rev=%v split=%v contract=%q closed=%d approved=%v %x",
		r.id, r.seq, r.recorded, r.date, r.reversed, r.split, r.contract, r.closedOn, r.approved, b)
}

// dump is every index and sum of s as text (fmt prints maps sorted).
func dump(t *testing.T, s *state) string {
	t.Helper()
	ids := func(rs []*rec) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.id
		}
		return out
	}
	idx := func(m map[string][]*rec) map[string][]string {
		out := make(map[string][]string, len(m))
		for k, rs := range m {
			out[k] = ids(rs)
		}
		return out
	}
	byID := make(map[string]string, s.ids.len())
	for _, r := range s.ids.all() {
		byID[r.id] = describe(t, r)
	}
	years := map[int]yearTotals{}
	for y, v := range s.years {
		years[y] = *v
	}
	open := map[string]string{}
	for p, o := range s.open {
		// Not thr, set and the days' n: split sets them when it first
		// asks, after a load as after a start.
		var txt string
		for _, d := range o.days {
			txt += fmt.Sprintf(" [%d %v]", d.date, ids(d.recs))
		}
		open[p] = txt
	}
	orgs := map[string]orgBooks{}
	for k, b := range s.orgs {
		orgs[k] = *b
	}
	return fmt.Sprintf("seq=%d first=%d\nbyID=%v\nyears=%+v\ncash=%v\nopen=%v\ninvoices=%v\nreceipts=%v\nbanked=%v\n"+
		"loans=%v\nrepaid=%v\ncontracts=%v\npayments=%v\npaid=%v\nobjects=%v\nprocs=%v\nsubjects=%v\nperiods=%v\norgs=%+v",
		s.seq, s.first, byID, years, s.cash, open, idx(s.invoices), ids(s.receipts), ids(s.banked),
		idx(s.loans), idx(s.repaid), ids(s.contracts), idx(s.payments), s.paid, idx(s.objects), ids(s.procs),
		idx(s.subjects), idx(s.periods), orgs)
}

// A watcher loaded from a checkpoint holds the state of the one that saved
// it, index for index and sum for sum: a history of every kind, long
// enough that Load decodes it in more than one part, with reversals,
// closed procedures and payees whose ids need normalizing.
func TestLoadEqualsSaved(t *testing.T) {
	var hist []any
	var openProcs []int
	for i := range 2500 {
		d := fmt.Sprintf("2026-%02d-%02d", i%12+1, i%28+1)
		switch i % 10 {
		case 0:
			hist = append(hist, exp(int64(100+i), d, payee("张三", person(t, i%7)), invoice("044", strconv.Itoa(i%50)), category("会议"), line("会议费")))
		case 1:
			hist = append(hist, exp(int64(100+i), d, account("建材公司", " 6222 0202 0011 "+strconv.Itoa(i%3)), category("招待"), line("招待费")))
		case 2:
			hist = append(hist, exp(int64(100+i), d, payee("李四", " 1101011990 0101001x "), cash))
		case 3:
			hist = append(hist, inc(int64(1000+i), d, cash, payee("王五", person(t, i%5))), bank(int64(900+i), d))
		case 4:
			hist = append(hist, txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 500, d, payee("赵六", person(t, i%3))))
		case 5:
			hist = append(hist, lease("obj-"+strconv.Itoa(i%4), "2030-12-31", due(d, 700)))
		case 6:
			hist = append(hist, cpay(len(hist), int64(300+400*(i/10%2)), d, i%20 == 6)) // the lease just before, one in two in part
		case 7:
			hist = append(hist, proc("FUND-BANKREC", d[:7], "subj-"+strconv.Itoa(i%9)))
			if i%100 == 7 {
				openProcs = append(openProcs, len(hist)) // left open: decided after the load
			} else {
				hist = append(hist, closes(len(hist), i%3 == 0))
			}
		case 8:
			hist = append(hist, receive(int64(10_000+i), d), pay(int64(300+i), d))
		case 9:
			hist = append(hist, closedAt(d[:7], d+" 12:00"), rev(len(hist)-3))
		}
	}
	a, _ := watcher(t)
	play(t, a, hist...)
	b := reloaded(t, a)
	if b.st.ids.len() < 2048 {
		t.Fatalf("only %d entries kept", b.st.ids.len())
	}
	got, want := strings.Split(dump(t, &b.st), "\n"), strings.Split(dump(t, &a.st), "\n")
	for i := range want {
		if got[i] != want[i] {
			n := 0
			for n < min(len(got[i]), len(want[i])) && got[i][n] == want[i][n] {
				n++
			}
			t.Errorf("loaded state differs from the saved one at %.300s…:\n got …%.300s\nwant …%.300s", want[i][:min(n, 300)], got[i][n:], want[i][n:])
		}
	}
	if fmt.Sprint(b.raised) != fmt.Sprint(a.raised) {
		t.Errorf("raised keys %v, saved %v", b.raised, a.raised)
	}

	// Save keeps of each entry only what the rules read of the history:
	// the entries observed next and the sweeps after find the same on
	// the loaded history as on the one saved, rule by rule, and so do
	// rules that only read it at a sweep (a contract's term and
	// schedule), which the comparison above cannot tell.
	next := []any{
		exp(150, "2026-06-10", payee("张三", person(t, 3)), invoice("044", "7"), category("会议"), line("会议费")),
		exp(4_000_000, "2026-06-11", account("建材公司", "622202020011 1"), category("招待"), line("招待费"), cash),
		exp(120, "2026-03-05", payee("李四", "110101199001010 01X")),
		lease("obj-1", "2031-06-30", due("2031-01-01", 500)),
		cpay(6, 700, "2026-07-01", true),
		txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN, 300, "2026-07-02", payee("赵六", person(t, 1))),
		pay(500_000_000, "2026-02-01"),
		closedAt("2026-05", "2026-06-20 12:00"),
		proc("GOV-COMPLAINT", "", ""),
		// Entries of the history named again: found by id after the load.
		rev(1), rev(6), rev(5), closes(openProcs[0], true), closes(openProcs[1], false),
		exp(151, "2026-06-10", payee("张三", person(t, 3)), invoice("044", "1")),
	}
	when := []string{"2026-08-01 10:00", "2027-02-01 10:00", "2029-01-15 10:00", "2031-03-01 10:00"}
	for _, w := range []*Watcher{a, b} {
		w.SetRules(engine(t, list("budget", rules.ListItem{Name: "会议费", AmountFen: 10_000}, rules.ListItem{Name: "招待费", AmountFen: 5_000})))
	}
	var got2, want2 []string
	for i, m := range next {
		ev := Event{ID: id(len(hist) + 1 + i), RecordedAt: bj(t, "2026-07-03 10:00")}
		if v, ok := m.(at); ok {
			ev.RecordedAt, m = bj(t, v.when), v.m
		}
		ev.Msg = m.(proto.Message)
		got2, want2 = append(got2, hitsText(b.Observe(ev))...), append(want2, hitsText(a.Observe(ev))...)
	}
	for _, at := range when {
		got2, want2 = append(got2, hitsText(b.Sweep(bj(t, at)))...), append(want2, hitsText(a.Sweep(bj(t, at)))...)
	}
	codes := map[string]bool{}
	for _, h := range want2 {
		codes[strings.Fields(h)[0]] = true
	}
	if len(codes) < 12 {
		t.Errorf("the entries and sweeps after the load found only %v: the comparison tests little", slices.Sorted(maps.Keys(codes)))
	}
	if !slices.Equal(got2, want2) {
		for i := range max(len(got2), len(want2)) {
			g, w := "", ""
			if i < len(got2) {
				g = got2[i]
			}
			if i < len(want2) {
				w = want2[i]
			}
			if g != w {
				t.Errorf("after the load, the rules find\n got %.400s\nwant %.400s", g, w)
				break
			}
		}
		t.Errorf("after the load, the rules found %d hits, on the history saved %d", len(got2), len(want2))
	}
}

// account is a payee known by bank account only.
func account(name, acct string) txOpt {
	return func(tx *sanziv1.Transaction) { tx.Counterparty = &sanziv1.Counterparty{Name: name, BankAccount: acct} }
}

// hitsText is each hit as a line (fmt prints the evidence sorted).
func hitsText(hits []rules.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = fmt.Sprintf("%s %s %s %s %q %v", h.Code, h.Key, h.Severity, h.Subject, h.Reason, h.Evidence)
	}
	return out
}

// norm's fast path returns what the general form does.
func TestNorm(t *testing.T) {
	for _, s := range []string{"", "110101199001010011", "11010119900101001x", " 1101 0119\t900101001X ", "ＡＢ", "ab c", "A\u00a0B", "Ab"} {
		if got, want := norm(s), toUpperJoined(s); got != want {
			t.Errorf("norm(%q) = %q, want %q", s, got, want)
		}
	}
}

func toUpperJoined(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), "")) }

// recIndex finds every loaded entry by its id, whatever order the origins
// come in, and none that is not kept.
func TestRecIndex(t *testing.T) {
	for _, c := range []struct {
		name string
		ids  []string
	}{
		{"one chain", []string{"350505100201-1", "350505100201-2", "350505100201-10"}},
		{"chains one after another", []string{"a-1", "a-2", "b-1", "b-7", "c-3"}},
		{"chains interleaved", []string{"a-1", "b-1", "a-2", "b-5", "a-3", "c-1", "b-6"}},
		{"a chain out of order", []string{"a-5", "b-1", "a-2", "a-9", "b-3", "a-3"}},
		{"ids of another form", []string{"x", "a-01", "a-1", "-3", "a-", "a-b", "a-99999999999999999999", "b-2"}},
		{"none", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs := make([]rec, len(c.ids))
			for i, id := range c.ids {
				recs[i] = rec{id: id, seq: i + 1}
			}
			x := newRecIndex()
			x.load(recs)
			added := &rec{id: "a-100", seq: len(recs) + 1}
			x.add(added)
			for i, id := range c.ids {
				if got := x.get(id); got != &recs[i] {
					t.Errorf("get(%q) = %v, want entry %d", id, got, i)
				}
			}
			if x.get("a-100") != added {
				t.Error("the entry added after the load is not found")
			}
			for _, id := range []string{"a-4", "z-1", "a-0", "", "a-1x"} {
				if !slices.Contains(c.ids, id) && x.get(id) != nil {
					t.Errorf("get(%q) found %v, which is not kept", id, x.get(id))
				}
			}
			all := x.all()
			if len(all) != len(c.ids)+1 || all[len(all)-1] != added {
				t.Fatalf("all: %d entries, want %d ending with the one added", len(all), len(c.ids)+1)
			}
			for i := range recs {
				if all[i] != &recs[i] {
					t.Fatalf("all[%d] is %s, want %s (chain order)", i, all[i].id, recs[i].id)
				}
			}
		})
	}
}

// TestLoadDamaged: a history that does not decode is found by the build
// Load leaves running, not by Load: Err says why, and the watcher judges
// nothing rather than an empty history.
func TestLoadDamaged(t *testing.T) {
	a, _ := watcher(t)
	play(t, a, exp(500, "2026-03-01", invoice("044", "1")), exp(700, "2026-03-02", invoice("044", "2")))
	var enc checkpoint.Encoder
	a.Save(&enc)
	good, err := enc.Data()
	if err != nil {
		t.Fatal(err)
	}
	section := func(fn func(e *checkpoint.Encoder)) []byte {
		var e checkpoint.Encoder
		e.Section(fn)
		b, _ := e.Data()
		return b
	}
	// noSums are sums of nothing (saveSums): years, cash, paid, orgs.
	noSums := func(e *checkpoint.Encoder) {
		for range 4 {
			e.Uint(0)
		}
	}
	// oneRecHead is a history of one entry, v-1, up to its kind.
	oneRecHead := func(e *checkpoint.Encoder) {
		e.Set(nil)
		e.Int(1)
		e.Int(0)
		noSums(e)
		e.Uint(1)
		e.String("v-1")
		e.Int(1)
		e.Int(0)
		e.Int(0)
		e.Bool(false)
		e.Bool(false)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string // in Err
	}{
		{"unknown kind", section(func(e *checkpoint.Encoder) {
			oneRecHead(e)
			e.Uint(99)
		}), "unknown kind 99"},
		{"cut short", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			noSums(e)
			e.Uint(3)
		}), "watch state"},
		{"bytes left over", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(0)
			e.Int(0)
			noSums(e)
			e.Uint(0)
			e.String("more")
		}), "watch state"},
		{"the sums cut short", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			e.Uint(1) // a year
			e.Int(2026)
			e.Int(500)
			e.Uint(40) // categories, far more than what is left
		}), "watch state"},
		{"a book's sums cut short", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			for range 3 { // years, cash, paid
				e.Uint(0)
			}
			e.Uint(1) // an org
			e.String(org)
			e.Uint(0)
			e.Uint(1) // a cash day, its amount missing
			e.Int(20500)
		}), "watch state"},
		{"a transaction cut short", section(func(e *checkpoint.Encoder) {
			oneRecHead(e)
			e.Uint(recTransaction)
			e.Int(1)
			e.String("far longer than what is left")
		}), "entry v-1"},
		{"the section itself cut short", good[:len(good)-1], "watch state"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, _ := watcher(t)
			err := w.Load(checkpoint.NewDecoder(c.data))
			if err == nil {
				err = w.Err()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("load: %v, want an error saying %q", err, c.want)
			}
			if w.pending == nil && w.loadErr == nil {
				return // refused by Load itself: the owner keeps its own history
			}
			if w.Err() == nil {
				t.Error("Err is nil after a failed build")
			}
			if hits := w.Observe(Event{ID: "v-9", RecordedAt: bj(t, "2026-03-03 10:00"), Msg: exp(500, "2026-03-03", invoice("044", "1"))}); len(hits) != 0 {
				t.Errorf("a watcher without its history judged an entry: %v", hits)
			}
		})
	}
}
