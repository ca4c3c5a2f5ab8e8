package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newWorkflowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Procedures of the catalog's matters: list, show, open, approve, reject, return",
		Long: `Recording an expense, income, loan, contract or disposal opens the procedure
of its matter in the catalog (日常报销, 四议两公开, 资产处置, ...). Each step is
decided by a holder of its post, in order: a step cannot be skipped (rule
CHAIN), and a closed procedure is locked. Complaints, monthly disclosures and
bank reconciliations are opened by hand with "workflow open".`,
	}
	cmd.AddCommand(newWorkflowListCmd(g),
		showCmd(g, "Show one procedure with its steps and deadlines (JSON)", func(ctx context.Context, conn *grpc.ClientConn, id string) (*sanziv1.GetProcedureResponse, error) {
			return sanziv1.NewWorkflowServiceClient(conn).GetProcedure(ctx, &sanziv1.GetProcedureRequest{Id: id})
		}),
		newWorkflowOpenCmd(g))
	for _, a := range []struct {
		use, short string
		action     sanziv1.StepAction
	}{
		{"approve", "Approve the open step of a procedure (the next step opens)", sanziv1.StepAction_STEP_ACTION_APPROVE},
		{"reject", "Reject a procedure at its open step (--reason required); it ends", sanziv1.StepAction_STEP_ACTION_REJECT},
		{"return", "Send a procedure back to its previous step (--reason required)", sanziv1.StepAction_STEP_ACTION_RETURN},
	} {
		cmd.AddCommand(newWorkflowDecideCmd(g, a.use, a.short, a.action))
	}
	return cmd
}

func newWorkflowListCmd(g *globals) *cobra.Command {
	var req sanziv1.ListProceduresRequest
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List procedures, oldest first, with their open step and its deadline",
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewWorkflowServiceClient(conn).ListProcedures(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, p := range resp.GetProcedures() {
					step, post, due := "", "", ""
					for _, s := range p.GetSteps() {
						if s.GetCode() == p.GetOpenStep() {
							step, post, due = s.GetCode(), s.GetPost(), s.GetDeadline().AsTime().In(cst).Format("2006-01-02 15:04")
						}
					}
					rows = append(rows, []string{p.GetEntry().GetId(), p.GetProcedure().GetMatterCode(), p.GetStatus(), step, post, due, p.GetProcedure().GetSubjectId(), strings.TrimSpace(p.GetProcedure().GetSummary())})
				}
				table(cmd.OutOrStdout(), []string{"ID", "MATTER", "STATUS", "OPEN STEP", "POST", "DUE", "ABOUT", "SUMMARY"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	cmd.Flags().StringVar(&req.Status, "status", "", "only open, completed or rejected")
	cmd.Flags().StringVar(&req.MatterCode, "matter", "", "only this matter, e.g. FUND-BIG")
	cmd.Flags().StringVar(&req.Post, "post", "", "only procedures waiting on this post, e.g. town.reviewer")
	return cmd
}

func newWorkflowOpenCmd(g *globals) *cobra.Command {
	var p sanziv1.Procedure
	var amount string
	cmd := &cobra.Command{
		Use:   "open --org CODE --matter CODE --summary TEXT",
		Short: "Open a procedure by hand: a complaint (GOV-COMPLAINT), a disclosure or bank reconciliation (--period)",
		RunE: func(cmd *cobra.Command, args []string) error {
			fen, err := yuanFlag("amount", amount)
			if err != nil && amount != "" {
				return err
			}
			p.AmountFen = fen
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewWorkflowServiceClient(conn).OpenProcedure(ctx, &sanziv1.OpenProcedureRequest{Author: g.author, Procedure: &p})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				r := resp.GetProcedure()
				fmt.Fprintf(cmd.OutOrStdout(), "procedure %s opened (%s); first step %s, due %s\n", r.GetEntry().GetId(), r.GetProcedure().GetMatterCode(),
					r.GetOpenStep(), r.GetSteps()[0].GetDeadline().AsTime().In(cst).Format("2006-01-02 15:04"))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&p.Org, "org", "", "12-digit org code")
	cmd.Flags().StringVar(&p.MatterCode, "matter", "", "catalog matter code: GOV-COMPLAINT, GOV-DISCLOSE, FUND-BANKREC, ...")
	cmd.Flags().StringVar(&p.Summary, "summary", "", "what it is about")
	cmd.Flags().StringVar(&p.Period, "period", "", "month covered, YYYY-MM (disclosure, bank reconciliation)")
	cmd.Flags().StringVar(&p.SubjectId, "about", "", "entry id it is about, if any")
	cmd.Flags().StringVar(&amount, "amount", "", "amount at stake in yuan, if any")
	return cmd
}

func newWorkflowDecideCmd(g *globals, use, short string, action sanziv1.StepAction) *cobra.Command {
	var d sanziv1.StepDecision
	cmd := &cobra.Command{
		Use:   use + " PROCEDURE_ID --step CODE --post CODE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.ProcedureId, d.Action, d.Org = args[0], action, orgOf(args[0])
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewWorkflowServiceClient(conn).DecideStep(ctx, &sanziv1.DecideStepRequest{Author: g.author, Decision: &d})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				p := resp.GetProcedure()
				next := "closed"
				if p.GetOpenStep() != "" {
					next = "open step " + p.GetOpenStep()
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s step %s (entry %s); procedure %s, %s\n", use, args[0], d.GetStepCode(), resp.GetEntry().GetId(), p.GetStatus(), next)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&d.StepCode, "step", "", "code of the open step, e.g. review")
	cmd.Flags().StringVar(&d.Post, "post", "", "post you hold, e.g. village.finance_group")
	cmd.Flags().StringVar(&d.Reason, "reason", "", "why (required to reject or return)")
	cmd.Flags().StringSliceVar(&d.Attachments, "attach", nil, "attachment hash of the resolution the step needs")
	return cmd
}

func newCardsCmd(g *globals) *cobra.Command {
	var (
		req   sanziv1.ListCardsRequest
		level string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the warnings and yellow and red cards the step timers gave, oldest first",
		RunE: func(cmd *cobra.Command, args []string) error {
			lv, err := enumFlag("level", level, "CARD_LEVEL_", sanziv1.CardLevel_value)
			if err != nil {
				return err
			}
			req.Level = sanziv1.CardLevel(lv)
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewCardServiceClient(conn).ListCards(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetCards() {
					c := r.GetCard()
					rows = append(rows, []string{r.GetEntry().GetId(), enumShort(c.GetLevel(), "CARD_LEVEL_"), c.GetProcedureId(), c.GetMatterCode(), c.GetStepCode(), c.GetPost(), c.GetPerson(),
						c.GetDeadline().AsTime().In(cst).Format("2006-01-02 15:04")})
				}
				table(cmd.OutOrStdout(), []string{"ID", "LEVEL", "PROCEDURE", "MATTER", "STEP", "POST", "PERSON", "DEADLINE"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(list, &req.Org, &req.PageSize, &req.PageToken)
	list.Flags().StringVar(&level, "level", "", "only warning, yellow or red")
	list.Flags().StringVar(&req.Post, "post", "", "only cards of this post")
	list.Flags().StringVar(&req.ProcedureId, "procedure", "", "only cards of this procedure")
	cmd := &cobra.Command{Use: "cards", Short: "Warnings and cards from the step timers (预警, 黄牌, 红牌)"}
	cmd.AddCommand(list)
	return cmd
}

// cst is China Standard Time, in which deadlines are shown: the district
// calendar's day boundaries are there, whatever zone the terminal is in.
var cst = time.FixedZone("CST", 8*3600)
