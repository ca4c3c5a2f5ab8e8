package stats

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BenchmarkQueries10M generates 10 million transactions (20 towns × 25
// villages, 24 months, 61 counterparties each), 1 million decided steps,
// 200,000 alerts and 50,000 cards server-side, builds the summaries the
// loader keeps, then times each main query: 5 runs each, reporting the
// median in ms. It needs about 1.5 GB of disk and a minute to generate.
func BenchmarkQueries10M(b *testing.B) {
	ctx := context.Background()
	srv, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}, ReadTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		b.Fatal(err)
	}
	gen := time.Now()
	generate(b, ctx, conn)
	if err := schema.RebuildSummaries(ctx, conn, schema.RoundFen, schema.DefaultThresholds()); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated in %v", time.Since(gen).Round(time.Second))
	s := New(conn)
	scope := func(level, parent string) *sanziv1.StatsScope {
		return &sanziv1.StatsScope{Level: level, Parent: parent, FromMonth: 202501, ToMonth: 202612}
	}
	queries := []struct {
		name string
		run  func() error
	}{
		{"totals-district", func() error {
			_, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: scope("district", "")})
			return err
		}},
		{"totals-town", func() error {
			_, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: scope("town", "350505")})
			return err
		}},
		{"totals-village", func() error {
			_, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: scope("village", "350505")})
			return err
		}},
		{"totals-one-town", func() error {
			_, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: scope("village", "350505103")})
			return err
		}},
		{"alerts-by-rule", func() error {
			_, err := s.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: scope("village", ""), GroupBy: "rule"})
			return err
		}},
		{"efficiency-ranking", func() error {
			_, _, err := s.Efficiency(ctx, &sanziv1.EfficiencyRequest{Scope: scope("village", ""), GroupBy: "org"})
			return err
		}},
		{"risk-index", func() error { _, err := s.Risk(ctx, &sanziv1.RiskRequest{Scope: scope("village", "")}); return err }},
		{"anomalies", func() error {
			_, err := s.Anomalies(ctx, &sanziv1.AnomaliesRequest{Scope: scope("village", "")})
			return err
		}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var times []float64
			for b.Loop() {
				for range 5 {
					t0 := time.Now()
					if err := q.run(); err != nil {
						b.Fatal(err)
					}
					times = append(times, float64(time.Since(t0).Microseconds())/1000)
				}
			}
			slices.Sort(times)
			b.ReportMetric(times[len(times)/2], "p50-ms")
		})
	}
}

// generate fills the tables with INSERT ... SELECT over numbers(), which
// ClickHouse runs at over a million rows a second.
func generate(b *testing.B, ctx context.Context, conn driver.Conn) {
	for _, q := range []string{
		`INSERT INTO transactions (raft_index, origin, seq, district, town, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)
		SELECT number, concat('350505', toString(100 + number % 20), toString(200 + intDiv(number, 20) % 25)) AS o, number, '350505', substring(o, 1, 9),
			if(number % 5 = 0, 'income', 'expense'), 1, toInt64(100 + (number * 7919) % 5000000),
			if(number % 11 = 0, 'PAYMENT_METHOD_CASH', 'PAYMENT_METHOD_BANK_TRANSFER'),
			'c', 'b', concat('party', toString(number % 61)), '', toDate('2025-01-01') + number % 730 AS d, toYYYYMM(d), toDateTime(d)
		FROM numbers(10000000)`,
		`INSERT INTO steps (raft_index, origin, seq, district, town, procedure_id, step_code, post, action, closes, opened_at, deadline, decided_at, author)
		SELECT number, concat('350505', toString(100 + number % 20), toString(200 + intDiv(number, 20) % 25)) AS o, number, '350505', substring(o, 1, 9),
			concat(o, '-', toString(intDiv(number, 5))), 'review', concat('post', toString(number % 7)), 'STEP_ACTION_APPROVE', 0,
			toDateTime('2025-01-01 00:00:00') + number * 60 AS t, t + 172800, t + (number * 7919) % 259200, 'x'
		FROM numbers(1000000)`,
		`INSERT INTO alerts (raft_index, origin, seq, district, town, rule_code, severity, rule_set_version, subject, alert_key, recorded_at)
		SELECT number, concat('350505', toString(100 + number % 20), toString(200 + intDiv(number, 20) % 25)) AS o, number, '350505', substring(o, 1, 9),
			concat('RULE-', toString(number % 27)), if(number % 3 = 0, 'red', 'yellow'), 'v', '', '', toDateTime('2025-01-01 00:00:00') + number * 300
		FROM numbers(200000)`,
		`INSERT INTO cards (raft_index, origin, seq, district, town, level, procedure_id, matter_code, step_code, post, person, deadline, recorded_at)
		SELECT number, concat('350505', toString(100 + number % 20), toString(200 + intDiv(number, 20) % 25)) AS o, number, '350505', substring(o, 1, 9),
			if(number % 4 = 0, 'CARD_LEVEL_RED', 'CARD_LEVEL_YELLOW'), '', 'FUND-REIMB', 'review', concat('post', toString(number % 7)), '',
			toDateTime('2025-01-01 00:00:00') + number * 900, toDateTime('2025-01-01 00:00:00') + number * 900
		FROM numbers(50000)`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
