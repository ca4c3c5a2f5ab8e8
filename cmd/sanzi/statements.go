package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// statementKind reads --kind: a kind's name as in file names
// (balance-sheet), among those the district sums.
func statementKind(s string) (sanziv1.StatementKind, error) {
	kinds := []sanziv1.StatementKind{sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, sanziv1.StatementKind_STATEMENT_KIND_INCOME}
	var names []string
	for _, k := range kinds {
		if stats.KindSlug(k) == s {
			return k, nil
		}
		names = append(names, stats.KindSlug(k))
	}
	return 0, fmt.Errorf("--kind %q: one of %s (ledgers and journals are kept at the village and town nodes)", s, strings.Join(names, ", "))
}

// newStatementsCmd asks a district member for the books' statements of a
// village, a town or the district (issue 19), summed from ClickHouse.
func newStatementsCmd(g *globals) *cobra.Command {
	var (
		p                 personFlags
		kind, org, period string
		xlsx              string
	)
	cmd := &cobra.Command{
		Use:   "statements",
		Short: "The books' trial balance, balance sheet or income statement of a village, a town or the district",
		Long: `Ask a district member that runs with --clickhouse for a statement at the
end of --period: of a village, or of a town (its 12-digit code, ending 000)
or the district summed over their villages as the agency centre sums what
each village reports. --xlsx also saves the workbook as accountants print it.

  sanzi statements --server 127.0.0.1:7502 --tls-dir ca --kind balance-sheet \
    --org 350505100000 --period 2025-12 --xlsx town-2025-12.xlsx`,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := statementKind(kind)
			if err != nil {
				return err
			}
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).GetStatement(ctx, &sanziv1.GetStatementRequest{Kind: k, Org: org, Period: period, Xlsx: xlsx != ""})
				if err != nil {
					return err
				}
				if xlsx != "" {
					if err := os.WriteFile(filepath.Clean(xlsx), resp.GetXlsx(), 0o644); err != nil {
						return err
					}
				}
				if g.json {
					resp.Xlsx = nil
					return printJSON(cmd.OutOrStdout(), resp)
				}
				s := resp.GetStatement()
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s  %s  (%d villages)\n", s.GetTitle(), s.GetOrg(), s.GetPeriod(), s.GetOrgs())
				header := slices.Concat([]string{"CODE", "ITEM"}, s.GetTextColumns(), s.GetAmountColumns())
				var rows [][]string
				for _, r := range s.GetRows() {
					row := slices.Concat([]string{r.GetCode(), strings.Repeat("  ", int(max(r.GetLevel()-1, 0))) + r.GetLabel()}, r.GetTexts())
					for _, a := range r.GetAmountsFen() {
						row = append(row, money.FormatFen(a))
					}
					rows = append(rows, row)
				}
				table(cmd.OutOrStdout(), header, rows)
				if xlsx != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s)\n", xlsx, resp.GetFileName())
				}
				return nil
			})
		},
	}
	p.add(cmd) // --server (a member that runs with --clickhouse), --tls-dir, --token
	cmd.Flags().StringVar(&kind, "kind", "balance-sheet", "trial-balance, balance-sheet or income")
	cmd.Flags().StringVar(&org, "org", "", "a village, a town (ending 000) or the district (default: the signed-in account's org)")
	cmd.Flags().StringVar(&period, "period", "", "the month, YYYY-MM")
	cmd.Flags().StringVar(&xlsx, "xlsx", "", "also save the workbook to this file")
	return cmd
}
