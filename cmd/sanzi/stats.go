package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// statsFlags are what every stats command shares: where to ask, what to
// cover, and where to export.
type statsFlags struct {
	p        personFlags
	scope    sanziv1.StatsScope
	from, to string
	csv      string
	xlsx     string
}

func (f *statsFlags) add(cmd *cobra.Command) {
	f.p.add(cmd) // --server (a member that runs with --clickhouse), --tls-dir, --token
	cmd.Flags().StringVar(&f.scope.Level, "level", "village", "group by district, town or village")
	cmd.Flags().StringVar(&f.scope.Parent, "parent", "", "only orgs under this code (6 digits: a district, 9: a town)")
	cmd.Flags().StringVar(&f.from, "from", "", "first month, YYYY-MM")
	cmd.Flags().StringVar(&f.to, "to", "", "last month, YYYY-MM")
	cmd.Flags().StringVar(&f.csv, "csv", "", "also write the table to this CSV file")
	cmd.Flags().StringVar(&f.xlsx, "xlsx", "", "also write the table to this XLSX file")
}

func month(flag, s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: a month, YYYY-MM", flag, s)
	}
	return uint32(t.Year()*100 + int(t.Month())), nil
}

// call asks the member as the signed-in person (a district analyst or
// auditor: read_stats), over TLS without a certificate of one's own, and
// runs fn; the member scopes the answer by the account's org.
func (f *statsFlags) call(cmd *cobra.Command, fn func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error) error {
	var err error
	if f.scope.FromMonth, err = month("from", f.from); err != nil {
		return err
	}
	if f.scope.ToMonth, err = month("to", f.to); err != nil {
		return err
	}
	return f.p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
		return fn(ctx, sanziv1.NewAnalyticsServiceClient(conn))
	})
}

// output prints the table and writes the exports asked for.
func (f *statsFlags) output(cmd *cobra.Command, header []string, rows [][]string) error {
	table(cmd.OutOrStdout(), header, rows)
	if f.csv != "" {
		file, err := os.Create(f.csv)
		if err != nil {
			return err
		}
		w := csv.NewWriter(file)
		w.Write(header)
		w.WriteAll(rows)
		if err := file.Close(); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %d rows to %s\n", len(rows), f.csv)
	}
	if f.xlsx != "" {
		x := excelize.NewFile()
		defer x.Close()
		sheet := x.GetSheetName(0)
		for r, row := range append([][]string{header}, rows...) {
			for c, v := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if n, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64); err == nil && r > 0 && c > 0 {
					x.SetCellValue(sheet, cell, n)
				} else {
					x.SetCellValue(sheet, cell, v)
				}
			}
		}
		if err := x.SaveAs(filepath.Clean(f.xlsx)); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %d rows to %s\n", len(rows), f.xlsx)
	}
	return nil
}

