package member

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/watch"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The rules officer's backtest at the district (issue 14): a draft run over
// every chain the district holds in its replicated state, each village's
// as the village's node would have checked it (package backtest).
//
// Why the Raft FSM state and not ClickHouse, where DESIGN.md puts the
// district's cross-village analytics: the rules are CEL expressions and Go
// code over the typed entries (a transaction's counterparty, invoice,
// attachments, resolution; the lists of relatives), and ClickHouse holds
// flattened columns of some of them only; the state file holds every entry
// verbatim, on every member, ClickHouse or not. A backtest then answers
// exactly what the villages would have raised, by the same code.

// districtZone is the zone of the district calendar's days (the calendar's
// default, China Standard Time): the time-driven rules count days in it.
func districtZone() *time.Location {
	c, err := calendar.New(calendar.Spec{})
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return c.Location()
}

// BacktestRules implements RuleService: the rule set (JSON, or a version of
// the district's chain, or the one in force) over every chain the district
// holds in the account's scope and under the request's org, bounded by
// backtest.Limits, after catching up with the leader.
func (a ruleAPI) BacktestRules(ctx context.Context, r *sanziv1.BacktestRulesRequest) (*sanziv1.BacktestRulesResponse, error) {
	e, err := api.BacktestEngine(r, func(version string) (string, error) {
		resp, err := a.GetRuleSet(ctx, &sanziv1.GetRuleSetRequest{Version: version})
		return resp.GetRulesJson(), err
	})
	if err != nil {
		return nil, api.Status(err)
	}
	if err := a.m.fresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	var held []string
	for origin := range a.m.node.FSM().Heads() {
		held = append(held, origin)
	}
	origins, err := api.BacktestOrigins(ctx, r.GetOrg(), held)
	if err != nil {
		return nil, err
	}
	release, err := a.m.backtests.Enter()
	if err != nil {
		return nil, api.Status(err)
	}
	defer release()
	rep, err := backtest.Run(ctx, a.m.node.FSM(), origins, e, districtZone(), backtest.Limits{MaxEntries: int(r.GetMaxEntries())})
	if err != nil {
		return nil, api.Status(fmt.Errorf("backtest rule set %s over the district's chains: %w", e.Version(), err))
	}
	a.m.log.Info("rules backtested", "version", rep.Version, "chains", rep.Chains, "read", rep.Read, "stopped", rep.Stopped)
	return api.BacktestProto(rep), nil
}

// TestRules implements RuleService: a rule set (JSON, else the district's
// set in force) over one transaction that is not recorded. The district
// holds no books of its own, so the transaction is judged alone: its
// list rules with the set's lists, and a resolution it names taken as
// standing (the village's node checks that one when it is recorded).
func (a ruleAPI) TestRules(ctx context.Context, r *sanziv1.TestRulesRequest) (*sanziv1.TestRulesResponse, error) {
	t := r.GetTransaction()
	if t == nil {
		return nil, api.Status(&books.InvalidError{Violations: []books.Violation{{Field: "transaction", Reason: "required: the transaction to run the rules on"}}})
	}
	js := r.GetRulesJson()
	if js == "" {
		resp, err := a.GetRuleSet(ctx, &sanziv1.GetRuleSetRequest{})
		if err != nil {
			return nil, err
		}
		js = resp.GetRulesJson()
	}
	e, err := supervise.ParseRuleSet([]byte(js))
	if err != nil {
		return nil, api.Status(err)
	}
	hits, err := e.CheckTransaction(t, rules.TxFacts{ResolutionApproved: t.GetResolutionProcedureId() != ""})
	if err != nil {
		return nil, api.Status(err)
	}
	w, err := watch.New(e, districtZone())
	if err != nil {
		return nil, api.Status(err)
	}
	return &sanziv1.TestRulesResponse{Hits: api.HitsProto(append(hits, w.Check(t)...)), RuleSetVersion: e.Version()}, nil
}
