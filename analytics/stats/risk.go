package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// RiskWeights are the points each signal adds to a village's integrity-risk
// index; the district may set its own.
type RiskWeights struct {
	RedAlert, YellowAlert, RedCard, YellowCard, SplitRelated, LateDisclosure float64
	// TamperFinding is per TAMPER finding of a parent about the village's
	// chain; the finding also counts in SplitRelated.
	TamperFinding float64
	// CashShare multiplies the share of expenses paid in cash (0–1).
	CashShare float64
	// LateStep is per step decided after its deadline.
	LateStep float64
	// Complaint is per villagers' complaint about the village, or naming
	// the post (受举报).
	Complaint float64
}

// DefaultRiskWeights: a serious violation (SPLIT, RELATIVE) counts most, a
// red alert or red card three times a yellow, a cash-heavy village up to 20
// points. A parent's TAMPER finding about the village (issue 18) weighs as
// a confirmed red TAMPER alert: 3 as a red alert plus 5 as a serious
// violation, with no confirmation needed (it is evidence checked by hash
// and signature, not a suspicion awaiting review). A villager's complaint
// (issue 15) weighs as a yellow alert and a late step together: a
// suspicion, unreviewed, that still says where people see trouble.
var DefaultRiskWeights = RiskWeights{RedAlert: 3, YellowAlert: 1, RedCard: 3, YellowCard: 1, SplitRelated: 5, LateDisclosure: 2, CashShare: 20, LateStep: 0.5,
	TamperFinding: 3, Complaint: 1.5}

// RiskLevels are the cut-offs of the levels: below 10 green, below 25
// yellow, below 50 orange, else red.
var RiskLevels = []struct {
	Below float64
	Level string
}{{10, "green"}, {25, "yellow"}, {50, "orange"}, {math.Inf(1), "red"}}

// Score fills r's score and level from its signals.
func (w RiskWeights) Score(r *sanziv1.RiskRow) {
	s := w.RedAlert*float64(r.GetRedAlerts()) + w.YellowAlert*float64(r.GetYellowAlerts()) +
		w.RedCard*float64(r.GetRedCards()) + w.YellowCard*float64(r.GetYellowCards()) +
		w.SplitRelated*float64(r.GetSplitRelated()) + w.LateDisclosure*float64(r.GetLateDisclosures()) +
		w.CashShare*r.GetCashShare() + w.LateStep*float64(r.GetLateSteps()) + w.TamperFinding*float64(r.GetTamperFindings()) +
		w.Complaint*float64(r.GetComplaints())
	r.Score = math.Round(s*100) / 100
	for _, l := range RiskLevels {
		if r.Score < l.Below {
			r.Level = l.Level
			break
		}
	}
}