func pct(has bool, v float64) string {
	switch {
	case !has:
		return ""
	case math.IsInf(v, 1):
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", v)
}

func newStatsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "District statistics from ClickHouse: totals, alerts, anomalies, risk",
		Long: `Ask a district member that runs with --clickhouse. Every command takes
--level (district, town, village) and --parent to drill down (all towns of
district 350505: --level town --parent 350505; the villages of town
350505100: --level village --parent 350505100), --from/--to months, and
--csv/--xlsx to export the table.`,
	}
	var f statsFlags
	totals := &cobra.Command{
		Use:   "totals",
		Short: "Income and expense by org and month, with month-over-month change",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error {
				resp, err := c.Totals(ctx, &sanziv1.TotalsRequest{Scope: &f.scope})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{r.GetOrg(), fmt.Sprint(r.GetMonth()), money.FormatFen(r.GetIncomeFen()), pct(r.GetHasPrev(), r.GetIncomeChangePct()),
						money.FormatFen(r.GetExpenseFen()), pct(r.GetHasPrev(), r.GetExpenseChangePct()), fmt.Sprint(r.GetTransactions()), r.GetName()})
				}
				return f.output(cmd, []string{"ORG", "MONTH", "INCOME", "MOM", "EXPENSE", "MOM", "TRANSACTIONS", "NAME"}, rows)
			})
		},
	}
	f.add(totals)
	var af statsFlags
	var groupBy string
	alerts := &cobra.Command{
		Use:   "alerts",
		Short: "Alerts (by severity) and cards by rule or by org",
		RunE: func(cmd *cobra.Command, args []string) error {
			return af.call(cmd, func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error {
				resp, err := c.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &af.scope, GroupBy: groupBy})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{r.GetKey(), fmt.Sprint(r.GetAlerts()), fmt.Sprint(r.GetRed()), fmt.Sprint(r.GetYellow()), fmt.Sprint(r.GetRedCards()), fmt.Sprint(r.GetYellowCards()),
						fmt.Sprintf("%.1f", r.GetAvgHoursToAck()), fmt.Sprint(r.GetDisposed()), fmt.Sprintf("%.1f", r.GetAvgHoursToDisposition())})
				}
				return af.output(cmd, []string{strings.ToUpper(groupBy), "ALERTS", "RED", "YELLOW", "RED CARDS", "YELLOW CARDS", "HOURS TO ACK", "DISPOSED", "HOURS TO DISPOSE"}, rows)
			})
		},
	}
	af.add(alerts)
	alerts.Flags().StringVar(&groupBy, "by", "rule", "group by rule, org or status")
	var nf statsFlags
	anomalies := &cobra.Command{
		Use:   "anomalies",
		Short: "Per village: first-digit (Benford) deviation, round and just-under-threshold shares, counterparty concentration",
		RunE: func(cmd *cobra.Command, args []string) error {
			return nf.call(cmd, func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error {
				resp, err := c.Anomalies(ctx, &sanziv1.AnomaliesRequest{Scope: &nf.scope})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{r.GetOrg(), fmt.Sprint(r.GetExpenses()), fmt.Sprintf("%.4f", r.GetBenfordMad()), r.GetBenfordVerdict(),
						fmt.Sprintf("%.3f", r.GetRoundShare()), fmt.Sprintf("%.3f", r.GetJustUnderShare()), fmt.Sprintf("%.0f", r.GetCounterpartyHhi())})
				}
				return nf.output(cmd, []string{"VILLAGE", "EXPENSES", "BENFORD MAD", "VERDICT", "ROUND", "JUST UNDER", "HHI"}, rows)
			})
		},
	}
	nf.add(anomalies)
	var rf statsFlags
	var riskBy string
	risk := &cobra.Command{
		Use:   "risk",
		Short: "Integrity-risk index (勤廉风险指数) per village with its signals, highest first",
		Long: `Score = 3·red alerts + 1·yellow alerts + 3·red cards + 1·yellow cards
+ 5·serious violations (SPLIT, RELATIVE, UNDERPRICE, TAMPER) + 2·late
disclosures + 20·cash share of expenses + 0.5·steps decided late
+ 3·TAMPER findings. Alerts count once confirmed; a TAMPER finding (the
district or town refused an entry of the village's chain: a fork, or an
entry failing its hash, signature, link or seq check) is evidence, not a
suspicion, and counts at once, as a red alert and a serious violation.
Levels: green < 10 ≤ yellow < 25 ≤ orange < 50 ≤ red. With --by post the
signals are the post's cards and late steps.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return rf.call(cmd, func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error {
				resp, err := c.Risk(ctx, &sanziv1.RiskRequest{Scope: &rf.scope, GroupBy: riskBy})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{r.GetOrg(), fmt.Sprintf("%.2f", r.GetScore()), r.GetLevel(), fmt.Sprint(r.GetRedAlerts()), fmt.Sprint(r.GetYellowAlerts()),
						fmt.Sprint(r.GetRedCards()), fmt.Sprint(r.GetYellowCards()), fmt.Sprint(r.GetSplitRelated()), fmt.Sprint(r.GetTamperFindings()), fmt.Sprint(r.GetLateDisclosures()), fmt.Sprintf("%.3f", r.GetCashShare()), r.GetName()})
				}
				return rf.output(cmd, []string{"VILLAGE", "SCORE", "LEVEL", "RED", "YELLOW", "RED CARDS", "YELLOW CARDS", "SPLIT/RELATIVE", "TAMPER", "LATE DISCLOSURES", "CASH SHARE", "NAME"}, rows)
			})
		},
	}
	rf.add(risk)
	risk.Flags().StringVar(&riskBy, "by", "village", "village, or post (岗位: its cards and late steps)")
	var ef statsFlags
	var efBy string
	var weights sanziv1.EfficiencyWeights
	efficiency := &cobra.Command{
		Use:   "efficiency",
		Short: "Handling of steps against their limits, scored and ranked by org, post or matter",
		Long: `On-time rate: steps decided by their deadline (按时办结率). Early rate: steps
decided within half their allowed time (提前办结率). Score = 100 × (w-on-time ×
on-time rate + w-early × early rate + w-cards × (1 − card rate)), the card
rate being (yellow + 2 × red cards) per step, capped at 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ef.call(cmd, func(ctx context.Context, c sanziv1.AnalyticsServiceClient) error {
				resp, err := c.Efficiency(ctx, &sanziv1.EfficiencyRequest{Scope: &ef.scope, GroupBy: efBy, Weights: &weights})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{fmt.Sprint(r.GetRank()), r.GetKey(), fmt.Sprint(r.GetSteps()), fmt.Sprintf("%.3f", r.GetOnTimeRate()), fmt.Sprintf("%.3f", r.GetEarlyRate()),
						fmt.Sprintf("%.1f", r.GetAvgHours()), fmt.Sprint(r.GetYellowCards()), fmt.Sprint(r.GetRedCards()), fmt.Sprintf("%.2f", r.GetScore())})
				}
				w := resp.GetWeights()
				fmt.Fprintf(cmd.OutOrStdout(), "weights: on time %.2f, early %.2f, cards %.2f\n", w.GetOnTime(), w.GetEarly(), w.GetCards())
				return ef.output(cmd, []string{"RANK", strings.ToUpper(efBy), "STEPS", "ON TIME", "EARLY", "AVG HOURS", "YELLOW CARDS", "RED CARDS", "SCORE"}, rows)
			})
		},
	}
	ef.add(efficiency)
	efficiency.Flags().StringVar(&efBy, "by", "org", "group by org, post or matter")
	efficiency.Flags().Float64Var(&weights.OnTime, "w-on-time", 0, "weight of the on-time rate (default 0.6 when no weight is given)")
	efficiency.Flags().Float64Var(&weights.Early, "w-early", 0, "weight of the early-completion rate (default 0.2)")
	efficiency.Flags().Float64Var(&weights.Cards, "w-cards", 0, "weight of being free of cards (default 0.2)")
	cmd.AddCommand(totals, alerts, anomalies, risk, efficiency)
	return cmd
}
