package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newContractCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "contract", Short: "Record leases and contracting-out of land, resources and assets, and their payments"}
	cmd.AddCommand(newContractRecordCmd(g), newContractPayCmd(g), newContractListCmd(g), newContractShowCmd(g))
	return cmd
}

func newContractRecordCmd(g *globals) *cobra.Command {
	var (
		c                          sanziv1.Contract
		obj                        sanziv1.ContractObject
		kind, objKind, award, annl string
		schedule                   []string
		party                      partyFlags
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record a signed lease or contracting-out",
		Example: `  sanzi contract record --org 350505100201 --kind contracting_out --number HT-2026-007 \
    --counterparty 林某某 --id-number 11010519491231002X --object-kind land --object-id DK-0731 \
    --area-mu 35.5 --start 2026-01-01 --end 2035-12-31 --annual 17750 --award tender \
    --signed 2025-12-20 --schedule 2026-03-31=17750`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			var v int32
			if v, err = enumFlag("kind", kind, "CONTRACT_KIND_", sanziv1.ContractKind_value); err != nil {
				return err
			}
			c.Kind = sanziv1.ContractKind(v)
			if v, err = enumFlag("object-kind", objKind, "OBJECT_KIND_", sanziv1.ObjectKind_value); err != nil {
				return err
			}
			obj.Kind = sanziv1.ObjectKind(v)
			if v, err = enumFlag("award", award, "AWARD_METHOD_", sanziv1.AwardMethod_value); err != nil {
				return err
			}
			c.AwardMethod = sanziv1.AwardMethod(v)
			if c.AnnualAmountFen, err = yuanFlag("annual", annl); err != nil {
				return err
			}
			for _, s := range schedule {
				date, amt, ok := strings.Cut(s, "=")
				if !ok {
					return fmt.Errorf("--schedule %q: want DATE=YUAN, e.g. 2026-03-31=17750", s)
				}
				fen, err := yuanFlag("schedule", amt)
				if err != nil {
					return err
				}
				c.Schedule = append(c.Schedule, &sanziv1.ScheduledPayment{DueDate: date, AmountFen: fen})
			}
			c.Object, c.Counterparty = &obj, party.proto()
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewContractServiceClient(conn).RecordContract(ctx, &sanziv1.RecordContractRequest{Author: g.author, Contract: &c})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Org, "org", "", "12-digit org code of the collective")
	f.StringVar(&kind, "kind", "", "lease or contracting_out")
	f.StringVar(&c.ContractNumber, "number", "", "the contract's own number")
	party.add(cmd, "lessee or contractor")
	f.StringVar(&objKind, "object-kind", "", "land, resource or asset")
	f.StringVar(&obj.ObjectId, "object-id", "", "parcel number or asset identity code")
	f.Float64Var(&obj.AreaMu, "area-mu", 0, "area in mu (required for land)")
	f.StringVar(&obj.Location, "location", "", "where the object is")
	f.StringVar(&c.TermStart, "start", "", "term start YYYY-MM-DD")
	f.StringVar(&c.TermEnd, "end", "", "term end YYYY-MM-DD")
	f.StringVar(&annl, "annual", "", "annual amount in yuan")
	f.StringSliceVar(&schedule, "schedule", nil, "a due payment DATE=YUAN; repeat for several")
	f.StringVar(&award, "award", "", "tender, auction or negotiated")
	f.StringVar(&c.SignedDate, "signed", "", "signing date YYYY-MM-DD")
	f.StringSliceVar(&c.Attachments, "attach", nil, "SHA-256 of an uploaded attachment; repeat for several")
	f.StringVar(&c.Summary, "summary", "", "notes")
	return cmd
}

func newContractPayCmd(g *globals) *cobra.Command {
	var (
		p              sanziv1.ContractPayment
		method, amount string
	)
	cmd := &cobra.Command{
		Use:   "pay CONTRACT_ID",
		Short: "Record a payment received under a contract",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := enumFlag("method", method, "PAYMENT_METHOD_", sanziv1.PaymentMethod_value)
			if err != nil {
				return err
			}
			if p.AmountFen, err = yuanFlag("amount", amount); err != nil {
				return err
			}
			p.ContractId, p.PaymentMethod = args[0], sanziv1.PaymentMethod(m)
			if p.Org == "" {
				p.Org, _, _ = strings.Cut(args[0], "-")
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewContractServiceClient(conn).RecordContractPayment(ctx, &sanziv1.RecordContractPaymentRequest{Author: g.author, Payment: &p})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Org, "org", "", "org code (default: the contract's)")
	f.StringVar(&amount, "amount", "", "amount in yuan")
	f.StringVar(&method, "method", "", "cash, bank_transfer, village_card or other")
	f.StringVar(&p.BusinessDate, "date", "", "business date YYYY-MM-DD")
	f.StringVar(&p.Period, "period", "", "billing period paid, e.g. 2026")
	f.StringVar(&p.VoucherNumber, "voucher", "", "voucher number")
	f.StringSliceVar(&p.Attachments, "attach", nil, "SHA-256 of an uploaded attachment")
	return cmd
}

func newContractListCmd(g *globals) *cobra.Command {
	var req sanziv1.ListContractsRequest
	var status, kind string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List contracts with what has been paid on each and the arrears",
		Long: `List contracts, filtered by the node: --query finds text in the number,
the counterparty's name, the object or its location, or the summary;
--status by where the contract stands today; --arrears only those with
more due than paid.`,
		Example: `  sanzi contract list --query 林 --status active
  sanzi contract list --arrears`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := enumFlag("status", status, "CONTRACT_STATUS_", sanziv1.ContractStatus_value)
			if err != nil {
				return err
			}
			k, err := enumFlag("kind", kind, "CONTRACT_KIND_", sanziv1.ContractKind_value)
			if err != nil {
				return err
			}
			req.Status, req.Kind = sanziv1.ContractStatus(s), sanziv1.ContractKind(k)
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewContractServiceClient(conn).ListContracts(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetContracts() {
					c := r.GetContract()
					rows = append(rows, []string{r.GetEntry().GetId(), c.GetContractNumber(), enumShort(c.GetKind(), "CONTRACT_KIND_"),
						c.GetCounterparty().GetName(), c.GetObject().GetObjectId(), c.GetTermStart() + ".." + c.GetTermEnd(),
						money.FormatFen(c.GetAnnualAmountFen()), money.FormatFen(r.GetPaidFen()), money.FormatFen(r.GetArrearsFen()),
						enumShort(r.GetStatus(), "CONTRACT_STATUS_"), r.GetReversedBy()})
				}
				table(cmd.OutOrStdout(), []string{"ID", "NUMBER", "KIND", "COUNTERPARTY", "OBJECT", "TERM", "ANNUAL", "PAID", "ARREARS", "STATUS", "REVERSED BY"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	cmd.Flags().StringVar(&req.Query, "query", "", "text to find (number, counterparty, object, location, summary)")
	cmd.Flags().StringVar(&status, "status", "", "pending, active, ended or reversed")
	cmd.Flags().StringVar(&kind, "kind", "", "lease or contracting_out")
	cmd.Flags().BoolVar(&req.ArrearsOnly, "arrears", false, "only contracts with more due than paid")
	return cmd
}

func newContractShowCmd(g *globals) *cobra.Command {
	return showCmd(g, "Show one contract with its payments (JSON: it is nested)", func(ctx context.Context, conn *grpc.ClientConn, id string) (*sanziv1.GetContractResponse, error) {
		return sanziv1.NewContractServiceClient(conn).GetContract(ctx, &sanziv1.GetContractRequest{Id: id})
	})
}
