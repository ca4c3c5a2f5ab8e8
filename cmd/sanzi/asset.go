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

func newAssetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "asset", Short: "Register, appraise and dispose of collective assets"}
	cmd.AddCommand(newAssetRegisterCmd(g), newAssetAppraiseCmd(g), newAssetDisposeCmd(g), newAssetListCmd(g), newAssetShowCmd(g))
	return cmd
}

func newAssetRegisterCmd(g *globals) *cobra.Command {
	var (
		a     sanziv1.AssetRegistration
		value string
	)
	cmd := &cobra.Command{
		Use:     "register",
		Short:   "Put an asset on the books with its identity code",
		Example: `  sanzi asset register --org 350505100201 --code ZC-2019-0001 --name 村部办公楼 --category 房屋建筑物 --value 1200000 --acquired 2019-06-30`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if a.OriginalValueFen, err = yuanFlag("value", value); err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAssetServiceClient(conn).RegisterAsset(ctx, &sanziv1.RegisterAssetRequest{Author: g.author, Asset: &a})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.Org, "org", "", "12-digit org code")
	f.StringVar(&a.AssetCode, "code", "", "identity code (资产身份码), unique in the org")
	f.StringVar(&a.Name, "name", "", "what it is")
	f.StringVar(&a.Category, "category", "", "category, e.g. 房屋建筑物")
	f.StringVar(&value, "value", "", "original value in yuan")
	f.StringVar(&a.AcquiredDate, "acquired", "", "acquisition date YYYY-MM-DD")
	f.StringVar(&a.Location, "location", "", "where it is")
	f.StringSliceVar(&a.Attachments, "attach", nil, "SHA-256 of an uploaded attachment")
	return cmd
}

func orgOf(id string) string {
	o, _, _ := strings.Cut(id, "-")
	return o
}

func newAssetAppraiseCmd(g *globals) *cobra.Command {
	var (
		a       sanziv1.AssetAppraisal
		value   string
		preview bool
	)
	cmd := &cobra.Command{
		Use:   "appraise ASSET_ID",
		Short: "Record an appraisal of a registered asset (upload the report first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if a.AppraisedValueFen, err = yuanFlag("value", value); err != nil {
				return err
			}
			a.AssetId, a.Org = args[0], orgOf(args[0])
			if preview {
				return previewVoucher(cmd, g, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_AssetAppraisal{AssetAppraisal: &a}})
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAssetServiceClient(conn).AppraiseAsset(ctx, &sanziv1.AppraiseAssetRequest{Author: g.author, Appraisal: &a})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&value, "value", "", "appraised value in yuan")
	f.StringVar(&a.Appraiser, "appraiser", "", "who appraised it")
	f.StringVar(&a.AppraisalDate, "date", "", "appraisal date YYYY-MM-DD")
	f.StringVar(&a.ReportAttachment, "report", "", "SHA-256 of the uploaded appraisal report")
	f.BoolVar(&preview, "preview", false, "show the voucher the appraisal would book (the change of the book value), recording nothing")
	return cmd
}

func newAssetDisposeCmd(g *globals) *cobra.Command {
	var (
		d                  sanziv1.AssetDisposal
		method, price, pay string
		party              partyFlags
		preview            bool
	)
	cmd := &cobra.Command{
		Use:   "dispose ASSET_ID",
		Short: "Take an asset off the books by sale, scrapping or transfer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := enumFlag("method", method, "DISPOSAL_METHOD_", sanziv1.DisposalMethod_value)
			if err != nil {
				return err
			}
			if d.PriceFen, err = yuanFlag("price", price); err != nil {
				return err
			}
			d.AssetId, d.Org, d.Method, d.Counterparty = args[0], orgOf(args[0]), sanziv1.DisposalMethod(m), party.proto()
			if pay != "" {
				pm, err := enumFlag("payment-method", pay, "PAYMENT_METHOD_", sanziv1.PaymentMethod_value)
				if err != nil {
					return err
				}
				d.PaymentMethod = sanziv1.PaymentMethod(pm)
			}
			if preview {
				return previewVoucher(cmd, g, &sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_AssetDisposal{AssetDisposal: &d}})
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAssetServiceClient(conn).DisposeAsset(ctx, &sanziv1.DisposeAssetRequest{Author: g.author, Disposal: &d})
				if err != nil {
					return err
				}
				return g.printEntry(cmd.OutOrStdout(), resp, resp.GetEntry())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&method, "method", "", "sale, scrap or transfer")
	f.StringVar(&price, "price", "", "price in yuan (required for a sale)")
	party.add(cmd, "buyer or receiver")
	f.StringVar(&d.DisposalDate, "date", "", "disposal date YYYY-MM-DD")
	f.StringVar(&d.Reason, "reason", "", "why")
	f.StringSliceVar(&d.Attachments, "attach", nil, "SHA-256 of an uploaded attachment")
	f.StringVar(&pay, "payment-method", "", "how the price was received (cash books it to 库存现金; default: the bank)")
	f.BoolVar(&preview, "preview", false, "show the voucher the disposal would book, recording nothing")
	return cmd
}

// previewVoucher prints the voucher req's record would book on the chart
// in force (BooksService.PreviewVoucher), recording nothing.
func previewVoucher(cmd *cobra.Command, g *globals, req *sanziv1.PreviewVoucherRequest) error {
	return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
		resp, err := sanziv1.NewBooksServiceClient(conn).PreviewVoucher(ctx, req)
		if err != nil {
			return err
		}
		if g.json {
			return printJSON(cmd.OutOrStdout(), resp)
		}
		printVoucher(cmd.OutOrStdout(), nil, resp.GetVoucher())
		return nil
	})
}

func newAssetListCmd(g *globals) *cobra.Command {
	var req sanziv1.ListAssetsRequest
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered assets",
		Long: `List registered assets, filtered by the node: --query finds text in the
code, name, category or location; --status held, disposed or reversed;
--category one category exactly as registered.`,
		Example: `  sanzi asset list --query 仓库
  sanzi asset list --status disposed`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := enumFlag("status", status, "ASSET_STATUS_", sanziv1.AssetStatus_value)
			if err != nil {
				return err
			}
			req.Status = sanziv1.AssetStatus(s)
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAssetServiceClient(conn).ListAssets(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetAssets() {
					a := r.GetAsset()
					state := "on the books"
					switch {
					case r.GetReversedBy() != "":
						state = "reversed by " + r.GetReversedBy()
					case r.GetDisposalId() != "":
						state = "disposed by " + r.GetDisposalId()
					}
					rows = append(rows, []string{r.GetEntry().GetId(), a.GetAssetCode(), a.GetName(), a.GetCategory(),
						money.FormatFen(a.GetOriginalValueFen()), money.FormatFen(r.GetAppraisedValueFen()), state})
				}
				table(cmd.OutOrStdout(), []string{"ID", "CODE", "NAME", "CATEGORY", "ORIGINAL", "APPRAISED", "STATE"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	cmd.Flags().StringVar(&req.Query, "query", "", "text to find (code, name, category, location)")
	cmd.Flags().StringVar(&status, "status", "", "held, disposed or reversed")
	cmd.Flags().StringVar(&req.Category, "category", "", "only this category, exactly as registered")
	return cmd
}

func newAssetShowCmd(g *globals) *cobra.Command {
	return showCmd(g, "Show one asset with its appraisals and disposal (JSON)", func(ctx context.Context, conn *grpc.ClientConn, id string) (*sanziv1.GetAssetResponse, error) {
		return sanziv1.NewAssetServiceClient(conn).GetAsset(ctx, &sanziv1.GetAssetRequest{Id: id})
	})
}
