// Package stats answers the district's questions from ClickHouse: totals by
// tier, org and month with month-over-month change, alerts and cards by rule
// or org, anomaly signals per village, and the integrity-risk index. Every
// query reads plain tables without FINAL (the loader makes duplicates
// impossible) and runs on ClickHouse 18.16 as on current releases. The
// formulas (Benford MAD, HHI, the risk score) are plain Go over the rows,
// so they are table-tested on hand-made data.
package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Stats queries one ClickHouse.
type Stats struct {
	conn driver.Conn
}

// New queries over conn.
func New(conn driver.Conn) *Stats { return &Stats{conn: conn} }

// scope is a StatsScope checked and turned into SQL pieces.
type scope struct {
	key   string // column expression grouping to the level
	where string
	args  []any
}

// ParentPrefix is the code prefix a scope's parent selects: a 12-digit org
// code stands for the orgs under it, by its level (a district's code for
// its first 6 digits, a town's for its first 9, a village's for itself),
// as the permission check reads a 12-digit parent (authz.Covers); a shorter
// parent is a prefix already.
func ParentPrefix(p string) string {
	if len(p) != 12 {
		return p
	}
	switch lvl, err := idcode.OrgCode(p); {
	case err != nil:
		return p
	case lvl == idcode.LevelDistrict:
		return p[:6]
	case lvl == idcode.LevelTown:
		return p[:9]
	}
	return p
}

// parseScope refuses a level or parent it cannot read, naming the field.
func parseScope(s *sanziv1.StatsScope) (scope, error) {
	var sc scope
	switch s.GetLevel() {
	case "", "village":
		sc.key = "origin"
	case "town":
		sc.key = "town"
	case "district":
		sc.key = "district"
	default:
		return sc, fmt.Errorf("scope.level %q: district, town or village", s.GetLevel())
	}
	if p := s.GetParent(); p != "" {
		if strings.Trim(p, "0123456789") != "" || len(p) > 12 {
			return sc, fmt.Errorf("scope.parent %q: up to 12 digits of an org code", p)
		}
	}
	sc.where = "1"
	if p := ParentPrefix(s.GetParent()); p != "" {
		sc.where = "origin LIKE ?"
		sc.args = []any{p + "%"}
	}
	for _, m := range []struct {
		v  uint32
		op string
	}{{s.GetFromMonth(), ">="}, {s.GetToMonth(), "<="}} {
		if m.v == 0 {
			continue
		}
		if m.v < 200001 || m.v > 299912 || m.v%100 < 1 || m.v%100 > 12 {
			return sc, fmt.Errorf("scope month %d: YYYYMM", m.v)
		}
		sc.where += " AND month " + m.op + " ?"
		sc.args = append(sc.args, m.v)
	}
	return sc, nil
}

