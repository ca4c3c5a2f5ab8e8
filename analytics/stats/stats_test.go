package stats

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBenford(t *testing.T) {
	perfect := [10]int64{}
	for d := 1; d <= 9; d++ {
		perfect[d] = int64(math.Round(math.Log10(1+1/float64(d)) * 1_000_000))
	}
	ones := [10]int64{1: 100}
	// All first digits 1: |1-0.30103| + sum over d=2..9 of p(d) = 0.69897 + 0.69897.
	wantOnes := (1 - math.Log10(2) + (1 - math.Log10(2))) / 9
	uniform := [10]int64{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	var wantUniform float64
	for d := 1; d <= 9; d++ {
		wantUniform += math.Abs(1.0/9 - math.Log10(1+1/float64(d)))
	}
	wantUniform /= 9
	for _, c := range []struct {
		name   string
		counts [10]int64
		want   float64
	}{
		{"Benford's own proportions", perfect, 0},
		{"every amount starts with 1", ones, wantOnes},
		{"uniform digits", uniform, wantUniform},
		{"no amounts", [10]int64{}, 0},
	} {
		if got := BenfordMAD(c.counts); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s: MAD %.6f, want %.6f", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		mad  float64
		n    int64
		want string
	}{
		{0.0, 99, "too few"}, {0.006, 100, "close"}, {0.00601, 100, "acceptable"}, {0.012, 500, "acceptable"},
		{0.015, 500, "marginal"}, {0.01501, 500, "nonconformity"},
	} {
		if got := BenfordVerdict(c.mad, c.n); got != c.want {
			t.Errorf("verdict(%v, %d) = %s, want %s", c.mad, c.n, got, c.want)
		}
	}
}

func TestHHI(t *testing.T) {
	for _, c := range []struct {
		parties map[string]int64
		want    float64
	}{
		{map[string]int64{"a": 5}, 10000},
		{map[string]int64{"a": 5, "b": 5}, 5000},
		{map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1}, 2500},
		{map[string]int64{"a": 3, "b": 1}, 75*75 + 25*25}, // 6250
		{map[string]int64{}, 0},
	} {
		if got := HHI(c.parties); !near(got, c.want) {
			t.Errorf("HHI(%v) = %v, want %v", c.parties, got, c.want)
		}
	}
}

func TestRiskScore(t *testing.T) {
	for _, c := range []struct {
		row   *sanziv1.RiskRow
		score float64
		level string
	}{
		{&sanziv1.RiskRow{}, 0, "green"},
		// 3·2 + 1·3 = 9: still green.
		{&sanziv1.RiskRow{RedAlerts: 2, YellowAlerts: 3}, 9, "green"},
		// 3 + 1 + 3 + 1 + 0.5·20 = 18.
		{&sanziv1.RiskRow{RedAlerts: 1, YellowAlerts: 1, RedCards: 1, YellowCards: 1, CashShare: 0.5}, 18, "yellow"},
		// 5·3 + 2·2 + 3·2 = 25: exactly at the orange cut-off.
		{&sanziv1.RiskRow{SplitRelated: 3, LateDisclosures: 2, RedAlerts: 2}, 25, "orange"},
		// A parent's TAMPER finding, unconfirmed: 3 as a red alert + 5 in
		// split_related, as a confirmed red TAMPER alert.
		{&sanziv1.RiskRow{TamperFindings: 1, SplitRelated: 1}, 8, "green"},
		{&sanziv1.RiskRow{TamperFindings: 2, SplitRelated: 2, CashShare: 0.5}, 26, "orange"},
		// 3·10 + 5·4 = 50: red.
		{&sanziv1.RiskRow{RedAlerts: 10, SplitRelated: 4}, 50, "red"},
		// A post: 3·2 red cards + 1 yellow + 0.5·4 late steps = 9.
		{&sanziv1.RiskRow{RedCards: 2, YellowCards: 1, LateSteps: 4}, 9, "green"},
	} {
		DefaultRiskWeights.Score(c.row)
		if !near(c.row.GetScore(), c.score) || c.row.GetLevel() != c.level {
			t.Errorf("%v: score %v %s, want %v %s", c.row, c.row.GetScore(), c.row.GetLevel(), c.score, c.level)
		}
	}
}

