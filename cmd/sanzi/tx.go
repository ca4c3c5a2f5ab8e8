package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newTxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Record and read fund transactions (income, expense, transfer, loans)"}
	cmd.AddCommand(newTxRecordCmd(g), newTxListCmd(g), newTxShowCmd(g))
	return cmd
}

// txFlags are the flags of a transaction that `tx record` records and
// `vouchers preview` books: the amount, kind and method as typed, read
// into t by parse.
type txFlags struct {
	t                    sanziv1.Transaction
	kind, method, amount string
	party                partyFlags
}

// add registers the flags; category is what --category says it is.
func (x *txFlags) add(cmd *cobra.Command, category string) {
	f := cmd.Flags()
	f.StringVar(&x.t.Org, "org", "", "12-digit org code of the collective")
	f.StringVar(&x.kind, "kind", "", "income, expense, transfer, loan_out or loan_in")
	f.StringVar(&x.amount, "amount", "", "amount in yuan, e.g. 1280.50")
	f.StringVar(&x.method, "method", "", "cash, bank_transfer, village_card or other")
	x.party.add(cmd, "counterparty")
	f.StringVar(&x.t.BusinessDate, "date", time.Now().Format(time.DateOnly), "business date YYYY-MM-DD")
	f.StringVar(&x.t.Summary, "summary", "", "what it was for (摘要)")
	f.StringVar(&x.t.Category, "category", "", category)
}

// parse reads kind, method, amount and counterparty into the transaction.
func (x *txFlags) parse() (*sanziv1.Transaction, error) {
	k, err := enumFlag("kind", x.kind, "TRANSACTION_KIND_", sanziv1.TransactionKind_value)
	if err != nil {
		return nil, err
	}
	m, err := enumFlag("method", x.method, "PAYMENT_METHOD_", sanziv1.PaymentMethod_value)
	if err != nil {
		return nil, err
	}
	if x.t.AmountFen, err = yuanFlag("amount", x.amount); err != nil {
		return nil, err
	}
	x.t.Kind, x.t.PaymentMethod, x.t.Counterparty = sanziv1.TransactionKind(k), sanziv1.PaymentMethod(m), x.party.proto()
	return &x.t, nil
}

func newTxRecordCmd(g *globals) *cobra.Command {
	var x txFlags
	t := &x.t
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record one transaction; returns once it is durable",
		Long: `Record one transaction on the node. The node checks every field and refuses
the whole transaction, naming each bad field, when anything is wrong.
Attachments (receipts, invoices) are uploaded first with "sanzi attach FILE",
then named here by their SHA-256; from then on they are locked.`,
		Example: `  sanzi tx record --org 350505100201 --kind expense --amount 1280.50 \
    --method bank_transfer --counterparty "福州市某建材有限公司" \
    --id-number 91350100M000100Y43 --date 2026-11-20 --summary "修缮村部屋顶材料费" \
    --voucher 记-2026-11-031`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := x.parse(); err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewTransactionServiceClient(conn).RecordTransaction(ctx, &sanziv1.RecordTransactionRequest{Author: g.author, Transaction: t})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	x.add(cmd, "accounting category (科目)")
	f := cmd.Flags()
	f.StringVar(&t.VoucherNumber, "voucher", "", "voucher number (凭证号)")
	f.StringVar(&t.InvoiceCode, "invoice-code", "", "invoice code (发票代码)")
	f.StringVar(&t.InvoiceNumber, "invoice-number", "", "invoice number (发票号码)")
	f.StringVar(&t.BudgetLine, "budget-line", "", "budget line (预算科目)")
	f.StringSliceVar(&t.Attachments, "attach", nil, "SHA-256 of an uploaded attachment; repeat for several")
	f.StringVar(&t.ResolutionProcedureId, "resolution", "", "id of the approved four-deliberations procedure (四议两公开) of a big expense (rule BIG-SPEND)")
	return cmd
}