// Risk computes the index per village in scope, highest first.
func (s *Stats) Risk(ctx context.Context, req *sanziv1.RiskRequest) ([]*sanziv1.RiskRow, error) {
	sc, err := parseScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	where := strings.ReplaceAll(sc.where, "month", "toYYYYMM(day)")
	switch req.GetGroupBy() {
	case "", "village":
	case "post":
		return s.riskByPost(ctx, where, sc.args)
	default:
		return nil, badRequestf("groupBy %q: village or post", req.GetGroupBy())
	}
	rows := map[string]*sanziv1.RiskRow{}
	get := func(o string) *sanziv1.RiskRow {
		if rows[o] == nil {
			rows[o] = &sanziv1.RiskRow{Org: o}
		}
		return rows[o]
	}
	// A parent's TAMPER finding is an alert of the parent's (the district's
	// or the town's) with subject_origin the village it is about: it counts
	// on that village's row (tamper_findings), never on the parent's own.
	own := "subject_origin = '' AND " + where
	queries := []struct {
		q    string
		fill func(r *sanziv1.RiskRow, a, b, c uint64)
	}{
		// Only confirmed alerts count (DESIGN.md: "cards and confirmed
		// alerts feed ... the integrity-risk index"); unreviewed ones are
		// shown beside the score.
		{`SELECT origin, countIf(severity = 'red' AND confirmed), countIf(severity = 'yellow' AND confirmed),
			countIf(rule_code IN ('SPLIT', 'RELATIVE', 'UNDERPRICE', 'TAMPER') AND confirmed)
			FROM (SELECT origin, severity, rule_code, concat(origin, '-', toString(seq)) AS alert_id FROM alerts WHERE ` + own + `)
			ANY LEFT JOIN (SELECT alert_id, max(status IN ('ALERT_STATUS_CONFIRMED', 'ALERT_STATUS_RESOLVED')) AS confirmed FROM alert_transitions GROUP BY alert_id)
			USING alert_id GROUP BY origin`, func(r *sanziv1.RiskRow, a, b, c uint64) {
			r.RedAlerts, r.YellowAlerts, r.SplitRelated = int64(a), int64(b), r.SplitRelated+int64(c)
		}},
		// The findings need no confirmation: evidence the parent checked
		// by hash and signature. Each distinct one counts once, by its key
		// (TAMPER/origin/seq/sent hash), however many times or parents
		// recorded it.
		{`SELECT subject_origin, uniqExact(alert_key), toUInt64(0), toUInt64(0) FROM alerts
			WHERE rule_code = 'TAMPER' AND subject_origin != '' AND ` + strings.ReplaceAll(where, "origin", "subject_origin") + `
			GROUP BY subject_origin`, func(r *sanziv1.RiskRow, a, _, _ uint64) {
			r.TamperFindings, r.SplitRelated = int64(a), r.SplitRelated+int64(a)
		}},
		{`SELECT origin, countIf(reviewed = 0), toUInt64(0), toUInt64(0)
			FROM (SELECT origin, concat(origin, '-', toString(seq)) AS alert_id FROM alerts WHERE ` + own + `)
			ANY LEFT JOIN (SELECT alert_id, toUInt8(1) AS reviewed FROM alert_transitions GROUP BY alert_id)
			USING alert_id GROUP BY origin`, func(r *sanziv1.RiskRow, a, _, _ uint64) { r.UnreviewedAlerts = int64(a) }},
		{`SELECT origin, countIf(rule_code = 'DISCLOSE-LATE'), toUInt64(0), toUInt64(0) FROM alerts WHERE ` + own + ` GROUP BY origin`,
			func(r *sanziv1.RiskRow, a, _, _ uint64) { r.LateDisclosures = int64(a) }},
		{`SELECT origin, countIf(level = 'CARD_LEVEL_RED'), countIf(level = 'CARD_LEVEL_YELLOW'), toUInt64(0) FROM cards WHERE ` + where + ` GROUP BY origin`,
			func(r *sanziv1.RiskRow, a, b, _ uint64) { r.RedCards, r.YellowCards = int64(a), int64(b) }},
		{`SELECT origin, countIf(decided_at > deadline), toUInt64(0), toUInt64(0) FROM steps WHERE action = 'STEP_ACTION_APPROVE' AND ` + where + ` GROUP BY origin`,
			func(r *sanziv1.RiskRow, a, _, _ uint64) { r.LateSteps = int64(a) }},
		// A complaint is an entry of the district's chain about a village:
		// counted on the village (受举报), each (origin, seq) once.
		{`SELECT village, uniqExact(origin, seq), toUInt64(0), toUInt64(0) FROM complaints WHERE ` + strings.ReplaceAll(where, "origin", "village") + ` GROUP BY village`,
			func(r *sanziv1.RiskRow, a, _, _ uint64) { r.Complaints = int64(a) }},
	}
	for _, q := range queries {
		rs, err := s.conn.Query(ctx, q.q, sc.args...)
		if err != nil {
			return nil, fmt.Errorf("risk signals: %w", err)
		}
		for rs.Next() {
			var o string
			var a, b, c uint64
			if err := rs.Scan(&o, &a, &b, &c); err != nil {
				rs.Close()
				return nil, err
			}
			q.fill(get(o), a, b, c)
		}
		rs.Close()
	}
	rs, err := s.conn.Query(ctx, `SELECT origin, sumIf(amount_fen, payment_method = 'PAYMENT_METHOD_CASH'), sum(amount_fen)
		FROM monthly WHERE kind = 'expense' AND `+sc.where+` GROUP BY origin`, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("cash share: %w", err)
	}
	for rs.Next() {
		var o string
		var cash, all int64
		if err := rs.Scan(&o, &cash, &all); err != nil {
			rs.Close()
			return nil, err
		}
		if all > 0 {
			get(o).CashShare = math.Round(float64(cash)/float64(all)*10000) / 10000
		}
	}
	rs.Close()
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*sanziv1.RiskRow, 0, len(rows))
	for _, r := range rows {
		r.Name = names[r.GetOrg()]
		DefaultRiskWeights.Score(r)
		out = append(out, r)
	}
	sortRisk(out)
	return out, nil
}

// riskByPost scores posts by their cards and late steps.
func (s *Stats) riskByPost(ctx context.Context, where string, args []any) ([]*sanziv1.RiskRow, error) {
	rows := map[string]*sanziv1.RiskRow{}
	get := func(k string) *sanziv1.RiskRow {
		if rows[k] == nil {
			rows[k] = &sanziv1.RiskRow{Org: k}
		}
		return rows[k]
	}
	for _, q := range []struct {
		sql  string
		fill func(*sanziv1.RiskRow, uint64, uint64)
	}{
		{`SELECT post, countIf(level = 'CARD_LEVEL_RED'), countIf(level = 'CARD_LEVEL_YELLOW') FROM cards WHERE ` + where + ` GROUP BY post`,
			func(r *sanziv1.RiskRow, a, b uint64) { r.RedCards, r.YellowCards = int64(a), int64(b) }},
		{`SELECT post, countIf(decided_at > deadline), toUInt64(0) FROM steps WHERE action = 'STEP_ACTION_APPROVE' AND ` + where + ` GROUP BY post`,
			func(r *sanziv1.RiskRow, a, _ uint64) { r.LateSteps = int64(a) }},
		// The posts a complaint names, across the villages in scope.
		{`SELECT post, uniqExact(origin, seq), toUInt64(0) FROM complaints ARRAY JOIN posts AS post WHERE ` + strings.ReplaceAll(where, "origin", "village") + ` GROUP BY post`,
			func(r *sanziv1.RiskRow, a, _ uint64) { r.Complaints = int64(a) }},
	} {
		rs, err := s.conn.Query(ctx, q.sql, args...)
		if err != nil {
			return nil, fmt.Errorf("risk by post: %w", err)
		}
		for rs.Next() {
			var k string
			var a, b uint64
			if err := rs.Scan(&k, &a, &b); err != nil {
				rs.Close()
				return nil, err
			}
			q.fill(get(k), a, b)
		}
		rs.Close()
	}
	out := make([]*sanziv1.RiskRow, 0, len(rows))
	for _, r := range rows {
		DefaultRiskWeights.Score(r)
		out = append(out, r)
	}
	sortRisk(out)
	return out, nil
}

// sortRisk orders rows highest score first, then by code.
func sortRisk(rows []*sanziv1.RiskRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].GetScore() != rows[j].GetScore() {
			return rows[i].GetScore() > rows[j].GetScore()
		}
		return rows[i].GetOrg() < rows[j].GetOrg()
	})
}
