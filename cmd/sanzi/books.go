package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The collective's books (issue 19): vouchers and month-end close.

func newVouchersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "vouchers", Short: "Record, reverse, preview and list accounting vouchers (记账凭证)"}
	cmd.AddCommand(newVoucherRecordCmd(g), newVoucherReverseCmd(g), newVoucherListCmd(g), newVoucherPreviewCmd(g))
	return cmd
}

// voucherLines turns --debit and --credit flags, ACCOUNT=YUAN with an
// optional @COUNTERPARTY, into lines: debits first, in the order given.
func voucherLines(debits, credits []string) ([]*sanziv1.VoucherLine, error) {
	var lines []*sanziv1.VoucherLine
	for _, side := range []struct {
		flag string
		vals []string
	}{{"debit", debits}, {"credit", credits}} {
		for _, v := range side.vals {
			acct, rest, ok := strings.Cut(v, "=")
			if !ok || acct == "" {
				return nil, fmt.Errorf("--%s %q: want ACCOUNT=YUAN[@COUNTERPARTY], e.g. 531=1200.00", side.flag, v)
			}
			amount, party, _ := strings.Cut(rest, "@")
			fen, err := yuanFlag(side.flag, amount)
			if err != nil {
				return nil, err
			}
			l := &sanziv1.VoucherLine{Account: acct, Counterparty: party}
			if side.flag == "debit" {
				l.DebitFen = fen
			} else {
				l.CreditFen = fen
			}
			lines = append(lines, l)
		}
	}
	return lines, nil
}

func printVoucher(w io.Writer, e *sanziv1.EntryMeta, v *sanziv1.Voucher) {
	if e != nil {
		fmt.Fprintf(w, "recorded %s (seq %d, hash %s…)\n", e.GetId(), e.GetSeq(), short(e.GetHash()))
	}
	fmt.Fprintf(w, "记字第%d号 %s %s\n", v.GetNumber(), v.GetBusinessDate(), v.GetSummary())
	var rows [][]string
	for _, l := range v.GetLines() {
		d, c := "", ""
		if l.GetDebitFen() != 0 {
			d = money.FormatFen(l.GetDebitFen())
		}
		if l.GetCreditFen() != 0 {
			c = money.FormatFen(l.GetCreditFen())
		}
		rows = append(rows, []string{l.GetAccount(), d, c, l.GetCounterparty()})
	}
	table(w, []string{"ACCOUNT", "DEBIT", "CREDIT", "COUNTERPARTY"}, rows)
}

func newVoucherRecordCmd(g *globals) *cobra.Command {
	var (
		v               sanziv1.Voucher
		debits, credits []string
		validateOnly    bool
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record a voucher entered by hand (or the opening balances)",
		Long: `Record a voucher on the chart of accounts in force. Each --debit and
--credit is ACCOUNT=YUAN, with @COUNTERPARTY for an account that keeps
counterparties (112, 201, 211, 231...). The node numbers it in its month
(记字第n号), refuses it when debits and credits differ (naming the
difference) or its month is closed. --opening records the opening balances:
one per org, dated before every other voucher. --validate-only shows the
voucher as it would be recorded, number included, and records nothing.`,
		Example: `  sanzi vouchers record --org 350505100201 --date 2026-03-05 --summary 购办公用品 \
    --debit 531=1200 --credit 101=1200
  sanzi vouchers record --org 350505100201 --date 2026-01-01 --summary 期初余额 --opening \
    --debit 101=5000 --debit 102=300000 --credit 301=305000`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lines, err := voucherLines(debits, credits)
			if err != nil {
				return err
			}
			v.Lines = lines
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).RecordVoucher(ctx, &sanziv1.RecordVoucherRequest{Voucher: &v, ValidateOnly: validateOnly})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printVoucher(cmd.OutOrStdout(), resp.GetEntry(), resp.GetVoucher())
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&v.Org, "org", "", "12-digit org code (default: your own)")
	f.StringVar(&v.BusinessDate, "date", time.Now().Format(time.DateOnly), "business date YYYY-MM-DD")
	f.StringVar(&v.Summary, "summary", "", "摘要, required")
	f.StringArrayVar(&debits, "debit", nil, "debit line ACCOUNT=YUAN[@COUNTERPARTY]; repeat for several")
	f.StringArrayVar(&credits, "credit", nil, "credit line ACCOUNT=YUAN[@COUNTERPARTY]; repeat for several")
	f.StringVar(&v.SourceEntryId, "source", "", "entry id of the transaction or contract payment this voucher books")
	f.BoolVar(&v.Opening, "opening", false, "the opening balances (期初余额)")
	f.StringSliceVar(&v.Attachments, "attach", nil, "SHA-256 of an uploaded attachment")
	f.BoolVar(&validateOnly, "validate-only", false, "check and show, record nothing")
	return cmd
}

