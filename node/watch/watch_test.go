package watch

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const org = "350505100201"

func cst(t testing.TB) *time.Location {
	t.Helper()
	c, err := calendar.New(calendar.Default2026())
	if err != nil {
		t.Fatal(err)
	}
	return c.Location()
}

// bj is a moment in China Standard Time: "2026-03-05" (midnight) or
// "2026-03-05 23:59".
func bj(t testing.TB, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	v, err := time.ParseInLocation(layout, s, cst(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// person is a valid resident ID ending in serial n.
func person(t testing.TB, n int) string {
	t.Helper()
	first := fmt.Sprintf("350502198001010%02d", n)
	c, err := idcode.ResidentIDCheck(first)
	if err != nil {
		t.Fatal(err)
	}
	id := first + string(c)
	if err := idcode.ResidentID(id, time.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

// Rule-set edits.
type mod = func(*rules.RuleSet)

func params(code string, p map[string]int64) mod {
	return func(rs *rules.RuleSet) {
		for i := range rs.Rules {
			if rs.Rules[i].Code == code {
				rs.Rules[i].Params = maps.Clone(rs.Rules[i].Params)
				maps.Copy(rs.Rules[i].Params, p)
			}
		}
	}
}

func drop(code string) mod {
	return func(rs *rules.RuleSet) {
		rs.Rules = slices.DeleteFunc(rs.Rules, func(r rules.Rule) bool { return r.Code == code })
	}
}

func list(name string, items ...rules.ListItem) mod {
	return func(rs *rules.RuleSet) {
		rs.Lists = maps.Clone(rs.Lists)
		if rs.Lists == nil {
			rs.Lists = map[string][]rules.ListItem{}
		}
		rs.Lists[name] = items
	}
}

func version(v string) mod { return func(rs *rules.RuleSet) { rs.Version = v } }

func engine(t testing.TB, mods ...mod) *rules.Engine {
	t.Helper()
	rs := rules.Default()
	for _, m := range mods {
		m(&rs)
	}
	e, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func watcher(t testing.TB, mods ...mod) (*Watcher, *rules.Engine) {
	t.Helper()
	e := engine(t, mods...)
	w, err := New(e, cst(t))
	if err != nil {
		t.Fatal(err)
	}
	return w, e
}

// Entries. Ids are "v-<n>", n counting the messages of a history from 1.
func id(n int) string { return "v-" + strconv.Itoa(n) }

type txOpt = func(*sanziv1.Transaction)

func txn(kind sanziv1.TransactionKind, amount int64, date string, opts ...txOpt) *sanziv1.Transaction {
	tx := &sanziv1.Transaction{Org: org, Kind: kind, AmountFen: amount, BusinessDate: date,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		Counterparty:  &sanziv1.Counterparty{Name: "某建材公司"}, Category: "办公费"}
	for _, o := range opts {
		o(tx)
	}
	return tx
}

func exp(amount int64, date string, opts ...txOpt) *sanziv1.Transaction {
	return txn(sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, amount, date, opts...)
}

func inc(amount int64, date string, opts ...txOpt) *sanziv1.Transaction {
	return txn(sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, amount, date, opts...)
}

func cash(tx *sanziv1.Transaction) { tx.PaymentMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH }

func payee(name, idNumber string) txOpt {
	return func(tx *sanziv1.Transaction) { tx.Counterparty = &sanziv1.Counterparty{Name: name, IdNumber: idNumber} }
}

func invoice(code, number string) txOpt {
	return func(tx *sanziv1.Transaction) { tx.InvoiceCode, tx.InvoiceNumber = code, number }
}

func category(c string) txOpt { return func(tx *sanziv1.Transaction) { tx.Category = c } }
func line(l string) txOpt     { return func(tx *sanziv1.Transaction) { tx.BudgetLine = l } }

// bank is cash paid into the bank.
func bank(amount int64, date string) *sanziv1.Transaction {
	return txn(sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, amount, date, cash)
}

func due(date string, amount int64) *sanziv1.ScheduledPayment {
	return &sanziv1.ScheduledPayment{DueDate: date, AmountFen: amount}
}

func contract(kind sanziv1.ContractKind, object, end string, sched ...*sanziv1.ScheduledPayment) *sanziv1.Contract {
	return &sanziv1.Contract{Org: org, Kind: kind, Counterparty: &sanziv1.Counterparty{Name: "某农业合作社"},
		Object:    &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: object, AreaMu: 10},
		TermStart: "2026-01-01", TermEnd: end, Schedule: sched}
}

func lease(object, end string, sched ...*sanziv1.ScheduledPayment) *sanziv1.Contract {
	return contract(sanziv1.ContractKind_CONTRACT_KIND_LEASE, object, end, sched...)
}

func cpay(contractN int, amount int64, date string, inCash bool) *sanziv1.ContractPayment {
	p := &sanziv1.ContractPayment{Org: org, ContractId: id(contractN), AmountFen: amount, BusinessDate: date,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER}
	if inCash {
		p.PaymentMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	}
	return p
}

func proc(matter, period, subject string) *sanziv1.Procedure {
	return &sanziv1.Procedure{Org: org, MatterCode: matter, Period: period, SubjectId: subject}
}

// closes is the decision ending procedure n.
func closes(n int, approve bool) *sanziv1.StepDecision {
	a := sanziv1.StepAction_STEP_ACTION_REJECT
	if approve {
		a = sanziv1.StepAction_STEP_ACTION_APPROVE
	}
	return &sanziv1.StepDecision{Org: org, ProcedureId: id(n), StepCode: "final", Action: a, Closes: true}
}

func rev(n int) *sanziv1.Reversal { return &sanziv1.Reversal{Org: org, TargetId: id(n)} }

func alert(key string) *sanziv1.Alert { return &sanziv1.Alert{Org: org, Key: key} }

// at records m at a given moment (bj form); by default an entry is recorded
// at 10:00 on its business date, or with the entry before it.
type at struct {
	when string
	m    proto.Message
}

// sweep is a Sweep at a moment (bj form) within a history.
type sweep string

// play feeds a history (messages, at, sweep) to w and returns every hit.
func play(t testing.TB, w *Watcher, evs ...any) []rules.Hit {
	t.Helper()
	var hits []rules.Hit
	n, when := 0, bj(t, "2026-01-01 10:00")
	for _, ev := range evs {
		var m proto.Message
		switch v := ev.(type) {
		case sweep:
			hits = append(hits, w.Sweep(bj(t, string(v)))...)
			continue
		case at:
			m, when = v.m, bj(t, v.when)
		case proto.Message:
			m = v
			if d, ok := v.(interface{ GetBusinessDate() string }); ok && d.GetBusinessDate() != "" {
				when = bj(t, d.GetBusinessDate()+" 10:00")
			}
		default:
			t.Fatalf("history item %T", ev)
		}
		n++
		subject := ""
		if r, ok := m.(*sanziv1.Reversal); ok {
			subject = r.TargetId
		}
		hits = append(hits, w.Observe(Event{ID: id(n), RecordedAt: when, Subject: subject, Msg: m})...)
	}
	return hits
}

// of keeps the hits of one rule, checking what every hit must carry.
func of(t *testing.T, e *rules.Engine, code string, hits []rules.Hit) []rules.Hit {
	t.Helper()
	var r rules.Rule
	for _, x := range e.Stateful() {
		if x.Code == code {
			r = x
		}
	}
	reason, _ := rules.Reason(r)
	var out []rules.Hit
	for _, h := range hits {
		if h.Code != code {
			continue
		}
		out = append(out, h)
		sev := r.Severity
		switch {
		case strings.HasSuffix(h.Key, "/yellow"):
			sev = rules.SeverityYellow
		case strings.HasSuffix(h.Key, "/warning"):
			sev = rules.SeverityInfo
		}
		if h.Severity != sev || h.Action != r.Action || h.RuleSetVersion != e.Version() ||
			!strings.HasPrefix(h.Reason, reason) || strings.HasPrefix(h.Key, code+"/") == (registry[code].check != nil) {
			t.Errorf("hit %+v: want severity %s, action %s, version %s, reason %q…", h, sev, r.Action, e.Version(), reason)
		}
		for k, v := range r.Params {
			if h.Evidence[k] != strconv.FormatInt(v, 10) {
				t.Errorf("%s: evidence lacks param %s=%d: %v", h.Key, k, v, h.Evidence)
			}
		}
	}
	return out
}

func keys(hits []rules.Hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.Key)
	}
	return out
}

// tc is one history and the keys one rule must raise over it, in order.
type tc struct {
	name string
	mods []mod
	evs  []any
	want []string
}

func runCases(t *testing.T, code string, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, e := watcher(t, c.mods...)
			got := keys(of(t, e, code, play(t, w, c.evs...)))
			if c.want == nil {
				c.want = []string{}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s keys\n got %q\nwant %q", code, got, c.want)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	var want []string
	for _, r := range rules.Default().Rules {
		if r.Stateful {
			want = append(want, r.Code)
		}
	}
	slices.Sort(want)
	if got := Registered(); !slices.Equal(got, want) {
		t.Errorf("Registered() = %v\n default stateful = %v", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	unknown := func(rs *rules.RuleSet) {
		rs.Rules = append(rs.Rules, rules.Rule{Code: "GHOST", Severity: rules.SeverityRed, Action: rules.ActionWarn,
			Reason: "不存在的规则", Stateful: true})
	}
	noWindow := func(rs *rules.RuleSet) {
		for i := range rs.Rules {
			if rs.Rules[i].Code == "SPLIT" {
				rs.Rules[i].Params = map[string]int64{"split_threshold_fen": 1}
				rs.Rules[i].Reason = "拆分"
			}
		}
	}
	for _, c := range []struct {
		name string
		mod  mod
		want []string
	}{
		{"unknown code", unknown, []string{"GHOST", "no Go implementation"}},
		{"missing param", noWindow, []string{"SPLIT", "window_days"}},
		{"due day 0", params("BANK-REC", map[string]int64{"due_day": 0}), []string{"BANK-REC", "due_day"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := engine(t, c.mod)
			_, err := New(e, cst(t))
			for _, s := range c.want {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("New: %v, want an error naming %q", err, s)
				}
			}
			w, _ := watcher(t)
			if err := w.SetRules(e); err == nil || w.version != "default-1" {
				t.Errorf("SetRules accepted it: %v (version %s)", err, w.version)
			}
		})
	}
	if _, err := New(engine(t), nil); err == nil {
		t.Error("New accepted no time zone")
	}
}

// A rule a district dropped never fires, whatever its kind.
func TestDroppedRule(t *testing.T) {
	splitting := []any{exp(3_000_000, "2026-01-05"), exp(3_000_000, "2026-01-06")}
	arrears := []any{lease("L-1", "2026-12-31", due("2026-01-31", 100)), sweep("2026-06-01")}
	for _, c := range []struct {
		code string
		evs  []any
	}{{"SPLIT", splitting}, {"ARREARS", arrears}} {
		w, e := watcher(t)
		if len(of(t, e, c.code, play(t, w, c.evs...))) == 0 {
			t.Errorf("%s: the history does not fire it", c.code)
		}
		w, e = watcher(t, drop(c.code))
		if h := of(t, e, c.code, play(t, w, c.evs...)); len(h) != 0 {
			t.Errorf("dropped %s fired: %v", c.code, keys(h))
		}
	}
	outsider := contract(sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT, "L-1", "2030-12-31")
	members := list("members", rules.ListItem{Name: "王五"})
	if w, _ := watcher(t, members); len(w.Check(outsider)) == 0 {
		t.Error("OUTSIDER does not fire")
	}
	if w, _ := watcher(t, members, drop("OUTSIDER")); len(w.Check(outsider)) != 0 {
		t.Error("dropped OUTSIDER fired")
	}
}

// New params take effect on the next evaluation, history and raised keys
// stay, and hits carry the new version.
func TestSetRules(t *testing.T) {
	cap1 := params("HOSPITALITY", map[string]int64{"hospitality_cap_fen": 1_000_000})
	w, _ := watcher(t, cap1)
	if h := play(t, w, exp(800_000, "2026-03-01", category("招待费")), sweep("2026-03-02")); len(h) != 0 {
		t.Fatalf("hits %v", keys(h))
	}
	e2 := engine(t, version("district-2"), params("HOSPITALITY", map[string]int64{"hospitality_cap_fen": 900_000}))
	if err := w.SetRules(e2); err != nil {
		t.Fatal(err)
	}
	hits := w.Observe(Event{ID: "v-2", RecordedAt: bj(t, "2026-03-02 10:00"), Msg: exp(100_001, "2026-03-02", category("招待费"))})
	h := of(t, e2, "HOSPITALITY", hits)
	if len(h) != 1 || h[0].Key != "HOSPITALITY/2026" || h[0].Evidence["hospitality_cap_fen"] != "900000" ||
		h[0].Evidence["year_total_fen"] != "900001" || h[0].RuleSetVersion != "district-2" {
		t.Errorf("after SetRules: %+v", hits)
	}
	// Lowering it again does not raise the same key twice.
	if err := w.SetRules(engine(t, version("district-3"), params("HOSPITALITY", map[string]int64{"hospitality_cap_fen": 1}))); err != nil {
		t.Fatal(err)
	}
	if h := w.Observe(Event{ID: "v-3", RecordedAt: bj(t, "2026-03-03 10:00"), Msg: exp(1, "2026-03-03", category("招待费"))}); len(h) != 0 {
		t.Errorf("raised twice: %v", keys(h))
	}
}

// Neither Observe nor Sweep returns a raised key again, and an Alert entry
// (what a node replays after a restart) raises its key.
func TestRaisedOnce(t *testing.T) {
	hist := []any{inc(100, "2026-01-15"), lease("L-1", "2026-12-31", due("2026-02-28", 100))}
	w, _ := watcher(t)
	play(t, w, hist...)
	first := w.Sweep(bj(t, "2026-04-11"))
	if len(first) == 0 {
		t.Fatal("nothing to raise")
	}
	for i, h := range first {
		if !w.Raised(h.Key) || (i > 0 && first[i-1].Key >= h.Key) {
			t.Errorf("%s: raised %v, order %v", h.Key, w.Raised(h.Key), keys(first))
		}
	}
	if again := w.Sweep(bj(t, "2026-04-12")); len(again) != 0 {
		t.Errorf("raised again: %v", keys(again))
	}

	// A restarted node replays the chain, alerts included.
	w, _ = watcher(t)
	replay := slices.Clone(hist)
	for _, h := range first[1:] {
		replay = append(replay, alert(h.Key))
	}
	play(t, w, replay...)
	if got := keys(w.Sweep(bj(t, "2026-04-11"))); !slices.Equal(got, []string{first[0].Key}) {
		t.Errorf("after replay: %v, want only %s", got, first[0].Key)
	}

	// Record-time keys too.
	w, _ = watcher(t, params("HOSPITALITY", map[string]int64{"hospitality_cap_fen": 100}))
	hits := play(t, w, alert("HOSPITALITY/2026"), exp(101, "2026-03-01", category("招待费")))
	if len(hits) != 0 {
		t.Errorf("alerted key returned: %v", keys(hits))
	}
	if hits := play(t, w, exp(101, "2025-03-01", category("招待费")), exp(101, "2025-03-02", category("招待费"))); !slices.Equal(keys(hits), []string{"HOSPITALITY/2025"}) {
		t.Errorf("hits %v", keys(hits))
	}
}

// Check changes nothing: an entry checked but never committed is no part of
// the history.
func TestCheckKeepsNoState(t *testing.T) {
	w, _ := watcher(t, list("relatives", rules.ListItem{Name: "某建材公司", Note: "会计之妻的公司"}))
	tx := exp(100, "2026-03-01", invoice("035001", "0001"))
	if h := w.Check(tx); len(h) != 1 || h[0].Code != "RELATIVE" || h[0].Key != "" || h[0].Subject != "" {
		t.Fatalf("Check: %+v", h)
	}
	if h := play(t, w, tx); len(h) != 0 {
		t.Errorf("the checked entry counted as history: %v", keys(h))
	}
	if w.st.seq != 1 {
		t.Errorf("seq %d", w.st.seq)
	}
}

// A hit's subject, evidence and reason detail.
func TestHitFields(t *testing.T) {
	w, e := watcher(t)
	hits := of(t, e, "SPLIT", play(t, w, exp(2_000_000, "2026-01-05"), exp(2_000_000, "2026-01-15"), exp(1_000_000, "2026-01-20")))
	if len(hits) != 1 {
		t.Fatalf("hits %v", keys(hits))
	}
	h := hits[0]
	want := map[string]string{
		"payee": "某建材公司", "payments": "v-1,v-2,v-3", "count": "3", "sum_fen": "5000000",
		"first_date": "2026-01-05", "last_date": "2026-01-20", "window_days": "30", "split_threshold_fen": "5000000",
	}
	if h.Subject != "v-3" || !maps.Equal(h.Evidence, want) || !strings.HasSuffix(h.Reason, "（3笔合计5000000分）") ||
		h.Severity != rules.SeverityRed || h.Action != rules.ActionWarn {
		t.Errorf("hit %+v\nwant evidence %v", h, want)
	}
}

// Days are counted in the node's zone whatever zone now is given in.
func TestSweepZone(t *testing.T) {
	w, _ := watcher(t)
	play(t, w, txn(sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, 100, "2026-03-02", cash))
	if h := w.Sweep(time.Date(2026, 3, 5, 15, 59, 0, 0, time.UTC)); len(h) != 0 { // 23:59 in Beijing
		t.Errorf("fired on the deadline: %v", keys(h))
	}
	if h := w.Sweep(time.Date(2026, 3, 5, 16, 0, 0, 0, time.UTC)); !slices.Contains(keys(h), "CASH-DEPOSIT/v-1") {
		t.Errorf("midnight in Beijing: %v", keys(h))
	}
}

func BenchmarkObserve(b *testing.B) {
	w, _ := watcher(b)
	loc := cst(b)
	base := time.Date(2016, 1, 1, 10, 0, 0, 0, loc)
	var n int
	next := func(onlyExpenses bool) Event {
		n++
		d := base.AddDate(0, 0, n/30) // 30 entries a day: 10 years of a busy village
		date := d.Format(time.DateOnly)
		kind := n % 10
		if onlyExpenses {
			kind = 9
		}
		var m proto.Message
		switch kind {
		case 0:
			m = inc(int64(n%7)*100_000+1, date, cash)
		case 1:
			m = bank(100_000, date)
		case 2:
			m = lease(fmt.Sprintf("L-%d", n%500), d.AddDate(1, 0, 0).Format(time.DateOnly), due(date, 100_000))
		case 3:
			m = cpay(n-1, 100_000, date, false)
		default:
			m = exp(int64(n%50)*10_000+1, date, payee(fmt.Sprintf("供应商%d", n%1000), ""),
				category([]string{"办公费", "会议费", "差旅费", "工程款"}[n%4]), invoice("035001", strconv.Itoa(n)))
		}
		return Event{ID: id(n), RecordedAt: d, Msg: m}
	}
	for range 100_000 {
		w.Observe(next(false))
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Observe(next(true))
	}
}

// BenchmarkFullRuleSet is the whole default rule set on one recorded expense
// with 100,000 entries of history observed: the CEL rules, the list rules
// before commit and the stateful rules after it, plus a sweep of the time
// rules every 1,000 entries (the node sweeps once a minute). Reported as
// entries/s on one goroutine.
func BenchmarkFullRuleSet(b *testing.B) {
	e, err := rules.Compile(rules.Default())
	if err != nil {
		b.Fatal(err)
	}
	loc := cst(b)
	w, err := New(e, loc)
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2016, 1, 1, 10, 0, 0, 0, loc)
	n := 0
	next := func() (*sanziv1.Transaction, Event) {
		n++
		d := base.AddDate(0, 0, n/30)
		t := exp(int64(n%50)*10_000+1, d.Format(time.DateOnly), payee(fmt.Sprintf("供应商%d", n%1000), ""),
			category([]string{"办公费", "会议费", "差旅费", "工程款"}[n%4]), invoice("035001", strconv.Itoa(n)))
		return t, Event{ID: id(n), RecordedAt: d, Msg: t}
	}
	for range 100_000 {
		_, ev := next()
		w.Observe(ev)
	}
	b.ReportAllocs()
	start := time.Now()
	count := 0
	for b.Loop() {
		t, ev := next()
		if _, err := e.CheckTransaction(t, rules.TxFacts{}); err != nil {
			b.Fatal(err)
		}
		w.Check(t)
		w.Observe(ev)
		if count++; count%1000 == 0 {
			w.Sweep(ev.RecordedAt)
		}
	}
	b.ReportMetric(float64(count)/time.Since(start).Seconds(), "entries/s")
}

// reloaded is a watcher (its rules made with mods) loaded from w's
// checkpoint, its history made: what a restart from that checkpoint has.
func reloaded(t testing.TB, w *Watcher, mods ...mod) *Watcher {
	t.Helper()
	var enc checkpoint.Encoder
	w.Save(&enc)
	data, err := enc.Data()
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := watcher(t, mods...)
	if err := w2.Load(checkpoint.NewDecoder(data)); err != nil {
		t.Fatal(err)
	}
	if err := w2.Err(); err != nil {
		t.Fatal(err)
	}
	return w2
}
