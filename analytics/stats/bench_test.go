package stats

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/analytics/synth"
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
	if err := synth.Fill(ctx, conn, synth.Default()); err != nil {
		b.Fatal(err)
	}
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
