package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/sheet"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newImportCmd(g *globals) *cobra.Command {
	var csvPath, xlsxPath, org string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import (--csv FILE | --xlsx FILE)",
		Short: "Import fund transactions from the sheets villages already keep: all rows or none",
		Long: `Read a sheet of transactions (CSV or the first worksheet of an XLSX) and
record it on the node. Policy: all or nothing per file. Every row is checked
first; if any row is refused, nothing is recorded and every refused row is
listed with its line, column and reason. Fix the sheet and run again.

Headers may be in Chinese or English: 日期/date, 类型/kind (收入, 支出, 转账,
借出, 借入), 金额/amount (yuan), or separate 收入 and 支出 amount columns,
支付方式/method (现金, 银行转账, 村务卡, 其他), 对方单位/counterparty,
证件号/id_number, 银行账号/bank_account, 摘要/summary, 凭证号/voucher,
发票代码/invoice_code, 发票号码/invoice_number, 预算科目/budget_line,
科目/category. The org comes from --org when the sheet has no org column.`,
		Example: `  sanzi import --xlsx 2026年现金日记账.xlsx --org 350505100201
  sanzi import --csv ledger.csv --org 350505100201 --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := csvPath
			read := sheet.ReadCSV
			switch {
			case csvPath != "" && xlsxPath != "":
				return fmt.Errorf("give --csv or --xlsx, not both")
			case xlsxPath != "":
				path, read = xlsxPath, sheet.ReadXLSX
			case csvPath == "":
				return fmt.Errorf("give the sheet to import with --csv FILE or --xlsx FILE")
			}
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("open %s: %w", path, err)
			}
			defer f.Close()
			out := cmd.ErrOrStderr()
			fmt.Fprintf(out, "reading %s ...\n", filepath.Base(path))
			rows, problems, err := read(f, sheet.Options{Org: org})
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			fmt.Fprintf(out, "read %d rows, %d cells unreadable\n", len(rows)+countLines(problems), len(problems))
			if len(problems) > 0 {
				for _, p := range problems {
					fmt.Fprintf(cmd.OutOrStdout(), "line %d, column %s: %s\n", p.Line, p.Column, p.Reason)
				}
				return &exitError{code: 1, msg: fmt.Sprintf("import: nothing recorded: %d cells could not be read; fix them and run again", len(problems))}
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				stream, err := sanziv1.NewTransactionServiceClient(conn).ImportTransactions(ctx)
				if err != nil {
					return err
				}
				step := max(len(rows)/10, 1)
				for i, r := range rows {
					if err := stream.Send(&sanziv1.ImportTransactionsRequest{Author: g.author, Row: int32(r.Line), Transaction: r.Transaction, DryRun: dryRun}); err != nil {
						return err
					}
					if (i+1)%step == 0 || i+1 == len(rows) {
						fmt.Fprintf(out, "sent %d/%d rows\n", i+1, len(rows))
					}
				}
				fmt.Fprintln(out, "waiting for the node to check and record them ...")
				resp, err := stream.CloseAndRecv()
				if err != nil {
					return err
				}
				if g.json {
					if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
						return err
					}
				}
				if n := len(resp.GetRejections()); n > 0 {
					total := max(int(resp.GetRejectedTotal()), n) // a node before rejected_total lists them all
					if !g.json {
						var trs [][]string
						for _, r := range resp.GetRejections() {
							trs = append(trs, []string{fmt.Sprint(r.GetRow()), r.GetField(), r.GetReason()})
						}
						table(cmd.OutOrStdout(), []string{"LINE", "FIELD", "REASON"}, trs)
						if total > n {
							fmt.Fprintf(cmd.OutOrStdout(), "... and %d more problem(s) not listed: the node lists the first %d\n", total-n, n)
						}
					}
					return &exitError{code: 1, msg: fmt.Sprintf("import: nothing recorded: %d problem(s) in %d rows; fix them and run again", total, resp.GetRowsReceived())}
				}
				if !g.json {
					if dryRun {
						fmt.Fprintf(cmd.OutOrStdout(), "dry run: all %d rows would be recorded\n", resp.GetRowsReceived())
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "recorded %d rows: %s .. %s\n", resp.GetRowsRecorded(), resp.GetFirstId(), resp.GetLastId())
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&csvPath, "csv", "", "CSV file (UTF-8, as Excel saves it)")
	cmd.Flags().StringVar(&xlsxPath, "xlsx", "", "XLSX workbook; the first worksheet is read")
	cmd.Flags().StringVar(&org, "org", "", "org code for rows that name none")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every row, record nothing")
	return cmd
}

// countLines counts the distinct lines that have problems.
func countLines(ps []sheet.Problem) int {
	seen := map[int]bool{}
	for _, p := range ps {
		seen[p.Line] = true
	}
	return len(seen)
}
