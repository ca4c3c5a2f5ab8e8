package stats

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestServiceCodes: requests refused before any query are InvalidArgument,
// told by the error's type, not its text; other failures are Unavailable.
// No ClickHouse is needed: none of these reach it.
func TestServiceCodes(t *testing.T) {
	v := NewService(New(nil))
	ctx := context.Background()
	for _, c := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"alert stats groupBy", func() error {
			_, err := v.AlertStats(ctx, &sanziv1.AlertStatsRequest{GroupBy: "month"})
			return err
		}, codes.InvalidArgument},
		{"risk groupBy", func() error { _, err := v.Risk(ctx, &sanziv1.RiskRequest{GroupBy: "town"}); return err }, codes.InvalidArgument},
		{"efficiency groupBy", func() error {
			_, err := v.Efficiency(ctx, &sanziv1.EfficiencyRequest{GroupBy: "village"})
			return err
		}, codes.InvalidArgument},
		{"efficiency weights", func() error {
			_, err := v.Efficiency(ctx, &sanziv1.EfficiencyRequest{Weights: &sanziv1.EfficiencyWeights{OnTime: -1}})
			return err
		}, codes.InvalidArgument},
		{"bad scope", func() error {
			_, err := v.Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{Level: "province"}})
			return err
		}, codes.InvalidArgument},
		{"a failure named like a bad request", func() error {
			return wrap(errors.New("groupBy: the server went away"), &sanziv1.RiskRequest{})
		}, codes.Unavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := status.Code(c.call()); got != c.want {
				t.Fatalf("code %v, want %v", got, c.want)
			}
		})
	}
}