func TestMonthOverMonth(t *testing.T) {
	rows := []*sanziv1.TotalsRow{
		{Org: "a", Month: 202607, IncomeFen: 100, ExpenseFen: 200},
		{Org: "a", Month: 202608, IncomeFen: 150, ExpenseFen: 100},
		{Org: "b", Month: 202608, IncomeFen: 0, ExpenseFen: 0},
		{Org: "b", Month: 202609, IncomeFen: 10, ExpenseFen: 0},
	}
	MonthOverMonth(rows)
	if rows[0].GetHasPrev() || !rows[1].GetHasPrev() || rows[1].GetIncomeChangePct() != 50 || rows[1].GetExpenseChangePct() != -50 {
		t.Fatalf("org a: %v %v", rows[0], rows[1])
	}
	if rows[2].GetHasPrev() || !math.IsInf(rows[3].GetIncomeChangePct(), 1) || rows[3].GetExpenseChangePct() != 0 {
		t.Fatalf("org b: %v %v", rows[2], rows[3])
	}
}

// TestQueriesOnClickHouse writes hand-made rows straight into a real
// ClickHouse and checks each query's figures against hand-computed ones,
// including drill-down (the towns' totals equal their villages').
func TestQueriesOnClickHouse(t *testing.T) {
	ctx := context.Background()
	conn := schemaConn(t, clickhouse.Options{})
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	tx, err := conn.PrepareBatch(ctx, "INSERT INTO transactions (raft_index, origin, seq, district, town, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)")
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	add := func(origin, kind string, sign int8, amount int64, method, party string, month uint32) {
		seq++
		d := time.Date(int(month/100), time.Month(month%100), 15, 0, 0, 0, 0, time.UTC)
		if err := tx.Append(seq, origin, seq, origin[:6], origin[:9], kind, sign, amount, method, "c", "b", party, "", d, month, at); err != nil {
			t.Fatal(err)
		}
	}
	// Village 201 (town 100): July income 1,000 yuan; August expenses
	// 4,990 yuan (just under nothing), 49,000 yuan (just under 50,000) and a
	// reversed 300 yuan.
	add("350505100201", "income", 1, 100_000, "PAYMENT_METHOD_BANK_TRANSFER", "租户", 202607)
	add("350505100201", "expense", 1, 499_000, "PAYMENT_METHOD_BANK_TRANSFER", "甲", 202608)
	add("350505100201", "expense", 1, 4_900_000, "PAYMENT_METHOD_BANK_TRANSFER", "甲", 202608)
	add("350505100201", "expense", 1, 30_000, "PAYMENT_METHOD_CASH", "乙", 202608)
	add("350505100201", "expense", -1, -30_000, "PAYMENT_METHOD_CASH", "乙", 202608)
	// Village 202 (town 100): August income 2,000 yuan, one cash expense of
	// exactly 1,000 yuan (round).
	add("350505100202", "income", 1, 200_000, "PAYMENT_METHOD_BANK_TRANSFER", "租户", 202608)
	add("350505100202", "expense", 1, 100_000, "PAYMENT_METHOD_CASH", "丙", 202608)
	// Village 201 of town 101.
	add("350505101201", "expense", 1, 70_000, "PAYMENT_METHOD_BANK_TRANSFER", "丁", 202608)
	if err := tx.Send(); err != nil {
		t.Fatal(err)
	}
	if err := schema.RebuildSummaries(ctx, conn, schema.RoundFen, schema.DefaultThresholds()); err != nil {
		t.Fatal(err)
	}
	al, err := conn.PrepareBatch(ctx, "INSERT INTO alerts (raft_index, origin, seq, district, town, rule_code, severity, rule_set_version, subject, alert_key, recorded_at)")
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range []struct{ origin, rule, sev string }{
		{"350505100201", "SPLIT", "red"}, {"350505100201", "PRIVATE-ACCT", "red"}, {"350505100201", "TENDER", "yellow"},
		{"350505100202", "DISCLOSE-LATE", "yellow"},
	} {
		if err := al.Append(uint64(100+i), a.origin, uint64(100+i), a.origin[:6], a.origin[:9], a.rule, a.sev, "v1", "", "", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := al.Send(); err != nil {
		t.Fatal(err)
	}
	if err := schema.WriteOrgs(ctx, conn, "", []schema.Org{{Code: "350505000000", Name: "示范区"}, {Code: "350505100000", Name: "城关镇"},
		{Code: "350505100201", Name: "东风村"}}); err != nil {
		t.Fatal(err)
	}
	s := New(conn)
	named, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "town"}})
	if err != nil || named[0].GetName() != "城关镇" {
		t.Fatalf("town totals carry the town's name: %v %v", named, err)
	}
	if d, _ := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "district"}}); len(d) == 0 || d[0].GetName() != "示范区" {
		t.Fatalf("district totals: %v", d)
	}

	totals := func(level, parent string) map[string]string {
		rows, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: level, Parent: parent}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rows {
			out[fmt.Sprintf("%s/%d", r.GetOrg(), r.GetMonth())] = fmt.Sprintf("in %d out %d n %d", r.GetIncomeFen(), r.GetExpenseFen(), r.GetTransactions())
		}
		return out
	}
	want := map[string]string{
		"350505100201/202607": "in 100000 out 0 n 1",
		"350505100201/202608": "in 0 out 5399000 n 2", // the reversed 300 yuan cancels out
		"350505100202/202608": "in 200000 out 100000 n 2",
	}
	if got := totals("village", "350505100"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("villages of town 350505100: %v\nwant %v", got, want)
	}
	wantTowns := map[string]string{
		"350505100/202607": "in 100000 out 0 n 1",
		"350505100/202608": "in 200000 out 5499000 n 4",
		"350505101/202608": "in 0 out 70000 n 1",
	}
	if got := totals("town", "350505"); fmt.Sprint(got) != fmt.Sprint(wantTowns) {
		t.Fatalf("towns: %v\nwant %v", got, wantTowns)
	}
	if got := totals("district", ""); fmt.Sprint(got) != fmt.Sprint(map[string]string{
		"350505/202607": "in 100000 out 0 n 1", "350505/202608": "in 200000 out 5569000 n 5"}) {
		t.Fatalf("district: %v", got)
	}
	if _, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "province"}}); err == nil {
		t.Fatal("level province accepted")
	}

	an, err := s.Anomalies(ctx, &sanziv1.AnomaliesRequest{Scope: &sanziv1.StatsScope{Parent: "350505100"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(an) != 2 {
		t.Fatalf("anomalies: %v", an)
	}
	// 201: expenses 499,000, 4,900,000 and 30,000 fen (the reversal's
	// negative copy is not an expense); 49,000 yuan is both just under
	// 50,000 and a whole thousand; parties 甲 5,399,000 and 乙 30,000.
	a := an[0]
	wantHHI := HHI(map[string]int64{"甲": 5_399_000, "乙": 30_000})
	if a.GetOrg() != "350505100201" || a.GetExpenses() != 3 || !near(a.GetJustUnderShare(), 1.0/3) || !near(a.GetRoundShare(), 1.0/3) ||
		!near(a.GetCounterpartyHhi(), wantHHI) || a.GetBenfordVerdict() != "too few" {
		t.Fatalf("village 201 anomalies: %v (want HHI %v)", a, wantHHI)
	}
	if b := an[1]; b.GetRoundShare() != 1 || b.GetCounterpartyHhi() != 10000 {
		t.Fatalf("village 202 anomalies: %v", b)
	}

	// The SPLIT alert of 201 (seq 100) is confirmed; the others are not
	// reviewed (PRIVATE-ACCT) or dismissed (TENDER, seq 102).
	tr, err := conn.PrepareBatch(ctx, "INSERT INTO alert_transitions (raft_index, origin, seq, district, town, alert_id, status, reason, at, author)")
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []struct{ id, status string }{
		{"350505100201-100", "ALERT_STATUS_ACKNOWLEDGED"}, {"350505100201-100", "ALERT_STATUS_CONFIRMED"},
		{"350505100201-102", "ALERT_STATUS_ACKNOWLEDGED"}, {"350505100201-102", "ALERT_STATUS_DISMISSED"},
	} {
		if err := tr.Append(uint64(200+i), "350505100201", uint64(200+i), "350505", "350505100", st.id, st.status, "", at, "r"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Send(); err != nil {
		t.Fatal(err)
	}
	byStatus, err := s.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &sanziv1.StatsScope{}, GroupBy: "status"})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int64{}
	for _, r := range byStatus {
		statuses[r.GetKey()] = r.GetAlerts()
	}
	if fmt.Sprint(statuses) != "map[ALERT_STATUS_CONFIRMED:1 ALERT_STATUS_DISMISSED:1 ALERT_STATUS_OPEN:2]" {
		t.Fatalf("alerts by status: %v", statuses)
	}
	risk, err := s.Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{Parent: "350505100"}})
	if err != nil {
		t.Fatal(err)
	}
	// 201: the confirmed red SPLIT: 3 + 5 (serious) + cash 0 (30,000 −
	// 30,000 of 5,399,000) = 8 → green; PRIVATE-ACCT unreviewed, not scored.
	// 202: late disclosure 2 + cash share 100,000/100,000 · 20 = 22 → yellow
	// (its DISCLOSE-LATE alert, unreviewed, is counted as a late disclosure).
	got := fmt.Sprintf("%s %.2f %s %d; %s %.2f %s %d", risk[0].GetOrg(), risk[0].GetScore(), risk[0].GetLevel(), risk[0].GetUnreviewedAlerts(),
		risk[1].GetOrg(), risk[1].GetScore(), risk[1].GetLevel(), risk[1].GetUnreviewedAlerts())
	if got != "350505100202 22.00 yellow 1; 350505100201 8.00 green 1" {
		t.Fatalf("risk: %s", got)
	}
	byRule, err := s.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &sanziv1.StatsScope{}, GroupBy: "rule"})
	if err != nil || len(byRule) != 4 {
		t.Fatalf("alerts by rule: %v %v", byRule, err)
	}
	byTown, err := s.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &sanziv1.StatsScope{Level: "town"}, GroupBy: "org"})
	if err != nil || len(byTown) != 1 || byTown[0].GetAlerts() != 4 || byTown[0].GetRed() != 2 {
		t.Fatalf("alerts by town: %v %v", byTown, err)
	}

	// A district TAMPER finding about 350505101201 loaded before
	// subject_origin existed (the insert leaves it out, as that loader
	// did): the column's default reads the village from the subject, so it
	// counts on the village's row, unconfirmed, and only in its town's scope.
	fd, err := conn.PrepareBatch(ctx, "INSERT INTO alerts (raft_index, origin, seq, district, town, rule_code, severity, rule_set_version, subject, alert_key, recorded_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := fd.Append(uint64(300), "350505000000", uint64(300), "350505", "350505101", "TAMPER", "red", "district", "350505101201-4", "TAMPER/350505101201/4/ab", at); err != nil {
		t.Fatal(err)
	}
	if err := fd.Send(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		parent string
		want   string
	}{
		{"350505101", "350505101201 1 1 8.00"},
		{"350505100", "350505100202 0 0 22.00|350505100201 0 1 8.00"},
	} {
		rows, err := s.Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{Parent: c.parent}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s %d %d %.2f", r.GetOrg(), r.GetTamperFindings(), r.GetSplitRelated(), r.GetScore()))
		}
		if strings.Join(got, "|") != c.want {
			t.Fatalf("risk under %s with a district finding: %q, want %q", c.parent, strings.Join(got, "|"), c.want)
		}
	}
}

