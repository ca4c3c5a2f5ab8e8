package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// statementKinds are the --kind values of `sanzi books statement`: the
// StatementKind names without their prefix, in lower case with dashes.
func statementKinds() map[string]sanziv1.StatementKind {
	out := map[string]sanziv1.StatementKind{}
	for n, v := range sanziv1.StatementKind_value {
		if v == 0 {
			continue
		}
		out[strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "STATEMENT_KIND_")), "_", "-")] = sanziv1.StatementKind(v)
	}
	return out
}

func newBooksStatementCmd(g *globals) *cobra.Command {
	var (
		req       sanziv1.GetStatementRequest
		kind, out string
	)
	cmd := &cobra.Command{
		Use:   "statement",
		Short: "A ledger or statement of the books, or a town's sum of its villages'",
		Long: `Compute a ledger or statement at the end of --period (YYYY-MM) on the node:
--kind is trial-balance (科目余额表), balance-sheet (资产负债表), income
(收益及收益分配表, the year to date), general-ledger (总账), subsidiary-ledger
(明细账, with --account), cash-journal (现金日记账) or bank-journal
(银行存款日记账). For a town's org (ending 000) at the town node, the trial
balance, balance sheet and income statement are the sums of its villages'.
Amounts are in yuan. --xlsx FILE also writes the workbook as accountants
print it.`,
		Example: `  sanzi books statement --kind balance-sheet --org 350505100201 --period 2025-12
  sanzi books statement --kind income --org 350505100000 --period 2025-12 --xlsx income.xlsx`,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ok := statementKinds()[kind]
			if !ok {
				var names []string
				for n := range statementKinds() {
					names = append(names, n)
				}
				slices.Sort(names)
				return fmt.Errorf("--kind %q: want one of %s", kind, strings.Join(names, ", "))
			}
			req.Kind, req.Xlsx = k, out != ""
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
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
					return printJSON(cmd.OutOrStdout(), resp.GetStatement())
				}
				printStatement(cmd, resp.GetStatement())
				if out != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes; the node names it %s)\n", out, len(resp.GetXlsx()), resp.GetFileName())
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "trial-balance, balance-sheet, income, general-ledger, subsidiary-ledger, cash-journal or bank-journal")
	f.StringVar(&req.Org, "org", "", "12-digit org code: a village, or a town to sum its villages (default: your own)")
	f.StringVar(&req.Period, "period", "", "YYYY-MM, required")
	f.StringVar(&req.Account, "account", "", "account code, for the subsidiary ledger")
	f.StringVar(&out, "xlsx", "", "also write the statement as an Excel workbook to this file")
	return cmd
}

func printStatement(cmd *cobra.Command, s *sanziv1.Statement) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s %s %s", s.GetTitle(), s.GetOrg(), s.GetPeriod())
	if s.GetOrgs() > 1 {
		fmt.Fprintf(w, " (%d villages)", s.GetOrgs())
	}
	fmt.Fprintln(w)
	header := append([]string{"CODE", "ITEM"}, s.GetTextColumns()...)
	header = append(header, s.GetAmountColumns()...)
	var rows [][]string
	for _, r := range s.GetRows() {
		cells := []string{r.GetCode(), strings.Repeat("  ", int(r.GetLevel())) + r.GetLabel()}
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
