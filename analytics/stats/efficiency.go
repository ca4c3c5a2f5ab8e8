package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// DefaultEfficiencyWeights are used when a request sets none.
var DefaultEfficiencyWeights = &sanziv1.EfficiencyWeights{OnTime: 0.6, Early: 0.2, Cards: 0.2}

// EfficiencyScore fills r's score from its rates and cards under w.
func EfficiencyScore(r *sanziv1.EfficiencyRow, w *sanziv1.EfficiencyWeights) {
	if r.GetSteps() == 0 {
		r.Score = 0
		return
	}
	cardRate := math.Min(1, float64(r.GetYellowCards()+2*r.GetRedCards())/float64(r.GetSteps()))
	s := 100 * (w.GetOnTime()*r.GetOnTimeRate() + w.GetEarly()*r.GetEarlyRate() + w.GetCards()*(1-cardRate))
	r.Score = math.Round(s*100) / 100
}

// Rank sorts rows best first and numbers them; equal scores share a rank.
func Rank(rows []*sanziv1.EfficiencyRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].GetScore() != rows[j].GetScore() {
			return rows[i].GetScore() > rows[j].GetScore()
		}
		return rows[i].GetKey() < rows[j].GetKey()
	})
	for i, r := range rows {
		if i > 0 && r.GetScore() == rows[i-1].GetScore() {
			r.Rank = rows[i-1].GetRank()
		} else {
			r.Rank = int32(i + 1)
		}
	}
}

// Efficiency rates how steps were handled against their limits, per org,
// post or matter, and ranks them by the weighted score.
func (s *Stats) Efficiency(ctx context.Context, req *sanziv1.EfficiencyRequest) ([]*sanziv1.EfficiencyRow, *sanziv1.EfficiencyWeights, error) {
	sc, err := parseScope(req.GetScope())
	if err != nil {
		return nil, nil, err
	}
	w := req.GetWeights()
	if w.GetOnTime() == 0 && w.GetEarly() == 0 && w.GetCards() == 0 {
		w = DefaultEfficiencyWeights
	}
	if w.GetOnTime() < 0 || w.GetEarly() < 0 || w.GetCards() < 0 {
		return nil, nil, badRequestf("weights: must not be negative")
	}
	where := strings.ReplaceAll(sc.where, "month", "toYYYYMM(day)")
	var stepKey, cardKey, from string
	switch req.GetGroupBy() {
	case "", "org":
		stepKey, cardKey, from = sc.key, sc.key, "steps"
	case "post":
		stepKey, cardKey, from = "post", "post", "steps"
	case "matter":
		// Steps name their procedure; the procedure names the matter.
		stepKey, cardKey = "matter_code", "matter_code"
		from = `steps ANY LEFT JOIN (SELECT concat(origin, '-', toString(seq)) AS procedure_id, matter_code FROM procedures) USING procedure_id`
	default:
		return nil, nil, badRequestf("groupBy %q: org, post or matter", req.GetGroupBy())
	}
	rows := map[string]*sanziv1.EfficiencyRow{}
	get := func(k string) *sanziv1.EfficiencyRow {
		if rows[k] == nil {
			rows[k] = &sanziv1.EfficiencyRow{Key: k}
		}
		return rows[k]
	}
	q := `SELECT ` + stepKey + ` AS k, count(),
		countIf(decided_at <= deadline),
		countIf((toUInt32(decided_at) - toUInt32(opened_at)) * 2 <= (toUInt32(deadline) - toUInt32(opened_at))),
		avg(toUInt32(decided_at) - toUInt32(opened_at)) / 3600
		FROM ` + from + ` WHERE action = 'STEP_ACTION_APPROVE' AND ` + where + ` GROUP BY k`
	rs, err := s.conn.Query(ctx, q, sc.args...)
	if err != nil {
		return nil, nil, fmt.Errorf("efficiency: %w", err)
	}
	for rs.Next() {
		var k string
		var n, onTime, early uint64
		var hours float64
		if err := rs.Scan(&k, &n, &onTime, &early, &hours); err != nil {
			rs.Close()
			return nil, nil, err
		}
		r := get(k)
		r.Steps = int64(n)
		r.OnTimeRate = float64(onTime) / float64(n)
		r.EarlyRate = float64(early) / float64(n)
		r.AvgHours = math.Round(hours*100) / 100
	}
	rs.Close()
	rs, err = s.conn.Query(ctx, `SELECT `+cardKey+` AS k, countIf(level = 'CARD_LEVEL_YELLOW'), countIf(level = 'CARD_LEVEL_RED')
		FROM cards WHERE `+where+` GROUP BY k`, sc.args...)
	if err != nil {
		return nil, nil, fmt.Errorf("efficiency cards: %w", err)
	}
	for rs.Next() {
		var k string
		var y, r uint64
		if err := rs.Scan(&k, &y, &r); err != nil {
			rs.Close()
			return nil, nil, err
		}
		row := get(k)
		row.YellowCards, row.RedCards = int64(y), int64(r)
	}
	rs.Close()
	names := map[string]string{}
	if req.GetGroupBy() == "" || req.GetGroupBy() == "org" {
		if names, err = s.Names(ctx); err != nil {
			return nil, nil, err
		}
	}
	out := make([]*sanziv1.EfficiencyRow, 0, len(rows))
	for _, r := range rows {
		r.Name = names[r.GetKey()]
		EfficiencyScore(r, w)
		out = append(out, r)
	}
	Rank(out)
	return out, w, nil
}
