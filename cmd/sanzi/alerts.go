package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newAlertsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Review the alerts rules raised: list, show, ack, confirm, dismiss, resolve",
		Long: `Alerts are raised by the rules as entries are recorded and reviewed step by
step: open → acknowledged → confirmed or dismissed (with a reason);
confirmed → resolved (with what was done). Every step is an entry in the chain.`,
	}
	cmd.AddCommand(newAlertsListCmd(g), showCmd(g, "Show one alert with its history (JSON)", func(ctx context.Context, conn *grpc.ClientConn, id string) (*sanziv1.GetAlertResponse, error) {
		return sanziv1.NewAlertServiceClient(conn).GetAlert(ctx, &sanziv1.GetAlertRequest{Id: id})
	}))
	for _, step := range []struct {
		use, short string
		status     sanziv1.AlertStatus
	}{
		{"ack", "Acknowledge an open alert: someone is looking at it", sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED},
		{"confirm", "Confirm an acknowledged alert: it is a real problem", sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED},
		{"dismiss", "Dismiss an acknowledged alert as a false alarm (--reason required)", sanziv1.AlertStatus_ALERT_STATUS_DISMISSED},
		{"resolve", "Resolve a confirmed alert (--reason: what was done)", sanziv1.AlertStatus_ALERT_STATUS_RESOLVED},
	} {
		cmd.AddCommand(newAlertStepCmd(g, step.use, step.short, step.status))
	}
	return cmd
}

func newAlertStepCmd(g *globals, use, short string, status sanziv1.AlertStatus) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   use + " ALERT_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr := &sanziv1.AlertTransition{Org: orgOf(args[0]), AlertId: args[0], Status: status, Reason: reason}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAlertServiceClient(conn).UpdateAlertStatus(ctx, &sanziv1.UpdateAlertStatusRequest{Author: g.author, Transition: tr})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "alert %s is now %s (entry %s)\n", args[0], enumShort(resp.GetAlert().GetStatus(), "ALERT_STATUS_"), resp.GetEntry().GetId())
				return nil
			})
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required to dismiss or resolve)")
	return c
}

func newAlertsListCmd(g *globals) *cobra.Command {
	var (
		req          sanziv1.ListAlertsRequest
		status       string
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List alerts, oldest first",
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := enumFlag("status", status, "ALERT_STATUS_", sanziv1.AlertStatus_value)
			if err != nil {
				return err
			}
			req.Status = sanziv1.AlertStatus(st)
			for _, f := range []struct {
				flag, val string
				dst       **timestamppb.Timestamp
			}{{"since", since, &req.Since}, {"until", until, &req.Until}} {
				if f.val == "" {
					continue
				}
				t, err := time.ParseInLocation("2006-01-02", f.val, cst)
				if err != nil {
					if t, err = time.Parse(time.RFC3339, f.val); err != nil {
						return fmt.Errorf("--%s %q: a date YYYY-MM-DD (China time) or an RFC 3339 instant", f.flag, f.val)
					}
				}
				*f.dst = timestamppb.New(t)
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAlertServiceClient(conn).ListAlerts(ctx, &req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetAlerts() {
					a := r.GetAlert()
					rows = append(rows, []string{r.GetEntry().GetId(), a.GetRuleCode(), a.GetSeverity(), enumShort(r.GetStatus(), "ALERT_STATUS_"), r.GetSubjectId(), strings.TrimSpace(a.GetReason())})
				}
				table(cmd.OutOrStdout(), []string{"ID", "RULE", "SEVERITY", "STATUS", "ABOUT", "REASON"}, rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d shown of %d\n", len(rows), resp.GetTotalSize())
				return nil
			})
		},
	}
	pageFlags(cmd, &req.Org, &req.PageSize, &req.PageToken)
	cmd.Flags().StringVar(&req.RuleCode, "rule", "", "only this rule code, e.g. PRIVATE-ACCT")
	cmd.Flags().StringVar(&req.Severity, "severity", "", "only info, yellow or red")
	cmd.Flags().StringVar(&status, "status", "", "only open, acknowledged, confirmed, dismissed or resolved")
	cmd.Flags().StringVar(&since, "since", "", "only alerts raised from this day (YYYY-MM-DD, China time) or instant (RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only alerts raised before this day or instant")
	return cmd
}