func TestEfficiencyScoreAndRank(t *testing.T) {
	w := DefaultEfficiencyWeights
	rows := []*sanziv1.EfficiencyRow{
		// 100 × (0.6·1 + 0.2·0.5 + 0.2·1) = 90.
		{Key: "a", Steps: 10, OnTimeRate: 1, EarlyRate: 0.5},
		// card rate (1 + 2·1)/6 = 0.5: 100 × (0.6·0.5 + 0 + 0.2·0.5) = 40.
		{Key: "b", Steps: 6, OnTimeRate: 0.5, YellowCards: 1, RedCards: 1},
		// card rate capped at 1: 100 × (0 + 0 + 0) = 0.
		{Key: "c", Steps: 1, RedCards: 5},
		// Same score as a: same rank.
		{Key: "d", Steps: 4, OnTimeRate: 1, EarlyRate: 0.5},
		{Key: "e"},
	}
	for _, r := range rows {
		EfficiencyScore(r, w)
	}
	Rank(rows)
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%d %s %.2f", r.GetRank(), r.GetKey(), r.GetScore()))
	}
	if want := "[1 a 90.00 1 d 90.00 3 b 40.00 4 c 0.00 4 e 0.00]"; fmt.Sprint(got) != want {
		t.Fatalf("ranking %v, want %s", got, want)
	}
	custom := &sanziv1.EfficiencyRow{Steps: 10, OnTimeRate: 0.8, EarlyRate: 0.1}
	EfficiencyScore(custom, &sanziv1.EfficiencyWeights{OnTime: 1})
	if custom.GetScore() != 80 {
		t.Fatalf("on-time only: %v", custom.GetScore())
	}
}

