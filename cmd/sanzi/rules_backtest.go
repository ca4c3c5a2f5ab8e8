package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// newRulesBacktestCmd is `sanzi rules backtest`: over a stopped node's
// ledger file (--data), or by the BacktestRules call of a running node
// (--server), a district member's over every chain the district holds.
func newRulesBacktestCmd(g *globals) *cobra.Command {
	var (
		file, data, version, org, tlsDir string
		maxEntries                       int32
	)
	c := &cobra.Command{
		Use:   "backtest [--rules FILE] (--data DIR | --server ADDR [--tls-dir DIR])",
		Short: "Report what a draft rule set would have raised over a node's history, rule by rule",
		Long: `Compile the draft (every expression type-checked) and evaluate it on every
transaction, contract, payment and disposal of the history, in the order
they were recorded. Prints, per rule, how many entries it fires on, how many
of those were reversed anyway, in how many chains, and the first few entry
ids. Writes nothing.

Two ways:

  --data DIR     over the ledger file of a stopped node on this machine (its
                 file is locked while it runs).
  --server ADDR  by the node's BacktestRules call, with the signed-in
                 account's token (--token or SANZI_TOKEN, else the one
                 "sanzi login" saved for ADDR). At a district member (give
                 --tls-dir, the folder with the district's ca.crt, and the
                 token of "sanzi district login") it runs over every village's
                 and town's chain the district holds in the account's scope,
                 or only those under --org.

The node bounds the run (--max-entries entries read, default 200,000; and 30
seconds). When a bound stops it first the answer is partial: the table
covers the entries read, and the command says which bound stopped it and
how many of the chains it read; run it again with a narrower --org or a
larger --max-entries.

Without --rules, --data backtests the built-in default set and --server the
version --version of the node's own chain (a draft or a published set), or
the set in force.`,
		Example: `  sanzi rules backtest --rules draft.json --data /var/lib/sanzi
  sanzi district login --server 10.0.0.5:7502 --tls-dir ca --account li --password-file pw
  sanzi rules backtest --server 10.0.0.5:7502 --tls-dir ca --rules draft.json --org 350505100
  sanzi rules backtest --server 10.0.0.5:7502 --tls-dir ca --version 2026-12 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data != "" {
				if version != "" || org != "" || maxEntries != 0 || tlsDir != "" {
					return fmt.Errorf("--version, --org, --max-entries and --tls-dir are for --server; --data reads the whole ledger file")
				}
				return backtestFile(cmd, g, file, data)
			}
			req := &sanziv1.BacktestRulesRequest{Version: version, Org: org, MaxEntries: maxEntries}
			if file != "" {
				if version != "" {
					return fmt.Errorf("give --rules or --version, not both")
				}
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--rules: %w", err)
				}
				req.RulesJson = string(raw)
			}
			if maxEntries < 0 {
				return fmt.Errorf("--max-entries: %d is negative", maxEntries)
			}
			run := func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).BacktestRules(ctx, req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printBacktest(cmd.OutOrStdout(), resp)
				return nil
			}
			if tlsDir == "" {
				return g.call(cmd, run)
			}
			// A district member: TLS checked against the district's CA,
			// the person's token, no client certificate.
			tok, err := g.credential()
			if err != nil {
				return err
			}
			p := personFlags{caDir: tlsDir, token: tok, server: g.server}
			return p.call(cmd, run)
		},
	}
	c.Flags().StringVar(&file, "rules", "", "draft rule set file (JSON, as \"sanzi rules export\" writes it)")
	c.Flags().StringVar(&data, "data", "", "a stopped node's data folder, to backtest over its ledger file instead of calling --server")
	c.Flags().StringVar(&version, "version", "", "with --server: a rule-set version of the node's chain instead of --rules (default: the set in force)")
	c.Flags().StringVar(&org, "org", "", "with --server: only the chains of this org and the orgs under it (a town: its villages)")
	c.Flags().Int32Var(&maxEntries, "max-entries", 0, "with --server: stop after this many entries read (default 200,000, at most 2,000,000)")
	c.Flags().StringVar(&tlsDir, "tls-dir", "", "with --server at a district member: the folder with the district's ca.crt")
	return c
}

// backtestFile runs the draft over the ledger file in data.
func backtestFile(cmd *cobra.Command, g *globals, file, data string) error {
	rs, err := loadRuleSet(file)
	if err != nil {
		return err
	}
	engine, err := rules.Compile(rs)
	if err != nil {
		return err
	}
	results, checked, err := books.BacktestFile(filepath.Join(data, "ledger.db"), engine, cst)
	if err != nil {
		return err
	}
	if g.json {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"ruleSet": rs.Version, "entriesChecked": checked, "results": results})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rule set %s over %d entries\n", rs.Version, checked)
	// The rules that fired; those that raised nothing are counted.
	var rows [][]string
	for _, r := range results {
		if r.Hits > 0 {
			rows = append(rows, []string{r.Code, string(r.Severity), string(r.Action), fmt.Sprint(r.Hits), fmt.Sprint(r.Reversed), strings.Join(r.Examples, " ")})
		}
	}
	table(cmd.OutOrStdout(), []string{"RULE", "SEVERITY", "ACTION", "HITS", "REVERSED", "FIRST ENTRIES"}, rows)
	fmt.Fprintf(cmd.OutOrStdout(), "%d of %d rules raised nothing\n", len(results)-len(rows), len(results))
	return nil
}

// printBacktest writes a node's backtest: what it covered, every rule of
// the set with its hits, and, when a bound stopped the run, that the
// figures are partial and which bound it was.
func printBacktest(w io.Writer, r *sanziv1.BacktestRulesResponse) {
	fmt.Fprintf(w, "rule set %s: %d entries checked of %d read, in %d of %d chains\n",
		r.GetRuleSetVersion(), r.GetEntriesChecked(), r.GetEntriesRead(), r.GetChainsRead(), r.GetChainsTotal())
	var rows [][]string
	fired := 0
	for _, x := range r.GetResults() {
		if x.GetHits() > 0 {
			fired++
		}
		rows = append(rows, []string{x.GetCode(), x.GetSeverity(), x.GetAction(), fmt.Sprint(x.GetHits()), fmt.Sprint(x.GetReversed()),
			fmt.Sprint(x.GetChains()), strings.Join(x.GetExamples(), " "), x.GetName()})
	}
	table(w, []string{"RULE", "SEVERITY", "ACTION", "HITS", "REVERSED", "CHAINS", "FIRST ENTRIES", "NAME"}, rows)
	fmt.Fprintf(w, "%d of %d rules fired\n", fired, len(rows))
	switch r.GetStopped() {
	case "":
	case "entries":
		fmt.Fprintf(w, "PARTIAL: the entries bound (--max-entries %d) stopped the run after %d of %d chains; the figures cover what was read\n",
			r.GetMaxEntries(), r.GetChainsRead(), r.GetChainsTotal())
	case "duration":
		fmt.Fprintf(w, "PARTIAL: the time bound (%d seconds) stopped the run after %d of %d chains; the figures cover what was read (narrow it with --org)\n",
			r.GetMaxSeconds(), r.GetChainsRead(), r.GetChainsTotal())
	default:
		fmt.Fprintf(w, "PARTIAL: the bound %q stopped the run after %d of %d chains; the figures cover what was read\n",
			r.GetStopped(), r.GetChainsRead(), r.GetChainsTotal())
	}
}