func newVoucherReverseCmd(g *globals) *cobra.Command {
	var req sanziv1.ReverseVoucherRequest
	cmd := &cobra.Command{
		Use:   "reverse VOUCHER_ID",
		Short: "Reverse a voucher in red ink (红字冲销)",
		Long: `Record the red-ink voucher that reverses VOUCHER_ID: the same accounts with
every amount negated, dated in an open month (a voucher of a closed month is
reversed in a later, open one). A voucher is reversed at most once.`,
		Example: `  sanzi vouchers reverse 350505100201-42 --date 2026-04-02 --reason 重复记账`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Id = args[0]
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).ReverseVoucher(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printVoucher(cmd.OutOrStdout(), resp.GetEntry(), resp.GetVoucher())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.BusinessDate, "date", "", "date of the reversal YYYY-MM-DD (default today)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, required")
	return cmd
}

func newVoucherListCmd(g *globals) *cobra.Command {
	var req sanziv1.ListVouchersRequest
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List an org's vouchers, of one month or all",
		Example: `  sanzi vouchers list --org 350505100201 --month 2026-03`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).ListVouchers(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetVouchers() {
					v := r.GetVoucher()
					var debit int64
					var accts []string
					for _, l := range v.GetLines() {
						debit += l.GetDebitFen()
						accts = append(accts, l.GetAccount())
					}
					note := v.GetSourceEntryId()
					switch {
					case r.GetReversedBy() != "":
						note = "reversed by " + r.GetReversedBy()
					case v.GetReversesVoucherId() != "":
						note = "reverses " + v.GetReversesVoucherId()
					case v.GetOpening():
						note = "opening"
					}
					rows = append(rows, []string{r.GetEntry().GetId(), fmt.Sprintf("%s #%d", v.GetBusinessDate()[:7], v.GetNumber()), v.GetBusinessDate(),
						v.GetSummary(), strings.Join(accts, ","), money.FormatFen(debit), note})
				}
				table(cmd.OutOrStdout(), []string{"ID", "NUMBER", "DATE", "SUMMARY", "ACCOUNTS", "AMOUNT", "NOTE"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	cmd.Flags().StringVar(&req.Month, "month", "", "only this month YYYY-MM")
	return cmd
}

func newVoucherPreviewCmd(g *globals) *cobra.Command {
	var x txFlags
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Show the voucher a transaction would book, recording nothing",
		Long: `Show the voucher the chart's mappings give a transaction (kind, method and
category), as "sanzi tx record" would book it. A transaction the chart maps
to nothing is refused here; recorded, it would carry no voucher and one is
entered by hand naming it (sanzi vouchers record --source).`,
		Example: `  sanzi vouchers preview --org 350505100201 --kind expense --method cash --amount 1200 --category 管理费用 --summary 办公用品`,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := x.parse()
			if err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).PreviewVoucher(ctx, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_Transaction{Transaction: t}})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printVoucher(cmd.OutOrStdout(), nil, resp.GetVoucher())
				return nil
			})
		},
	}
	x.add(cmd, "the account (code or name) the amount is booked to")
	return cmd
}

func newBooksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "books", Short: "Close and reopen months of the books (结账), see where each month stands, statements, import"}
	cmd.AddCommand(newBooksCloseCmd(g), newBooksReopenCmd(g), newBooksMonthsCmd(g), newBooksStatementCmd(g), newBooksImportCmd(g))
	return cmd
}