// TestEfficiencyAndDispositionOnClickHouse checks the step and alert
// timing queries on hand-made rows.
func TestEfficiencyAndDispositionOnClickHouse(t *testing.T) {
	ctx := context.Background()
	conn := schemaConn(t, clickhouse.Options{})
	t0 := time.Date(2026, 8, 3, 1, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	batch := func(q string, rows ...[]any) {
		if err := chserver.Insert(ctx, conn, q, rows...); err != nil {
			t.Fatal(err)
		}
	}
	v1, v2 := "350505100201", "350505100202"
	batch("INSERT INTO procedures (raft_index, origin, seq, district, town, matter_code, subject, amount_fen, period, opened_at)",
		[]any{uint64(1), v1, uint64(1), "350505", "350505100", "FUND-REIMB", "", int64(0), "", h(0)},
		[]any{uint64(1), v2, uint64(1), "350505", "350505100", "GOV-COMPLAINT", "", int64(0), "", h(0)})
	// Limits of 10 hours. v1: one step in 4 h (early), one in 9 h (on
	// time); v2: one in 12 h (late).
	batch("INSERT INTO steps (raft_index, origin, seq, district, town, procedure_id, step_code, post, action, closes, opened_at, deadline, decided_at, author)",
		[]any{uint64(2), v1, uint64(2), "350505", "350505100", v1 + "-1", "capture", "village.accountant", "STEP_ACTION_APPROVE", uint8(0), h(0), h(10), h(4), "a"},
		[]any{uint64(2), v1, uint64(3), "350505", "350505100", v1 + "-1", "review", "village.finance_group", "STEP_ACTION_APPROVE", uint8(1), h(4), h(14), h(13), "b"},
		[]any{uint64(2), v2, uint64(2), "350505", "350505100", v2 + "-1", "register", "village.finance_group", "STEP_ACTION_APPROVE", uint8(0), h(0), h(10), h(12), "c"})
	batch("INSERT INTO cards (raft_index, origin, seq, district, town, level, procedure_id, matter_code, step_code, post, person, deadline, recorded_at)",
		[]any{uint64(3), v2, uint64(3), "350505", "350505100", "CARD_LEVEL_YELLOW", v2 + "-1", "GOV-COMPLAINT", "register", "village.finance_group", "", h(10), h(11)})
	ef := func(by string) string {
		rows, _, err := New(conn).Efficiency(ctx, &sanziv1.EfficiencyRequest{Scope: &sanziv1.StatsScope{}, GroupBy: by})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%d %s steps %d on-time %.2f early %.2f %.1fh cards %d/%d score %.2f", r.GetRank(), r.GetKey(), r.GetSteps(),
				r.GetOnTimeRate(), r.GetEarlyRate(), r.GetAvgHours(), r.GetYellowCards(), r.GetRedCards(), r.GetScore()))
		}
		return strings.Join(out, "; ")
	}
	// v1: on time 2/2, early 1/2, 6.5 h: 100 × (0.6 + 0.1 + 0.2) = 90.
	// v2: on time 0, early 0, 12 h, one yellow card per step: 0.
	if got, want := ef("org"), "1 350505100201 steps 2 on-time 1.00 early 0.50 6.5h cards 0/0 score 90.00; 2 350505100202 steps 1 on-time 0.00 early 0.00 12.0h cards 1/0 score 0.00"; got != want {
		t.Fatalf("by org:\n got  %s\n want %s", got, want)
	}
	// Matter through the procedure: FUND-REIMB as v1, GOV-COMPLAINT as v2.
	if got := ef("matter"); !strings.HasPrefix(got, "1 FUND-REIMB steps 2") || !strings.Contains(got, "2 GOV-COMPLAINT steps 1") {
		t.Fatalf("by matter: %s", got)
	}
	// finance_group: review on time but not early (9 of 10 h), register
	// late: on time 1/2, early 0, one yellow card in 2 steps.
	if got := ef("post"); !strings.Contains(got, "village.finance_group steps 2 on-time 0.50 early 0.00 10.5h cards 1/0") {
		t.Fatalf("by post: %s", got)
	}

	batch("INSERT INTO alerts (raft_index, origin, seq, district, town, rule_code, severity, rule_set_version, subject, alert_key, recorded_at)",
		[]any{uint64(4), v1, uint64(10), "350505", "350505100", "SPLIT", "red", "v", "", "", h(0)},
		[]any{uint64(4), v1, uint64(11), "350505", "350505100", "SPLIT", "red", "v", "", "", h(0)})
	// The first alert acknowledged after 2 h and confirmed after 6 h; the
	// second acknowledged after 4 h, still open.
	batch("INSERT INTO alert_transitions (raft_index, origin, seq, district, town, alert_id, status, reason, at, author)",
		[]any{uint64(5), v1, uint64(12), "350505", "350505100", v1 + "-10", "ALERT_STATUS_ACKNOWLEDGED", "", h(2), "r"},
		[]any{uint64(5), v1, uint64(13), "350505", "350505100", v1 + "-10", "ALERT_STATUS_CONFIRMED", "", h(6), "r"},
		[]any{uint64(5), v1, uint64(14), "350505", "350505100", v1 + "-11", "ALERT_STATUS_ACKNOWLEDGED", "", h(4), "r"})
	// Risk per post: finance_group has one late step and one yellow card
	// (1 + 0.5 = 1.5); the accountant none.
	posts, err := New(conn).Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{}, GroupBy: "post"})
	if err != nil || len(posts) != 2 || posts[0].GetOrg() != "village.finance_group" || posts[0].GetScore() != 1.5 || posts[0].GetLateSteps() != 1 {
		t.Fatalf("risk by post: %v %v", posts, err)
	}
	rows, err := New(conn).AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &sanziv1.StatsScope{}, GroupBy: "rule"})
	if err != nil {
		t.Fatal(err)
	}
	var split *sanziv1.AlertStatsRow
	for _, r := range rows {
		if r.GetKey() == "SPLIT" {
			split = r
		}
	}
	if split == nil || split.GetAlerts() != 2 || split.GetAvgHoursToAck() != 3 || split.GetDisposed() != 1 || split.GetAvgHoursToDisposition() != 6 {
		t.Fatalf("SPLIT disposition: %v", split)
	}
}