// Totals are income and expense per org and month, with the change against
// the org's previous month in the result.
func (s *Stats) Totals(ctx context.Context, req *sanziv1.TotalsRequest) ([]*sanziv1.TotalsRow, error) {
	sc, err := parseScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + sc.key + ` AS org, month,
		sumIf(amount_fen, kind = 'income') AS income, sumIf(amount_fen, kind = 'expense') AS expense, sum(transactions) AS n
		FROM monthly WHERE ` + sc.where + ` GROUP BY org, month ORDER BY org, month`
	rows, err := s.conn.Query(ctx, q, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("totals: %w", err)
	}
	defer rows.Close()
	var out []*sanziv1.TotalsRow
	for rows.Next() {
		r := &sanziv1.TotalsRow{}
		if err := rows.Scan(&r.Org, &r.Month, &r.IncomeFen, &r.ExpenseFen, &r.Transactions); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	MonthOverMonth(out)
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range out {
		r.Name = names[r.GetOrg()]
	}
	return out, rows.Err()
}

// EntriesSince counts the entries of every kind recorded in scope (its
// parent; its months do not apply) at or after since: the cockpit's
// "entries today". ReplacingMergeTree may hold a row twice until it
// merges, so origin and seq are counted once each.
func (s *Stats) EntriesSince(ctx context.Context, scope *sanziv1.StatsScope, since time.Time) (int64, error) {
	sc, err := parseScope(&sanziv1.StatsScope{Level: scope.GetLevel(), Parent: scope.GetParent()})
	if err != nil {
		return 0, err
	}
	var n uint64
	q := `SELECT uniqExact(origin, seq) FROM entries WHERE ` + sc.where + ` AND recorded_at >= toDateTime(?)`
	if err := s.conn.QueryRow(ctx, q, append(sc.args, uint32(since.Unix()))...).Scan(&n); err != nil {
		return 0, fmt.Errorf("entries since %s: %w", since.Format(time.RFC3339), err)
	}
	return int64(n), nil
}

// Names reads the org list: code (as grouped: 6, 9 or 12 digits) → name.
func (s *Stats) Names(ctx context.Context) (map[string]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT code, argMax(name, updated) FROM orgs GROUP BY code")
	if err != nil {
		return nil, fmt.Errorf("org names: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, n string
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// MonthOverMonth fills each row's change against the same org's row before
// it (rows sorted by org, then month).
func MonthOverMonth(rows []*sanziv1.TotalsRow) {
	for i, r := range rows {
		if i == 0 || rows[i-1].GetOrg() != r.GetOrg() {
			continue
		}
		p := rows[i-1]
		r.HasPrev = true
		r.IncomeChangePct = change(p.GetIncomeFen(), r.GetIncomeFen())
		r.ExpenseChangePct = change(p.GetExpenseFen(), r.GetExpenseFen())
	}
}

func change(prev, cur int64) float64 {
	if prev == 0 {
		if cur == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Round(float64(cur-prev)/math.Abs(float64(prev))*10000) / 100
}

// counts runs q, whose rows are a key and three counts, and hands each row
// to fn; a failure while reading the rows is an error like any other.
func (s *Stats) counts(ctx context.Context, q string, args []any, fn func(k string, n, a, b uint64)) error {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n, a, b uint64
		if err := rows.Scan(&k, &n, &a, &b); err != nil {
			return err
		}
		fn(k, n, a, b)
	}
	return rows.Err()
}

// AlertStats counts alerts (by severity) and cards per rule or per org.
func (s *Stats) AlertStats(ctx context.Context, req *sanziv1.AlertStatsRequest) ([]*sanziv1.AlertStatsRow, error) {
	sc, err := parseScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	where := strings.ReplaceAll(sc.where, "month", "toYYYYMM(day)")
	byKey := map[string]*sanziv1.AlertStatsRow{}
	get := func(k string) *sanziv1.AlertStatsRow {
		if byKey[k] == nil {
			byKey[k] = &sanziv1.AlertStatsRow{Key: k}
		}
		return byKey[k]
	}
	switch req.GetGroupBy() {
	case "", "rule":
		err := s.counts(ctx, `SELECT rule_code, count(), countIf(severity = 'red'), countIf(severity = 'yellow')
			FROM alerts WHERE `+where+` GROUP BY rule_code`, sc.args, func(k string, n, red, yellow uint64) {
			r := get(k)
			r.Alerts, r.Red, r.Yellow = int64(n), int64(red), int64(yellow)
		})
		if err != nil {
			return nil, fmt.Errorf("alerts by rule: %w", err)
		}
		if err := s.disposition(ctx, where, sc.args, "rule_code", get); err != nil {
			return nil, err
		}
		// Cards are the TIMEOUT findings.
		var red, yellow uint64
		if err := s.conn.QueryRow(ctx, `SELECT countIf(level = 'CARD_LEVEL_RED'), countIf(level = 'CARD_LEVEL_YELLOW') FROM cards WHERE `+where, sc.args...).Scan(&red, &yellow); err != nil {
			return nil, fmt.Errorf("cards: %w", err)
		}
		if red+yellow > 0 {
			r := get("TIMEOUT")
			r.RedCards, r.YellowCards = int64(red), int64(yellow)
		}
	case "org":
		for _, q := range []string{
			`SELECT ` + sc.key + `, count(), countIf(severity = 'red'), countIf(severity = 'yellow') FROM alerts WHERE ` + where + ` GROUP BY ` + sc.key,
			`SELECT ` + sc.key + `, count(), countIf(level = 'CARD_LEVEL_RED'), countIf(level = 'CARD_LEVEL_YELLOW') FROM cards WHERE ` + where + ` GROUP BY ` + sc.key,
		} {
			cards := strings.Contains(q, "FROM cards")
			err := s.counts(ctx, q, sc.args, func(k string, n, red, yellow uint64) {
				r := get(k)
				if cards {
					r.RedCards, r.YellowCards = int64(red), int64(yellow)
				} else {
					r.Alerts, r.Red, r.Yellow = int64(n), int64(red), int64(yellow)
				}
			})
			if err != nil {
				return nil, fmt.Errorf("alerts by org: %w", err)
			}
		}
		if err := s.disposition(ctx, where, sc.args, sc.key, get); err != nil {
			return nil, err
		}
	case "status":
		// Where each alert stands: its latest review step, open when none.
		err := s.counts(ctx, `SELECT if(st = '', 'ALERT_STATUS_OPEN', st) AS k, count(), countIf(severity = 'red'), countIf(severity = 'yellow')
			FROM (SELECT severity, concat(origin, '-', toString(seq)) AS alert_id FROM alerts WHERE `+where+`)
			ANY LEFT JOIN (SELECT alert_id, argMax(status, seq) AS st FROM alert_transitions GROUP BY alert_id) USING alert_id
			GROUP BY k`, sc.args, func(k string, n, red, yellow uint64) {
			r := get(k)
			r.Alerts, r.Red, r.Yellow = int64(n), int64(red), int64(yellow)
		})
		if err != nil {
			return nil, fmt.Errorf("alerts by status: %w", err)
		}
	default:
		return nil, badRequestf("groupBy %q: rule, org or status", req.GetGroupBy())
	}
	names := map[string]string{}
	if req.GetGroupBy() == "org" {
		if names, err = s.Names(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]*sanziv1.AlertStatsRow, 0, len(byKey))
	for _, r := range byKey {
		r.Name = names[r.GetKey()]
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetAlerts() != out[j].GetAlerts() {
			return out[i].GetAlerts() > out[j].GetAlerts()
		}
		return out[i].GetKey() < out[j].GetKey()
	})
	return out, nil
}

// Anomalies computes, per village, the anomaly signals over its expenses
// (rows of reversals and the reversed originals are both left out).
func (s *Stats) Anomalies(ctx context.Context, req *sanziv1.AnomaliesRequest) ([]*sanziv1.AnomalyRow, error) {
	sc, err := parseScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	type acc struct {
		digits    [10]int64
		n         int64
		round     int64
		justUnder int64
		byParty   map[string]int64
	}
	accs := map[string]*acc{}
	get := func(o string) *acc {
		if accs[o] == nil {
			accs[o] = &acc{byParty: map[string]int64{}}
		}
		return accs[o]
	}
	q := `SELECT origin, digit, sum(n), sum(round), sum(just_under) FROM expense_digits WHERE ` + sc.where + ` GROUP BY origin, digit`
	rows, err := s.conn.Query(ctx, q, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	for rows.Next() {
		var o string
		var d uint8
		var n, round, ju uint64
		if err := rows.Scan(&o, &d, &n, &round, &ju); err != nil {
			rows.Close()
			return nil, err
		}
		a := get(o)
		a.digits[d] += int64(n)
		a.n += int64(n)
		a.round += int64(round)
		a.justUnder += int64(ju)
	}
	rows.Close()
	rows, err = s.conn.Query(ctx, `SELECT origin, counterparty, sum(amount_fen) FROM expense_parties
		WHERE `+sc.where+` GROUP BY origin, counterparty`, sc.args...)
	if err != nil {
		return nil, fmt.Errorf("counterparty concentration: %w", err)
	}
	for rows.Next() {
		var o, p string
		var sum int64
		if err := rows.Scan(&o, &p, &sum); err != nil {
			rows.Close()
			return nil, err
		}
		get(o).byParty[p] += sum
	}
	rows.Close()
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*sanziv1.AnomalyRow, 0, len(accs))
	for o, a := range accs {
		mad := BenfordMAD(a.digits)
		r := &sanziv1.AnomalyRow{Org: o, Name: names[o], Expenses: a.n, BenfordMad: mad, BenfordVerdict: BenfordVerdict(mad, a.n), CounterpartyHhi: HHI(a.byParty),
			FirstDigits: append([]int64(nil), a.digits[1:]...)}
		if a.n > 0 {
			r.RoundShare = float64(a.round) / float64(a.n)
			r.JustUnderShare = float64(a.justUnder) / float64(a.n)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetOrg() < out[j].GetOrg() })
	return out, nil
}

// BenfordMAD is the mean absolute deviation of the first-digit proportions
// (counts[1..9]) from Benford's law.
func BenfordMAD(counts [10]int64) float64 {
	var n int64
	for d := 1; d <= 9; d++ {
		n += counts[d]
	}
	if n == 0 {
		return 0
	}
	var sum float64
	for d := 1; d <= 9; d++ {
		sum += math.Abs(float64(counts[d])/float64(n) - math.Log10(1+1/float64(d)))
	}
	return sum / 9
}

// BenfordVerdict applies Nigrini's first-digit MAD cut-offs; under 100
// amounts the test says nothing.
func BenfordVerdict(mad float64, n int64) string {
	switch {
	case n < 100:
		return "too few"
	case mad <= 0.006:
		return "close"
	case mad <= 0.012:
		return "acceptable"
	case mad <= 0.015:
		return "marginal"
	}
	return "nonconformity"
}

// HHI is the Herfindahl–Hirschman index of amounts by party: the sum of
// squared percentage shares, 10000 for a single party.
func HHI(byParty map[string]int64) float64 {
	var total int64
	for _, v := range byParty {
		if v > 0 {
			total += v
		}
	}
	if total == 0 {
		return 0
	}
	var h float64
	for _, v := range byParty {
		if v > 0 {
			share := float64(v) / float64(total) * 100
			h += share * share
		}
	}
	return math.Round(h*100) / 100
}

// closing are the statuses that dispose of an alert.
const closing = "('ALERT_STATUS_CONFIRMED', 'ALERT_STATUS_DISMISSED', 'ALERT_STATUS_RESOLVED')"

// disposition adds, per key, the mean hours from alert to first review step
// and to disposition.
func (s *Stats) disposition(ctx context.Context, where string, args []any, key string, get func(string) *sanziv1.AlertStatsRow) error {
	q := `SELECT ` + key + ` AS k, countIf(first > 0), avgIf(toUInt32(first) - toUInt32(recorded_at), first > 0) / 3600,
		countIf(closed > 0), avgIf(toUInt32(closed) - toUInt32(recorded_at), closed > 0) / 3600
		FROM (SELECT ` + key + `, recorded_at, concat(origin, '-', toString(seq)) AS alert_id FROM alerts WHERE ` + where + `)
		ANY LEFT JOIN (SELECT alert_id, min(at) AS first, maxIf(at, status IN ` + closing + `) AS closed FROM alert_transitions GROUP BY alert_id)
		USING alert_id GROUP BY k`
	rs, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("alert disposition: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var k string
		var acked, disposed uint64
		var ackH, closeH float64
		if err := rs.Scan(&k, &acked, &ackH, &disposed, &closeH); err != nil {
			return err
		}
		r := get(k)
		r.Disposed = int64(disposed)
		if acked > 0 {
			r.AvgHoursToAck = math.Round(ackH*100) / 100
		}
		if disposed > 0 {
			r.AvgHoursToDisposition = math.Round(closeH*100) / 100
		}
	}
	return rs.Err()
}