func newBooksCloseCmd(g *globals) *cobra.Command {
	var req sanziv1.CloseMonthRequest
	var bank, cash string
	cmd := &cobra.Command{
		Use:   "close MONTH",
		Short: "Close a month of the books once every check passes",
		Long: `Close MONTH (YYYY-MM) with the figures you checked at its end: the bank
statement's balance (--bank-statement) and the cash you counted
(--cash-counted), both in yuan and both required. Refused, with every
reason, while a voucher does not balance, an earlier month with vouchers is
open, a transaction or contract payment of the month has no voucher, a
procedure about one of them is overdue at a step, cash (101) ends the month
negative or differs from the cash counted, 银行存款 (102) differs from the
statement without the month's bank reconciliation (FUND-BANKREC) having its
余额调节表 step approved, or the month is not over. A closed month takes no
voucher until the town approves reopening it.`,
		Example: `  sanzi books close 2026-03 --org 350505100201 --bank-statement 12345.67 --cash-counted 800`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Month = args[0]
			for _, f := range []struct {
				name, what, val string
				dst             **int64
			}{{"bank-statement", "the bank statement's balance", bank, &req.BankStatementFen}, {"cash-counted", "the cash counted", cash, &req.CashCountedFen}} {
				if strings.TrimSpace(f.val) == "" {
					return fmt.Errorf("--%s: required: %s at the end of %s, in yuan", f.name, f.what, req.Month)
				}
				fen, err := yuanFlag(f.name, f.val)
				if err != nil {
					return err
				}
				*f.dst = &fen
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).CloseMonth(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				c := resp.GetClose()
				fmt.Fprintf(cmd.OutOrStdout(), "closed %s of %s as %s: %d vouchers, debits %s, cash %s (counted %s), bank %s (statement %s)\n", c.GetMonth(), c.GetOrg(),
					resp.GetEntry().GetId(), c.GetVouchers(), money.FormatFen(c.GetDebitFen()), money.FormatFen(c.GetCashFen()), money.FormatFen(c.GetCashCountedFen()),
					money.FormatFen(c.GetBankFen()), money.FormatFen(c.GetBankStatementFen()))
				if id := c.GetBankReconciliationId(); id != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "bank reconciliation: %s\n", id)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Org, "org", "", "12-digit org code (default: your own)")
	cmd.Flags().StringVar(&bank, "bank-statement", "", "the bank statement's balance at the month's end, in yuan (required)")
	cmd.Flags().StringVar(&cash, "cash-counted", "", "the cash counted at the month's end (现金盘点), in yuan (required)")
	return cmd
}

func newBooksReopenCmd(g *globals) *cobra.Command {
	var req sanziv1.ReopenMonthRequest
	cmd := &cobra.Command{
		Use:   "reopen MONTH",
		Short: "Reopen a closed month with the town's approval",
		Long: `Reopen MONTH (YYYY-MM): --procedure names a BOOKS-REOPEN procedure of the
org for that month (opened with "sanzi workflow open --matter BOOKS-REOPEN
--period MONTH") whose town step was approved. The reopening is an entry in
the trail; the month then takes vouchers and is closed again.`,
		Example: `  sanzi books reopen 2026-03 --org 350505100201 --procedure 350505100201-77 --reason 补记漏记凭证`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Month = args[0]
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).ReopenMonth(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "reopened %s of %s as %s (procedure %s)\n", req.GetMonth(), resp.GetReopen().GetOrg(), resp.GetEntry().GetId(), req.GetProcedureId())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Org, "org", "", "12-digit org code (default: your own)")
	cmd.Flags().StringVar(&req.ProcedureId, "procedure", "", "the BOOKS-REOPEN procedure the town approved")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, required")
	return cmd
}

func newBooksMonthsCmd(g *globals) *cobra.Command {
	var req sanziv1.ListMonthsRequest
	cmd := &cobra.Command{
		Use:     "months",
		Short:   "Where each month of a year stands: closed, or what blocks closing it",
		Example: `  sanzi books months --org 350505100201 --year 2026`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewBooksServiceClient(conn).ListMonths(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, m := range resp.GetMonths() {
					state := "open"
					if m.GetClosed() {
						state = "closed by " + m.GetCloseId()
					}
					rows = append(rows, []string{m.GetMonth(), state, fmt.Sprint(m.GetVouchers()), strings.Join(m.GetBlockers(), "; ")})
				}
				table(cmd.OutOrStdout(), []string{"MONTH", "STATE", "VOUCHERS", "BLOCKERS"}, rows)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Org, "org", "", "12-digit org code (default: your own)")
	cmd.Flags().StringVar(&req.Year, "year", "", "YYYY (default this year)")
	return cmd
}
