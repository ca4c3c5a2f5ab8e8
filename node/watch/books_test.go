package watch

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func vdr(account string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: account, DebitFen: fen}
}

func vcr(account string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: account, CreditFen: fen}
}

// vch is a voucher of the org's books.
func vch(date string, lines ...*sanziv1.VoucherLine) *sanziv1.Voucher {
	return &sanziv1.Voucher{Org: org, BusinessDate: date, Summary: "凭证", Lines: lines}
}

// pay is cash paid out for an expense; receive cash taken in as income.
func pay(fen int64, date string) *sanziv1.Voucher { return vch(date, vdr("531", fen), vcr("101", fen)) }
func receive(fen int64, date string) *sanziv1.Voucher {
	return vch(date, vdr("101", fen), vcr("501", fen))
}

func closeMonth(m string) *sanziv1.MonthClose { return &sanziv1.MonthClose{Org: org, Month: m} }

// closedAt is the close of month m recorded at when (bj form).
func closedAt(m, when string) at { return at{when: when, m: closeMonth(m)} }

func TestBooksCashNegative(t *testing.T) {
	other := receive(100_000, "2026-03-01")
	other.Org = "350505100202"
	opening := vch("2026-03-01", vdr("101", 500_000), vcr("301", 500_000))
	opening.Opening = true
	redInk := vch("2026-03-03", vdr("101", -100_000), vcr("501", -100_000))
	redInk.ReversesVoucherId = id(1)
	runCases(t, "BOOKS-CASH-NEGATIVE", []tc{
		{name: "received, then paid less", evs: []any{receive(100_000, "2026-03-01"), pay(80_000, "2026-03-02")}},
		{name: "paid exactly what was on hand", evs: []any{receive(100_000, "2026-03-01"), pay(100_000, "2026-03-02")}},
		{name: "paid one fen more", evs: []any{receive(100_000, "2026-03-01"), pay(100_001, "2026-03-02")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-2"}},
		{name: "paid with nothing on hand", evs: []any{pay(1, "2026-03-02")}, want: []string{"BOOKS-CASH-NEGATIVE/v-1"}},
		{name: "received the same day, recorded first", evs: []any{receive(100_000, "2026-03-02"), pay(100_000, "2026-03-02")}},
		{name: "a receipt dated earlier, recorded later, does not undo a finding",
			evs: []any{pay(100_000, "2026-03-02"), receive(100_000, "2026-03-01")}, want: []string{"BOOKS-CASH-NEGATIVE/v-1"}},
		{name: "a back-dated payment lowers the days after it",
			evs:  []any{receive(100_000, "2026-03-01"), pay(100_000, "2026-03-05"), pay(100, "2026-03-03")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-3"}},
		{name: "a back-dated payment the later days can bear",
			evs: []any{receive(100_000, "2026-03-01"), pay(50_000, "2026-03-05"), pay(100, "2026-03-03")}},
		{name: "a back-dated payment on a day with cash already",
			evs:  []any{receive(100_000, "2026-03-01"), pay(100_000, "2026-03-05"), pay(1, "2026-03-01")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-3"}},
		{name: "a district sub-account of cash", evs: []any{vch("2026-03-02", vdr("531", 100), vcr("10101", 100))},
			want: []string{"BOOKS-CASH-NEGATIVE/v-1"}},
		{name: "bank is not cash", evs: []any{vch("2026-03-02", vdr("531", 100), vcr("102", 100))}},
		{name: "a receipt never fires", evs: []any{pay(1, "2026-03-02"), receive(1, "2026-03-03")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-1"}},
		{name: "the opening balance counts", evs: []any{opening, pay(500_000, "2026-03-02")}},
		{name: "red ink reversing a receipt already spent",
			evs:  []any{receive(100_000, "2026-03-01"), pay(100_000, "2026-03-02"), redInk},
			want: []string{"BOOKS-CASH-NEGATIVE/v-3"}},
		{name: "another org's cash does not count", evs: []any{other, pay(1, "2026-03-02")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-2"}},
		{name: "a reversed voucher no longer counts", evs: []any{receive(100_000, "2026-03-01"), rev(1), pay(1, "2026-03-02")},
			want: []string{"BOOKS-CASH-NEGATIVE/v-3"}},
		{name: "dropped by the district", mods: []mod{drop("BOOKS-CASH-NEGATIVE")}, evs: []any{pay(1, "2026-03-02")}},
	})
}

func TestBooksWrongSide(t *testing.T) {
	const key = "BOOKS-WRONG-SIDE/" + org + "/2026-03/"
	funded := vch("2026-03-01", vdr("102", 1_000_000), vcr("301", 1_000_000))
	closed := closedAt("2026-03", "2026-04-02 10:00")
	runCases(t, "BOOKS-WRONG-SIDE", []tc{
		{name: "normal balances", evs: []any{funded, vch("2026-03-02", vdr("531", 500), vcr("102", 500)), closed}},
		{name: "cash below zero is BOOKS-CASH-NEGATIVE's", evs: []any{pay(100, "2026-03-02"), closed}},
		{name: "bank on the credit side (overdrawn)", evs: []any{vch("2026-03-02", vdr("531", 100), vcr("102", 100)), closed},
			want: []string{key + "102"}},
		{name: "a payable on the debit side", evs: []any{funded, vch("2026-03-05", vdr("211", 500), vcr("102", 500)), closed},
			want: []string{key + "211"}},
		{name: "a district sub-account of a payable", evs: []any{funded, vch("2026-03-05", vdr("21101", 500), vcr("102", 500)), closed},
			want: []string{key + "21101"}},
		{name: "accumulated depreciation on the debit side", evs: []any{vch("2026-03-05", vdr("152", 500), vcr("301", 500)), closed},
			want: []string{key + "152"}},
		{name: "exempt: a loss in 本年收益", evs: []any{funded, vch("2026-03-05", vdr("321", 500), vcr("102", 500)), closed}},
		{name: "exempt: 收益分配 and 内部往来", evs: []any{funded, vch("2026-03-05", vdr("322", 500), vdr("113", 1), vcr("102", 501)), closed}},
		{name: "exempt: an income account on the debit side", evs: []any{funded, vch("2026-03-05", vdr("501", 500), vcr("102", 500)), closed}},
		{name: "within the tolerance", mods: []mod{params("BOOKS-WRONG-SIDE", map[string]int64{"tolerance_fen": 500})},
			evs: []any{funded, vch("2026-03-05", vdr("211", 500), vcr("102", 500)), closed}},
		{name: "one fen over the tolerance", mods: []mod{params("BOOKS-WRONG-SIDE", map[string]int64{"tolerance_fen": 500})},
			evs: []any{funded, vch("2026-03-05", vdr("211", 501), vcr("102", 501)), closed}, want: []string{key + "211"}},
		{name: "the balance at the month's end, not after",
			evs:  []any{funded, vch("2026-03-05", vdr("211", 500), vcr("102", 500)), vch("2026-04-01", vdr("102", 500), vcr("211", 500)), closed},
			want: []string{key + "211"}},
		{name: "next month's vouchers do not count",
			evs: []any{funded, vch("2026-04-01", vdr("211", 500), vcr("102", 500)), closed}},
		{name: "closed again after reopening: raised once",
			evs:  []any{funded, vch("2026-03-05", vdr("211", 500), vcr("102", 500)), closed, closedAt("2026-03", "2026-04-05 10:00")},
			want: []string{key + "211"}},
		{name: "another org's close", evs: []any{funded, vch("2026-03-05", vdr("211", 500), vcr("102", 500)),
			&sanziv1.MonthClose{Org: "350505100202", Month: "2026-03"}}},
	})
}

func TestBooksCloseLate(t *testing.T) {
	const mar = "BOOKS-CLOSE-LATE/" + org + "/2026-03"
	first := receive(100, "2026-03-05")
	runCases(t, "BOOKS-CLOSE-LATE", []tc{
		{name: "closed by the 10th", evs: []any{first, closedAt("2026-03", "2026-04-10 18:00"), sweep("2026-04-20")}},
		{name: "the 10th is still in time", evs: []any{first, sweep("2026-04-10 23:59")}},
		{name: "not closed by the 10th", evs: []any{first, sweep("2026-04-11")}, want: []string{mar}},
		{name: "closed on the 11th", evs: []any{first, closedAt("2026-03", "2026-04-11 09:00"), sweep("2026-04-20")}, want: []string{mar}},
		{name: "seen open, then closed late: raised once",
			evs: []any{first, sweep("2026-04-11"), closedAt("2026-03", "2026-04-12 09:00"), sweep("2026-04-20")}, want: []string{mar}},
		{name: "every month from the first voucher's, empty ones too",
			evs:  []any{first, closedAt("2026-03", "2026-04-02 10:00"), sweep("2026-06-01")},
			want: []string{"BOOKS-CLOSE-LATE/" + org + "/2026-04"}},
		{name: "no vouchers, no books to close", evs: []any{inc(100, "2026-03-05"), sweep("2026-06-01")}},
		{name: "another org's close does not count",
			evs:  []any{first, at{"2026-04-02 10:00", &sanziv1.MonthClose{Org: "350505100202", Month: "2026-03"}}, sweep("2026-04-11")},
			want: []string{mar}},
		{name: "an earlier due day", mods: []mod{params("BOOKS-CLOSE-LATE", map[string]int64{"due_day": 5})},
			evs: []any{first, closedAt("2026-03", "2026-04-06 09:00"), sweep("2026-04-07")}, want: []string{mar}},
		{name: "a due day past the month's end is its last day", mods: []mod{params("BOOKS-CLOSE-LATE", map[string]int64{"due_day": 31})},
			evs: []any{receive(100, "2026-01-05"), closedAt("2026-01", "2026-02-28 18:00"), sweep("2026-03-01")}},
		{name: "one day after a short month's last day", mods: []mod{params("BOOKS-CLOSE-LATE", map[string]int64{"due_day": 31})},
			evs:  []any{receive(100, "2026-01-05"), closedAt("2026-01", "2026-03-01 09:00"), sweep("2026-03-01 10:00")},
			want: []string{"BOOKS-CLOSE-LATE/" + org + "/2026-01"}},
	})
	if _, err := New(engine(t, params("BOOKS-CLOSE-LATE", map[string]int64{"due_day": 0})), cst(t)); err == nil {
		t.Error("a due day of 0 was taken")
	}
}

// The books' balances survive a checkpoint: a watcher loaded from one
// judges the next voucher as the one that saved it.
func TestBooksCheckpoint(t *testing.T) {
	hist := []any{receive(100_000, "2026-03-01"), pay(60_000, "2026-03-02"), closedAt("2026-03", "2026-04-02 10:00")}
	a, e := watcher(t)
	play(t, a, hist...)
	b := reloaded(t, a)
	next := Event{ID: "v-9", RecordedAt: bj(t, "2026-04-03 10:00"), Msg: pay(40_001, "2026-04-03")}
	got := keys(of(t, e, "BOOKS-CASH-NEGATIVE", b.Observe(next)))
	if want := keys(of(t, e, "BOOKS-CASH-NEGATIVE", a.Observe(next))); !slices.Equal(got, want) || len(got) != 1 {
		t.Errorf("after a checkpoint %q, without %q", got, want)
	}
	if got := keys(of(t, e, "BOOKS-CLOSE-LATE", b.Sweep(bj(t, "2026-05-11")))); !slices.Equal(got, []string{"BOOKS-CLOSE-LATE/" + org + "/2026-04"}) {
		t.Errorf("the close of March was lost in the checkpoint: %q", got)
	}
}

// The default set, as a district publishes it (JSON), still parses with the
// books' rules: the per-kind expressions survive, the stateful rules have
// their Go code and params.
func TestDefaultSetWithBooksRulesParses(t *testing.T) {
	raw, err := json.Marshal(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseRuleSet(raw)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := e.CheckVoucher(vch("2026-03-02", vdr("531", 100_001), vcr("101", 100_001)), rules.VoucherFacts{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Code != "CASH-PAY" || hits[0].RuleSetVersion != rules.Default().Version {
		t.Errorf("a hand cash payment over the limit gave %+v, want CASH-PAY", hits)
	}
	var codes []string
	for _, r := range e.Stateful() {
		if strings.HasPrefix(r.Code, "BOOKS-") {
			codes = append(codes, r.Code)
		}
	}
	if want := []string{"BOOKS-CASH-NEGATIVE", "BOOKS-WRONG-SIDE", "BOOKS-CLOSE-LATE"}; !slices.Equal(codes, want) {
		t.Errorf("stateful books rules %v, want %v", codes, want)
	}
}

func TestBooksEvidence(t *testing.T) {
	w, e := watcher(t)
	hits := play(t, w, receive(100_000, "2026-03-01"), pay(100_000, "2026-03-05"), pay(300, "2026-03-03"),
		vch("2026-03-06", vdr("211", 700), vcr("301", 700)), closedAt("2026-03", "2026-04-13 10:00"))
	hits = append(hits, w.Sweep(bj(t, "2026-04-14"))...)
	for _, c := range []struct {
		code string
		want map[string]string
	}{
		{"BOOKS-CASH-NEGATIVE", map[string]string{"business_date": "2026-03-03", "cash_moved_fen": "-300",
			"lowest_balance_fen": "-300", "lowest_on": "2026-03-05", "org": org}},
		{"BOOKS-WRONG-SIDE", map[string]string{"account": "211", "period": "2026-03", "balance_fen": "700",
			"normal_side": "BALANCE_SIDE_CREDIT", "tolerance_fen": "0"}},
		{"BOOKS-CLOSE-LATE", map[string]string{"period": "2026-03", "deadline": "2026-04-10", "closed_on": "2026-04-13",
			"due_day": "10", "org": org}},
	} {
		hs := of(t, e, c.code, hits)
		if len(hs) != 1 {
			t.Errorf("%s: %d hits, want 1", c.code, len(hs))
			continue
		}
		for k, v := range c.want {
			if hs[0].Evidence[k] != v {
				t.Errorf("%s evidence %s = %q, want %q", c.code, k, hs[0].Evidence[k], v)
			}
		}
	}
}
