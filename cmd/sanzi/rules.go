package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
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
	var data string
	backtest := &cobra.Command{
		Use:   "backtest --rules FILE --data DIR",
		Short: "Run a draft rule set over a stopped node's history and report what it would have raised",
		Long: `Compile the draft (every expression type-checked) and evaluate it on every
transaction, contract and disposal in the node's ledger, in the order they
were recorded. Prints, per rule, how many entries it fires on, how many of
those were reversed anyway, and the first few entry ids. Writes nothing.
Stop the node first: its ledger file is locked while it runs.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return fmt.Errorf("--data is required: the node's data folder")
			}
			rs, err := loadRuleSet(file)
			if err != nil {
				return err
			}
			engine, err := rules.Compile(rs)
			if err != nil {
				return err
			}
			path := filepath.Join(data, "ledger.db")
			db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
			if err != nil {
				return fmt.Errorf("open %s read-only (is the node still running?): %w", path, err)
			}
			defer db.Close()
			var results []books.BacktestResult
			var checked int
			if err := db.View(func(tx *bolt.Tx) error {
				results, checked, err = books.Backtest(tx, engine)
				return err
			}); err != nil {
				return err
			}
			if g.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"ruleSet": rs.Version, "entriesChecked": checked, "results": results})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule set %s over %d entries\n", rs.Version, checked)
			var rows [][]string
			for _, r := range results {
				rows = append(rows, []string{r.Code, string(r.Severity), string(r.Action), fmt.Sprint(r.Hits), fmt.Sprint(r.Reversed), strings.Join(r.Examples, " ")})
			}
			table(cmd.OutOrStdout(), []string{"RULE", "SEVERITY", "ACTION", "HITS", "REVERSED", "FIRST ENTRIES"}, rows)
			return nil
		},
	}
	backtest.Flags().StringVar(&file, "rules", "", "draft rule set file (JSON); default: the built-in set")
	backtest.Flags().StringVar(&data, "data", "", "the node's data folder")
	cmd.AddCommand(list, show, export, backtest)
	return cmd
}
