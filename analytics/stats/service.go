package stats

import (
	"context"
	"errors"
	"fmt"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Service is AnalyticsService over Stats.
type Service struct {
	sanziv1.UnimplementedAnalyticsServiceServer
	s *Stats
}

// NewService serves s.
func NewService(s *Stats) *Service { return &Service{s: s} }

// badRequest is a question the caller got wrong (an unknown groupBy,
// negative weights): the service answers InvalidArgument with its text.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// wrap maps errors: a bad request or scope is the caller's mistake
// (InvalidArgument); anything else is ClickHouse's (Unavailable: try again).
func wrap(err error, req interface{ GetScope() *sanziv1.StatsScope }) error {
	if err == nil {
		return nil
	}
	if br := (*badRequest)(nil); errors.As(err, &br) {
		return status.Error(codes.InvalidArgument, br.Error())
	}
	if _, perr := parseScope(req.GetScope()); perr != nil {
		return status.Error(codes.InvalidArgument, perr.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// Totals implements AnalyticsService.
func (v *Service) Totals(ctx context.Context, r *sanziv1.TotalsRequest) (*sanziv1.TotalsResponse, error) {
	rows, err := v.s.Totals(ctx, r)
	if err != nil {
		return nil, wrap(err, r)
	}
	resp := &sanziv1.TotalsResponse{Rows: rows}
	if since := r.GetEntriesSince(); since != nil {
		if err := since.CheckValid(); err != nil || since.GetSeconds() < 0 || since.GetSeconds() > math.MaxUint32 {
			return nil, status.Errorf(codes.InvalidArgument, "entriesSince: an instant between 1970 and 2106 (%v)", since.AsTime())
		}
		if resp.EntriesSinceCount, err = v.s.EntriesSince(ctx, r.GetScope(), since.AsTime()); err != nil {
			return nil, wrap(err, r)
		}
	}
	return resp, nil
}

// AlertStats implements AnalyticsService.
func (v *Service) AlertStats(ctx context.Context, r *sanziv1.AlertStatsRequest) (*sanziv1.AlertStatsResponse, error) {
	rows, err := v.s.AlertStats(ctx, r)
	return &sanziv1.AlertStatsResponse{Rows: rows}, wrap(err, r)
}

// Anomalies implements AnalyticsService.
func (v *Service) Anomalies(ctx context.Context, r *sanziv1.AnomaliesRequest) (*sanziv1.AnomaliesResponse, error) {
	rows, err := v.s.Anomalies(ctx, r)
	return &sanziv1.AnomaliesResponse{Rows: rows}, wrap(err, r)
}

// Risk implements AnalyticsService.
func (v *Service) Risk(ctx context.Context, r *sanziv1.RiskRequest) (*sanziv1.RiskResponse, error) {
	rows, err := v.s.Risk(ctx, r)
	return &sanziv1.RiskResponse{Rows: rows}, wrap(err, r)
}

// Efficiency implements AnalyticsService.
func (v *Service) Efficiency(ctx context.Context, r *sanziv1.EfficiencyRequest) (*sanziv1.EfficiencyResponse, error) {
	rows, w, err := v.s.Efficiency(ctx, r)
	return &sanziv1.EfficiencyResponse{Rows: rows, Weights: w}, wrap(err, r)
}