// TestParentPrefix: a 12-digit parent stands for the orgs under it by its
// level (the permission check takes only 12-digit codes); a prefix stays.
func TestParentPrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"350505000000", "350505"}, {"350505100000", "350505100"}, {"350505100201", "350505100201"},
		{"350505100", "350505100"}, {"", ""},
	} {
		if got := ParentPrefix(c.in); got != c.want {
			t.Errorf("ParentPrefix(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestEntriesSince counts the entries recorded since an instant, in scope,
// each (origin, seq) once even when ReplacingMergeTree holds it twice, and
// refuses an instant ClickHouse's DateTime cannot hold.
func TestEntriesSince(t *testing.T) {
	ctx := context.Background()
	conn := schemaConn(t, clickhouse.Options{})
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	b, err := conn.PrepareBatch(ctx, "INSERT INTO entries (raft_index, origin, seq, district, town, type, type_name, recorded_at, author, subject)")
	if err != nil {
		t.Fatal(err)
	}
	seq := map[string]uint64{}
	add := func(origin string, at time.Time, twice bool) {
		seq[origin]++
		for range map[bool]int{false: 1, true: 2}[twice] {
			if err := b.Append(seq[origin], origin, seq[origin], origin[:6], origin[:9], uint8(1), "ENTRY_TYPE_TRANSACTION", at, "a", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("350505100201", day.Add(-time.Minute), false) // the evening before
	add("350505100201", day, false)
	add("350505100201", day.Add(9*time.Hour), true) // inserted twice
	add("350505100202", day.Add(10*time.Hour), false)
	add("350505101201", day.Add(11*time.Hour), false)
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	svc := NewService(New(conn))
	for _, c := range []struct {
		parent string
		want   int64
	}{{"", 4}, {"350505", 4}, {"350505100", 3}, {"350505100201", 2}, {"350505102", 0}} {
		resp, err := svc.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "district", Parent: c.parent, FromMonth: 202001, ToMonth: 202001},
			EntriesSince: timestamppb.New(day)})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetEntriesSinceCount(); got != c.want {
			t.Errorf("entries since %s under %q: %d, want %d", day, c.parent, got, c.want)
		}
	}
	if resp, err := svc.Totals(ctx, &sanziv1.TotalsRequest{}); err != nil || resp.GetEntriesSinceCount() != 0 {
		t.Errorf("without entriesSince: %v %v, want 0", resp, err)
	}
	if _, err := svc.Totals(ctx, &sanziv1.TotalsRequest{EntriesSince: timestamppb.New(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("entriesSince 1960: %v, want InvalidArgument", err)
	}
}
