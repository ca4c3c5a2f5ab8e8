package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// statementKinds are the --kind values of `sanzi books statement`: the
// StatementKind names as in file names (stats.KindSlug: balance-sheet).
func statementKinds() map[string]sanziv1.StatementKind {
	out := map[string]sanziv1.StatementKind{}
	for _, v := range sanziv1.StatementKind_value {
		if k := sanziv1.StatementKind(v); k != sanziv1.StatementKind_STATEMENT_KIND_UNSPECIFIED {
			out[stats.KindSlug(k)] = k
		}
	}
	return out
}

// newBooksStatementCmd asks a village or town node, or (with --tls-dir) a
// district member, for a ledger or statement: all three serve
// BooksService.GetStatement, so one command talks to each, connecting to
// a node as every node command does and to a district member as `sanzi
// stats` does (its CA, a token from `sanzi district login`).
func newBooksStatementCmd(g *globals) *cobra.Command {
	return statementCmd(g, "statement", "A ledger or statement of the books, or a town's or the district's sum of its villages'")
}

// newStatementsCmd is `sanzi books statement` under the name scripts and
// the README used for the district's statements.
func newStatementsCmd(g *globals) *cobra.Command {
	return statementCmd(g, "statements", "Same as `sanzi books statement` (the district's statements with --tls-dir)")
}

func statementCmd(g *globals, use, short string) *cobra.Command {
	var (
		req              sanziv1.GetStatementRequest
		kind, out, caDir string
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: `Compute a ledger or statement at the end of --period (YYYY-MM): --kind is
trial-balance (科目余额表), balance-sheet (资产负债表), income (收益及收益分配表,
the year to date), general-ledger (总账), subsidiary-ledger (明细账, with
--account), cash-journal (现金日记账) or bank-journal (银行存款日记账).

At a village node, the village's; at a town node, for a town's org (ending
000), the trial balance, balance sheet and income statement summed over its
villages. With --tls-dir, --server is a district member that runs with
--clickhouse (the token from ` + "`sanzi district login`" + `, --token or
SANZI_TOKEN): the trial balance, balance sheet or income statement of a
village, a town or the district, summed over their villages as the agency
centre sums what each village reports. Amounts are in yuan. --xlsx FILE
also writes the workbook as accountants print it.`,
		Example: `  sanzi books statement --kind balance-sheet --org 350505100201 --period 2025-12
  sanzi books statement --kind income --org 350505100000 --period 2025-12 --xlsx income.xlsx
  sanzi books statement --server 127.0.0.1:7502 --tls-dir ca --kind balance-sheet --org 350505100000 --period 2025-12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ok := statementKinds()[kind]
			if !ok {
				names := slices.Sorted(maps.Keys(statementKinds()))
				return fmt.Errorf("--kind %q: want one of %s", kind, strings.Join(names, ", "))
			}
			req.Kind, req.Xlsx = k, out != ""
			call := g.call
			if caDir != "" {
				p := &personFlags{caDir: caDir, token: g.token, server: g.server}
				call = p.call
			}
			return call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).GetStatement(ctx, &req)
				if err != nil {
					return err
				}
				if out != "" {
					if err := os.WriteFile(out, resp.GetXlsx(), 0o644); err != nil {
						return fmt.Errorf("write %s: %w", out, err)
					}
				}
				if g.json {
					resp.Xlsx = nil
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printStatement(cmd, resp.GetStatement())
				if out != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes; the server names it %s)\n", out, len(resp.GetXlsx()), resp.GetFileName())
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "trial-balance, balance-sheet, income, general-ledger, subsidiary-ledger, cash-journal or bank-journal")
	f.StringVar(&req.Org, "org", "", "12-digit org code: a village, or a town or district to sum its villages (default: your own)")
	f.StringVar(&req.Period, "period", "", "YYYY-MM, required")
	f.StringVar(&req.Account, "account", "", "account code, for the subsidiary ledger")
	f.StringVar(&out, "xlsx", "", "also write the statement as an Excel workbook to this file")
	f.StringVar(&caDir, "tls-dir", "", "ask a district member: the folder with the district's ca.crt")
	return cmd
}

// printStatement prints s as a table, sub-accounts indented under their
// account; a sum says how many villages it sums.
func printStatement(cmd *cobra.Command, s *sanziv1.Statement) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s  %s  %s", s.GetTitle(), s.GetOrg(), s.GetPeriod())
	if s.GetOrgs() != 1 {
		fmt.Fprintf(w, "  (%d villages)", s.GetOrgs())
	}
	fmt.Fprintln(w)
	header := slices.Concat([]string{"CODE", "ITEM"}, s.GetTextColumns(), s.GetAmountColumns())
	var rows [][]string
	for _, r := range s.GetRows() {
		cells := []string{r.GetCode(), strings.Repeat("  ", int(max(r.GetLevel()-1, 0))) + r.GetLabel()}
		cells = append(cells, r.GetTexts()...)
		for i := len(r.GetTexts()); i < len(s.GetTextColumns()); i++ {
			cells = append(cells, "")
		}
		for _, a := range r.GetAmountsFen() {
			cells = append(cells, money.FormatFen(a))
		}
		rows = append(rows, cells)
	}
	table(w, header, rows)
}

func newBooksImportCmd(g *globals) *cobra.Command {
	var req sanziv1.ImportBooksRequest
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import opening balances and a year of vouchers from a sheet, all or nothing",
		Long: `Import FILE (CSV or XLSX, as bookkeeping software exports the books: one
row per voucher line, rows of a voucher grouped by its 凭证字号; opening
balances on rows numbered 期初) into the org's books. Every problem is
printed, one per line with its line, column and reason, and then nothing
is recorded. A voucher whose amounts are all negative is taken as a red-ink
correction (红字凭证). --validate-only checks everything and records nothing.`,
		Example: `  sanzi books import books-2025.csv --org 350505100201 --validate-only`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			content, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			req.Content = content
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).ImportBooks(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
						return err
					}
				} else {
					for _, p := range resp.GetProblems() {
						fmt.Fprintf(cmd.OutOrStdout(), "line %d, column %s: %s\n", p.GetLine(), p.GetColumn(), p.GetReason())
					}
				}
				if n := len(resp.GetProblems()); n > 0 {
					return &exitError{code: 1, msg: fmt.Sprintf("books import: nothing recorded: %d problem(s); fix them and run again", n)}
				}
				if !g.json {
					verb := "imported"
					if req.GetValidateOnly() {
						verb = "checked (nothing recorded)"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s %d vouchers, %d lines\n", verb, resp.GetVouchers(), resp.GetLines())
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Org, "org", "", "12-digit org code (default: your own)")
	cmd.Flags().BoolVar(&req.ValidateOnly, "validate-only", false, "check everything, record nothing")
	return cmd
}
