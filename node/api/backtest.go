package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BacktestRules implements RuleService: the rule set over every chain the
// node holds in the account's scope (a village: its own; a town: its own
// and its villages'), each as its node would have checked it.
func (s *Service) BacktestRules(ctx context.Context, r *sanziv1.BacktestRulesRequest) (*sanziv1.BacktestRulesResponse, error) {
	e, err := BacktestEngine(r, func(version string) (string, error) {
		_, js, err := s.sup.RuleSet(version)
		return js, err
	})
	if err != nil {
		return nil, toStatus(err)
	}
	origins, err := BacktestOrigins(ctx, r.GetOrg(), s.b.Ledger().Origins())
	if err != nil {
		return nil, err
	}
	release, err := s.gate.Enter()
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	rep, err := backtest.Run(ctx, s.b.Ledger(), origins, e, s.sup.Location(), backtest.Limits{MaxEntries: int(r.GetMaxEntries())})
	if err != nil {
		return nil, toStatus(fmt.Errorf("backtest rule set %s: %w", e.Version(), err))
	}
	return BacktestProto(rep), nil
}

// BacktestEngine compiles the rule set a BacktestRulesRequest names: its
// JSON, else the version read by byVersion ("" for the set in force). A
// set that does not compile, or a negative bound, is an InvalidError
// naming the field.
func BacktestEngine(r *sanziv1.BacktestRulesRequest, byVersion func(version string) (string, error)) (*rules.Engine, error) {
	if r.GetMaxEntries() < 0 {
		return nil, &books.InvalidError{Violations: []books.Violation{{Field: "maxEntries", Reason: fmt.Sprintf("%d: give a positive bound, or 0 for the default %d", r.GetMaxEntries(), backtest.DefaultMaxEntries)}}}
	}
	js := r.GetRulesJson()
	if js == "" {
		var err error
		if js, err = byVersion(r.GetVersion()); err != nil {
			return nil, err
		}
	}
	return supervise.ParseRuleSet([]byte(js))
}

// BacktestOrigins are the chains of held a backtest reads: those in the
// signed-in account's scope and under org (when given), sorted. A call
// with no account (the node's own work) reads every chain.
func BacktestOrigins(ctx context.Context, org string, held []string) ([]string, error) {
	who, signedIn := authz.FromContext(ctx)
	under := authz.Principal{Org: org}
	out := slices.DeleteFunc(slices.Clone(held), func(o string) bool {
		return (signedIn && !who.Covers(o)) || (org != "" && !under.Covers(o))
	})
	slices.Sort(out)
	if len(out) == 0 {
		return nil, status.Errorf(codes.NotFound, "no chain here is in the scope of the backtest (org %q)", org)
	}
	return out, nil
}

// BacktestProto is a backtest's report as the API answers it.
func BacktestProto(rep *backtest.Report) *sanziv1.BacktestRulesResponse {
	out := &sanziv1.BacktestRulesResponse{RuleSetVersion: rep.Version, EntriesChecked: int64(rep.Checked), EntriesRead: int64(rep.Read),
		ChainsRead: int32(rep.Chains), ChainsTotal: int32(rep.Total), Stopped: string(rep.Stopped),
		MaxEntries: int32(rep.Limits.MaxEntries), MaxSeconds: int32(rep.Limits.MaxDuration / time.Second)}
	for _, r := range rep.Results {
		out.Results = append(out.Results, &sanziv1.RuleBacktest{Code: r.Code, Name: r.Name, Severity: string(r.Severity), Action: string(r.Action),
			Hits: int64(r.Hits), Reversed: int64(r.Reversed), Chains: int32(r.Chains), Examples: r.Examples})
	}
	return out
}