func newTxListCmd(g *globals) *cobra.Command {
	var (
		req              sanziv1.ListTransactionsRequest
		kind, method     string
		minYuan, maxYuan string
		all              bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List transactions, oldest first, searched and filtered by the node",
		Long: `List transactions, filtered by the node; every filter given must hold and
the count printed is of all that match. --query finds text (case-folded)
in the counterparty's name, the summary, the category, the budget line or
the voucher number (not in ID numbers or bank accounts); --from and --to
bound the business date, both days included; --min and --max the amount
in yuan, both included.`,
		Example: `  sanzi tx list --query 建材 --from 2026-01-01 --to 2026-03-31
  sanzi tx list --kind expense --min 10000 --method cash --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := enumFlag("kind", kind, "TRANSACTION_KIND_", sanziv1.TransactionKind_value)
			if err != nil {
				return err
			}
			m, err := enumFlag("method", method, "PAYMENT_METHOD_", sanziv1.PaymentMethod_value)
			if err != nil {
				return err
			}
			if req.MinAmountFen, err = yuanFlag("min", minYuan); err != nil {
				return err
			}
			if req.MaxAmountFen, err = yuanFlag("max", maxYuan); err != nil {
				return err
			}
			req.Kind, req.PaymentMethod = sanziv1.TransactionKind(k), sanziv1.PaymentMethod(m)
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				c := sanziv1.NewTransactionServiceClient(conn)
				out := &sanziv1.ListTransactionsResponse{}
				for {
					resp, err := c.ListTransactions(ctx, &req)
					if err != nil {
						return err
					}
					out.Transactions = append(out.Transactions, resp.GetTransactions()...)
					out.TotalSize = resp.GetTotalSize()
					if !all || resp.GetNextPageToken() == "" {
						out.NextPageToken = resp.GetNextPageToken()
						break
					}
					req.PageToken = resp.GetNextPageToken()
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), out)
				}
				var rows [][]string
				for _, r := range out.GetTransactions() {
					t := r.GetTransaction()
					note := ""
					if r.GetReversedBy() != "" {
						note = "reversed by " + r.GetReversedBy()
					}
					rows = append(rows, []string{r.GetEntry().GetId(), t.GetBusinessDate(), enumShort(t.GetKind(), "TRANSACTION_KIND_"),
						money.FormatFen(t.GetAmountFen()), enumShort(t.GetPaymentMethod(), "PAYMENT_METHOD_"), t.GetCounterparty().GetName(), t.GetSummary(), note})
				}
				table(cmd.OutOrStdout(), []string{"ID", "DATE", "KIND", "YUAN", "METHOD", "COUNTERPARTY", "SUMMARY", ""}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), out.GetTotalSize())
				if out.GetNextPageToken() != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "more: --page-token %s (or --all)\n", out.GetNextPageToken())
				}
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "only this kind: income, expense, transfer, loan_out or loan_in")
	f.StringVarP(&req.Query, "query", "q", "", "text to find (counterparty, summary, category, budget line, voucher), at most 64 characters")
	f.StringVar(&req.FromDate, "from", "", "only business dates on or after this day, YYYY-MM-DD")
	f.StringVar(&req.ToDate, "to", "", "only business dates on or before this day, YYYY-MM-DD")
	f.StringVar(&minYuan, "min", "", "only amounts of at least this many yuan, e.g. 500 or 1280.50")
	f.StringVar(&maxYuan, "max", "", "only amounts of at most this many yuan")
	f.StringVar(&method, "method", "", "only this payment method: cash, bank_transfer, village_card or other")
	f.BoolVar(&all, "all", false, "fetch every page")
	return cmd
}

func newTxShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one transaction by entry id (<org>-<seq>)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewTransactionServiceClient(conn).GetTransaction(ctx, &sanziv1.GetTransactionRequest{Id: args[0]})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				r := resp.GetTransaction()
				t := r.GetTransaction()
				e := r.GetEntry()
				table(cmd.OutOrStdout(), []string{"FIELD", "VALUE"}, [][]string{
					{"id", e.GetId()}, {"hash", e.GetHash()}, {"recorded", e.GetRecordedAt().AsTime().Format(time.RFC3339)}, {"author", e.GetAuthor()},
					{"org", t.GetOrg()}, {"kind", enumShort(t.GetKind(), "TRANSACTION_KIND_")}, {"amount (yuan)", money.FormatFen(t.GetAmountFen())},
					{"method", enumShort(t.GetPaymentMethod(), "PAYMENT_METHOD_")}, {"counterparty", t.GetCounterparty().GetName()},
					{"id number", t.GetCounterparty().GetIdNumber()}, {"bank account", t.GetCounterparty().GetBankAccount()},
					{"date", t.GetBusinessDate()}, {"summary", t.GetSummary()}, {"voucher", t.GetVoucherNumber()},
					{"invoice", t.GetInvoiceCode() + " " + t.GetInvoiceNumber()}, {"budget line", t.GetBudgetLine()}, {"category", t.GetCategory()},
					{"attachments", fmt.Sprint(t.GetAttachments())}, {"reversed by", r.GetReversedBy()},
				})
				return nil
			})
		},
	}
}
