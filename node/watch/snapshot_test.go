package watch

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// describe is a rec as text, its message in deterministic wire form, so
// that two states compare without their pointers.
func describe(t *testing.T, r *rec) string {
	t.Helper()
	m := r.message()
	if m == nil && r.proc != nil {
		// Save keeps only what the rules read of a procedure.
		m = &sanziv1.Procedure{SubjectId: r.proc.GetSubjectId(), MatterCode: r.proc.GetMatterCode(), Period: r.proc.GetPeriod()}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s seq=%d rec=%d date=%d rev=%v split=%v contract=%q closed=%d approved=%v %T %x",
		r.id, r.seq, r.recorded, r.date, r.reversed, r.split, r.contract, r.closedOn, r.approved, m, b)
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
	byID := make(map[string]string, len(s.byID))
	for k, r := range s.byID {
		byID[k] = describe(t, r)
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
	for i := range 2500 {
		d := fmt.Sprintf("2026-%02d-%02d", i%12+1, i%28+1)
		switch i % 10 {
		case 0, 1:
			hist = append(hist, exp(int64(100+i), d, payee("张三", person(t, i%7)), invoice("044", strconv.Itoa(i%50)), category("会议")))
		case 2:
			hist = append(hist, exp(int64(100+i), d, payee("李四", " 1101011990 0101001x "), cash))
		case 3:
			hist = append(hist, inc(int64(1000+i), d, cash, payee("王五", person(t, i%5))))
		case 4:
			hist = append(hist, txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 500, d, payee("赵六", person(t, i%3))))
		case 5:
			hist = append(hist, lease("obj-"+strconv.Itoa(i%4), "2030-12-31", due(d, 700)))
		case 6:
			hist = append(hist, cpay(len(hist), 700, d, i%20 == 6)) // the lease just before
		case 7:
			hist = append(hist, proc("FUND-BANKREC", d[:7], "subj-"+strconv.Itoa(i%9)), closes(len(hist)+1, i%3 == 0))
		case 8:
			hist = append(hist, receive(int64(10_000+i), d), pay(int64(300+i), d))
		case 9:
			hist = append(hist, closedAt(d[:7], d+" 12:00"), rev(len(hist)-3))
		}
	}
	a, _ := watcher(t)
	play(t, a, hist...)
	var enc checkpoint.Encoder
	a.Save(&enc)
	data, err := enc.Data()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := watcher(t)
	if err := b.Load(checkpoint.NewDecoder(data)); err != nil {
		t.Fatal(err)
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if len(b.st.byID) < 2048 {
		t.Fatalf("only %d entries kept: Load decodes them in one part", len(b.st.byID))
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
	for _, c := range []struct {
		name string
		data []byte
		want string // in Err
	}{
		{"unknown kind", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			e.Uint(1)
			e.String("v-1")
			e.Int(1)
			e.Int(0)
			e.Bool(false)
			e.Bool(false)
			e.Uint(99)
		}), "unknown kind 99"},
		{"cut short", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			e.Uint(3)
		}), "watch state"},
		{"bytes left over", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(0)
			e.Int(0)
			e.Uint(0)
			e.String("more")
		}), "watch state"},
		{"not a message", section(func(e *checkpoint.Encoder) {
			e.Set(nil)
			e.Int(1)
			e.Int(0)
			e.Uint(1)
			e.String("v-1")
			e.Int(1)
			e.Int(0)
			e.Bool(false)
			e.Bool(false)
			e.Uint(recTransaction)
			e.Bool(true)
			e.Bytes([]byte{0xff, 0xff, 0xff})
		}), "decode entry v-1"},
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
