package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// loadRuleSet reads a rule set file (JSON, as `sanzi rules export` writes
// it), or the default set when path is empty.
func loadRuleSet(path string) (rules.RuleSet, error) {
	if path == "" {
		return rules.Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return rules.RuleSet{}, fmt.Errorf("read rule set: %w", err)
	}
	var rs rules.RuleSet
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return rules.RuleSet{}, fmt.Errorf("read rule set %s: %w", path, err)
	}
	return rs, nil
}

func newRulesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Show, export and backtest supervision rule sets",
		Long: `Rules are data: a code, a severity, an action (warn or block), parameters and
a CEL expression over the entry being recorded. Export the default set,
edit it, and backtest the draft against a node's history before anyone
publishes it.`,
	}
	var file string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the rules of a set (default: the built-in default set)",
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRuleSet(file)
			if err != nil {
				return err
			}
			if _, err := rules.Compile(rs); err != nil {
				return err
			}
			if g.json {
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			var rows [][]string
			for _, r := range rs.Rules {
				rows = append(rows, []string{r.Code, string(r.Severity), string(r.Action), strings.Join(r.Applies, ","), r.Name})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule set %s\n", rs.Version)
			table(cmd.OutOrStdout(), []string{"CODE", "SEVERITY", "ACTION", "APPLIES TO", "NAME"}, rows)
			return nil
		},
	}
	list.Flags().StringVar(&file, "rules", "", "rule set file (JSON); default: the built-in set")
	show := &cobra.Command{
		Use:   "show CODE",
		Short: "Show one rule with its expression, parameters and basis (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRuleSet(file)
			if err != nil {
				return err
			}
			for _, r := range rs.Rules {
				if r.Code == args[0] {
					return writeJSON(cmd.OutOrStdout(), r)
				}
			}
			return fmt.Errorf("no rule %s in set %s", args[0], rs.Version)
		},
	}
	show.Flags().StringVar(&file, "rules", "", "rule set file (JSON); default: the built-in set")
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the built-in default rule set as JSON, to start a draft from",
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeJSON(cmd.OutOrStdout(), rules.Default())
		},
	}
	backtest := newRulesBacktestCmd(g)
	cmd.AddCommand(list, show, export, backtest, newRulesVersionsCmd(g), newRulesSubmitCmd(g), newRulesPublishCmd(g), newRulesTestCmd(g))
	return cmd
}

func newRulesVersionsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "versions",
		Short: "List the rule-set versions a running node knows: drafts, the live one, superseded ones",
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).ListRuleSets(ctx, &sanziv1.ListRuleSetsRequest{})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRuleSets() {
					rows = append(rows, []string{r.GetVersion(), r.GetStatus(), fmt.Sprint(r.GetRuleCount()), r.GetDraftedBy(), r.GetPublishedBy(), r.GetDraftId(), r.GetPublishedId()})
				}
				table(cmd.OutOrStdout(), []string{"VERSION", "STATUS", "RULES", "DRAFTED BY", "PUBLISHED BY", "DRAFT", "PUBLICATION"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "live: %s\n", resp.GetLive())
				return nil
			})
		},
	}
}

func newRulesSubmitCmd(g *globals) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "submit --rules FILE",
		Short: "Record a draft rule set on a running node (a second person publishes it)",
		Long: `The draft is compiled on the node (every expression type-checked, every
stateful rule known) and recorded as an entry. It does nothing until someone
other than its author publishes it with "sanzi rules publish VERSION".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("--rules is required: the draft rule set file (JSON), e.g. from \"sanzi rules export\"")
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).SubmitRuleSet(ctx, &sanziv1.SubmitRuleSetRequest{Author: g.author, RulesJson: string(raw)})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "draft %s recorded (entry %s, %d rules); publish it as someone other than %s\n",
					resp.GetSummary().GetVersion(), resp.GetEntry().GetId(), resp.GetSummary().GetRuleCount(), g.author)
				return nil
			})
		},
	}
	c.Flags().StringVar(&file, "rules", "", "draft rule set file (JSON)")
	return c
}

func newRulesPublishCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "publish VERSION",
		Short: "Make a draft rule set live from the next entry on (not by its own author)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).PublishRuleSet(ctx, &sanziv1.PublishRuleSetRequest{Author: g.author, Version: args[0]})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rule set %s is live (entry %s; drafted by %s, published by %s)\n",
					args[0], resp.GetEntry().GetId(), resp.GetSummary().GetDraftedBy(), g.author)
				return nil
			})
		},
	}
}

func newRulesTestCmd(g *globals) *cobra.Command {
	var file, txFile string
	c := &cobra.Command{
		Use:   "test --tx FILE [--rules FILE]",
		Short: "Show what a rule set (default: the node's live one) raises on a transaction, without recording it",
		Long: `--tx is a transaction as JSON (the API's form, e.g. {"org":"350505100201",
"kind":"TRANSACTION_KIND_EXPENSE","amountFen":"120000",...}). Exits 1 when a
blocking rule fires.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if txFile == "" {
				return fmt.Errorf("--tx is required: a transaction as JSON")
			}
			raw, err := os.ReadFile(txFile)
			if err != nil {
				return err
			}
			t := &sanziv1.Transaction{}
			if err := protojson.Unmarshal(raw, t); err != nil {
				return fmt.Errorf("%s: not a transaction: %w", txFile, err)
			}
			req := &sanziv1.TestRulesRequest{Transaction: t}
			if file != "" {
				rs, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				req.RulesJson = string(rs)
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).TestRules(ctx, req)
				if err != nil {
					return err
				}
				if g.json {
					if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
						return err
					}
				} else {
					var rows [][]string
					for _, h := range resp.GetHits() {
						rows = append(rows, []string{h.GetCode(), h.GetSeverity(), h.GetAction(), h.GetReason()})
					}
					fmt.Fprintf(cmd.OutOrStdout(), "rule set %s: %d hits\n", resp.GetRuleSetVersion(), len(rows))
					table(cmd.OutOrStdout(), []string{"RULE", "SEVERITY", "ACTION", "REASON"}, rows)
				}
				for _, h := range resp.GetHits() {
					if rules.Action(h.GetAction()) == rules.ActionBlock {
						return &exitError{code: 1, msg: "blocked by rule " + h.GetCode()}
					}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&file, "rules", "", "rule set file (JSON); default: the node's live set")
	c.Flags().StringVar(&txFile, "tx", "", "transaction file (JSON)")
	return c
}
