package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/catalog"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The town's part of a village's demo year: the steps of the village's
// procedures held by town posts (村账镇管: the agency's review and posting,
// the cashier's payment, the leader's approval, open trading), the
// town's two steps of each monthly disclosure, and its reviews of the
// village's alerts. Each is decided through the town's own API, signed in
// as the town's demo account holding the post, exactly as a town reviewer
// does: the village first pushes what it recorded (so the town holds the
// procedure as it stands), the town records its decision in its chain, and
// the village pulls it at once and applies it at the moment of its demo
// clock the seeding stands at. The village's seeding is the only driver of
// both, so the year comes out the same from the same seed.

// demoSync is what the seeding needs of its village node's sync: to have
// its town hold what it just recorded, and to bring down the town's
// decision at once (server.Node.PushNow, PullNow).
type demoSync interface {
	PushNow(ctx context.Context) error
	PullNow(ctx context.Context) (int, error)
}

// townDesk is the village seeding's line to its town: the town's API and
// the town's demo accounts signed in there (the town runs on the real
// clock, so a token lasts the whole seeding).
type townDesk struct {
	conn   *grpc.ClientConn
	node   demoSync
	tokens map[string]string
}

// ctxAs is ctx carrying the town account's token, signed in at first use.
func (t *townDesk) ctxAs(ctx context.Context, account string) (context.Context, error) {
	if t.tokens[account] == "" {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		in, err := sanziv1.NewAccountServiceClient(t.conn).Login(c, &sanziv1.LoginRequest{Account: account, Password: demoPassword, Label: "demo year"})
		if err != nil {
			return nil, fmt.Errorf("sign in at the town as %s: %w", account, err)
		}
		t.tokens[account] = in.GetSecret()
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.tokens[account]), nil
}

// decide has the town decide: push the village's chain up, run call
// signed in at the town as account, and pull the decision down (applied
// before decide returns). A refusal by the town is the call's error.
func (t *townDesk) decide(ctx context.Context, account string, call func(ctx context.Context) error) error {
	if err := t.node.PushNow(ctx); err != nil {
		return err
	}
	c, err := t.ctxAs(ctx, account)
	if err != nil {
		return err
	}
	if err := call(c); err != nil {
		return err
	}
	_, err = t.node.PullNow(ctx)
	return err
}

// demoPostHolders are the demo accounts that decide each post's steps.
// The village accountant's first step (capture, receipt, draft) is the
// recorder's own (kuaiji); a later one is the cashier's (chuna), as the
// recorder may not approve what it recorded.
var demoPostHolders = map[string]string{
	"village.finance_group": "jiandu", "village.head": "cunwei", "village.party_branch": "cunwei",
	"village.committees": "cunwei", "village.party_members": "cunwei", "village.assembly": "cunwei",
	"town.agency_accountant": "zhen.shenhe", "town.reviewer": "zhen.shenhe",
	"town.agency_cashier": "zhen.chuna", "town.trading_service": "zhen.chuna", "town.leader": "zhen.lingdao",
}

// holder is who decides step i (0-based) of a procedure, and whether the
// post is the town's.
func holder(st *sanziv1.Step, i int) (string, bool) {
	if st.GetPost() == "village.accountant" {
		if i == 0 {
			return demoAuthor, false
		}
		return "chuna", false
	}
	a := demoPostHolders[st.GetPost()]
	return a, strings.HasPrefix(st.GetPost(), "town.")
}

// stepDelay is how long after at the step's decision comes: within the
// step's limit most of the time, now and then over it (often, when late);
// never before its minimum period is over.
func (s *yearSeeder) stepDelay(at time.Time, st *sanziv1.Step, late bool) time.Time {
	n := max(int(st.GetLimit().GetAmount()), 1)
	days := 0
	switch r := s.rng.Float64(); {
	case late:
		days = n + 1 + s.rng.IntN(max(2, n))
	case r < 0.6:
		days = s.rng.IntN(max(1, n/3))
	case r < 0.975:
		days = s.rng.IntN(max(1, n-1))
	default: // a few percent over the limit
		days = n + 1 + s.rng.IntN(3)
	}
	when := at
	if st.GetLimit().GetUnit() == sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS {
		when = when.AddDate(0, 0, days)
	} else {
		when = workingDaysLater(when, days)
	}
	if mn := st.GetMinDuration(); mn != nil {
		// The node counts working days on the district's calendar, with
		// its holidays (a Spring Festival week), which workingDaysLater
		// does not know: twice the days and a week more is past it.
		earliest := at.AddDate(0, 0, 2*int(mn.GetAmount())+7)
		if mn.GetUnit() == sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS {
			earliest = at.AddDate(0, 0, int(mn.GetAmount())+1)
		}
		if when.Before(earliest) {
			when = earliest
		}
	}
	return when.Add(time.Duration(30+s.rng.IntN(120)) * time.Minute)
}

// matter is the default catalog's matter code, which the demo district
// keeps in force.
func (s *yearSeeder) matter(code string) *sanziv1.Matter {
	if s.catalog == nil {
		s.catalog = catalog.Default(s.org[:6] + "000000")
	}
	for _, m := range s.catalog.GetMatters() {
		if m.GetCode() == code {
			return m
		}
	}
	return nil
}

// planProcedure schedules the decisions of every step of procedure proc
// (of matter code, opened at t), one after the other, each by the demo
// account holding its post, the village's through the village's API and
// the town's through the town's (none without a town: those procedures
// stay open at the town's step). lateVillage and lateTown say whether the
// village's and the town's steps run over their limits (a misbehaving
// village's, and the town's work on its incomplete paperwork, now and
// then).
func (s *yearSeeder) planProcedure(t time.Time, proc, code string, lateVillage func() bool, lateTown func() bool) {
	m := s.matter(code)
	if m == nil {
		return
	}
	steps := m.GetSteps()
	var next func(i int, at time.Time)
	next = func(i int, at time.Time) {
		if i == len(steps) {
			return
		}
		st := steps[i]
		account, atTown := holder(st, i)
		if account == "" || (atTown && (s.town == nil || st.GetRequiresResolution())) {
			return // nobody of the demo holds it: the procedure waits there
		}
		late := lateVillage()
		if atTown {
			late = lateTown()
		}
		when := s.stepDelay(at, st, late)
		s.at(when, func(ctx context.Context) error {
			d := &sanziv1.StepDecision{Org: s.org, ProcedureId: proc, StepCode: st.GetCode(), Action: sanziv1.StepAction_STEP_ACTION_APPROVE}
			var err error
			if atTown {
				err = s.town.decide(ctx, account, func(c context.Context) error {
					_, err := sanziv1.NewWorkflowServiceClient(s.town.conn).DecideStep(c, &sanziv1.DecideStepRequest{Author: account, Decision: d})
					return err
				})
			} else {
				err = s.decideHere(ctx, account, st, d)
			}
			ok, err := s.counted(err, atTown, fmt.Sprintf("decide %s of %s as %s", st.GetCode(), proc, account))
			if !ok {
				return err
			}
			if atTown && st.GetCode() == "pay" {
				s.stats.TownPayments++
			}
			next(i+1, when)
			return nil
		})
	}
	next(0, t)
}

// counted counts a decision's outcome: a refusal by the node is counted
// and the procedure left there (false, nil); another error stops the
// seeding; a decision is counted (true).
func (s *yearSeeder) counted(err error, atTown bool, what string) (bool, error) {
	ok, err := s.recorded(err, what)
	if ok {
		s.stats.Decisions++
		if atTown {
			s.stats.TownDecisions++
		}
	}
	return ok, err
}

// recorded counts one entry's outcome: a refusal by the node is counted
// and skipped (false, nil); another error stops the seeding; an entry
// recorded is counted (true).
func (s *yearSeeder) recorded(err error, what string) (bool, error) {
	if refused(err) {
		s.refuse(err)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	s.stats.Entries++
	return true, nil
}

// decideHere records a village step's decision through the village's API;
// a step that needs its resolution gets the meeting's minutes attached
// (uploaded by the accountant, who keeps the village's papers).
func (s *yearSeeder) decideHere(ctx context.Context, account string, st *sanziv1.Step, d *sanziv1.StepDecision) error {
	if st.GetRequiresResolution() {
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		up, err := sanziv1.NewAttachmentServiceClient(s.conn).UploadAttachment(c, &sanziv1.UploadAttachmentRequest{
			Content:  []byte(fmt.Sprintf("%s 会议记录（示例）：%s %s，%s。", s.org, d.GetProcedureId(), st.GetName(), s.clock.Now().Format(time.DateOnly))),
			FileName: "会议记录.txt", ContentType: "text/plain; charset=utf-8"})
		if err != nil {
			return fmt.Errorf("upload the minutes: %w", err)
		}
		d.Attachments = []string{up.GetAttachment().GetSha256()}
	}
	c, err := s.ctxAs(ctx, account)
	if err != nil {
		return err
	}
	_, err = sanziv1.NewWorkflowServiceClient(s.conn).DecideStep(c, &sanziv1.DecideStepRequest{Author: account, Decision: d})
	return err
}

// planDisclosures schedules the monthly finance disclosure of each month
// of the year that ended ten days or more before the year's end: the
// accountant opens it early in the next month, the town's agency prepares
// it, the supervisory committee audits it, the town checks it and the
// committees publish it, each on the content it computed and read
// (DisclosureService, the same content at both tiers). A misbehaving
// village opens it late, past the 10th (DISCLOSE-LATE), and now and then
// not at all.
func (s *yearSeeder) planDisclosures() {
	m := s.matter("GOV-DISCLOSE")
	if m == nil {
		return
	}
	first := time.Date(s.start.Year(), s.start.Month(), 1, 0, 0, 0, 0, s.start.Location())
	for month := first; month.AddDate(0, 1, 12).Before(s.end); month = month.AddDate(0, 1, 0) {
		period := month.Format("2006-01")
		day := 1 + s.rng.IntN(2)
		if s.profile == profileMisbehaving {
			if s.rng.IntN(4) == 0 {
				continue // never disclosed
			}
			day = 12 + s.rng.IntN(12)
		}
		open := month.AddDate(0, 1, day-1).Add(time.Duration(9+s.rng.IntN(3)) * time.Hour)
		if wd := open.Weekday(); wd == time.Saturday || wd == time.Sunday {
			open = workingDaysLater(open, 1)
		}
		s.at(open, func(ctx context.Context) error {
			c, err := s.ctxAs(ctx, demoAuthor)
			if err != nil {
				return err
			}
			out, err := sanziv1.NewWorkflowServiceClient(s.conn).OpenProcedure(c, &sanziv1.OpenProcedureRequest{Author: demoAuthor, Procedure: &sanziv1.Procedure{
				Org: s.org, MatterCode: m.GetCode(), Period: period, Summary: period + " 月度财务公开"}})
			if ok, err := s.recorded(err, "open the disclosure of "+period); !ok {
				return err
			}
			s.planDisclosureSteps(open, out.GetProcedure().GetEntry().GetId(), period, m.GetSteps(), 0)
			return nil
		})
	}
}

// planDisclosureSteps schedules step i of a disclosure's procedure and,
// once decided, the next.
func (s *yearSeeder) planDisclosureSteps(at time.Time, proc, period string, steps []*sanziv1.Step, i int) {
	if i == len(steps) {
		return
	}
	st := steps[i]
	account, atTown := holder(st, i)
	if account == "" || (atTown && s.town == nil) {
		return
	}
	when := s.stepDelay(at, st, false)
	s.at(when, func(ctx context.Context) error {
		// Read, then approve what was read; the books may move between
		// the two (the node's timers record a card), and then the
		// decider reads again, as a person would be told to.
		decide := func(c context.Context, conn *grpc.ClientConn) error {
			cl := sanziv1.NewDisclosureServiceClient(conn)
			var err error
			for range 3 {
				var got *sanziv1.GetDisclosureResponse
				if got, err = cl.GetDisclosure(c, &sanziv1.GetDisclosureRequest{Org: s.org, Period: period}); err != nil {
					return err
				}
				_, err = cl.DecideDisclosure(c, &sanziv1.DecideDisclosureRequest{Author: account, Org: s.org, Period: period,
					Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Sha256: got.GetSha256()})
				if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "changed since") {
					return err
				}
			}
			return err
		}
		var err error
		if atTown {
			err = s.town.decide(ctx, account, func(c context.Context) error { return decide(c, s.town.conn) })
		} else {
			var c context.Context
			if c, err = s.ctxAs(ctx, account); err == nil {
				err = decide(c, s.conn)
			}
		}
		ok, err := s.counted(err, atTown, fmt.Sprintf("decide %s of the disclosure of %s as %s", st.GetCode(), period, account))
		if !ok {
			return err
		}
		if i == len(steps)-1 {
			s.stats.Disclosures++
		}
		s.planDisclosureSteps(when, proc, period, steps, i+1)
		return nil
	})
}

// seriousRules are confirmed whenever the town looks at them: evidence of
// a breach, not a matter of judgement.
var seriousRules = map[string]bool{"SPLIT": true, "RELATIVE": true, "UNDERPRICE": true, "TAMPER": true, "DISCLOSE-LATE": true}

// planAlertReviews schedules the town's weekly look at the village's open
// alerts (every Wednesday afternoon): each is acknowledged, and a working
// day or three later confirmed or dismissed with a reason. A serious
// breach is always confirmed; at an ordinary village most other alerts
// turn out explained (dismissed), at a misbehaving one most are confirmed.
func (s *yearSeeder) planAlertReviews() {
	if s.town == nil {
		return
	}
	for d := 7; d < 365; d++ {
		t := s.day(d, 15, 0)
		if t.Weekday() != time.Wednesday {
			continue
		}
		s.at(t, func(ctx context.Context) error { return s.reviewAlerts(ctx, t) })
	}
}

// reviewAlerts has the town take up to eight of the village's open alerts
// raised before the day.
func (s *yearSeeder) reviewAlerts(ctx context.Context, t time.Time) error {
	c, err := s.ctxAs(ctx, "jiandu")
	if err != nil {
		return err
	}
	out, err := sanziv1.NewAlertServiceClient(s.conn).ListAlerts(c, &sanziv1.ListAlertsRequest{Org: s.org, Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN,
		Until: timestamppb.New(t.Add(-24 * time.Hour)), PageSize: 8})
	if err != nil {
		return fmt.Errorf("list the open alerts: %w", err)
	}
	for _, a := range out.GetAlerts() {
		id, rule := a.GetEntry().GetId(), a.GetAlert().GetRuleCode()
		if err := s.transition(ctx, id, sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, "已签收，派发村里说明情况"); err != nil {
			return err
		}
		confirm := seriousRules[rule] || s.rng.Float64() < map[bool]float64{false: 0.25, true: 0.8}[s.profile == profileMisbehaving]
		status, reason := sanziv1.AlertStatus_ALERT_STATUS_DISMISSED, "经核实，村里已说明情况并补齐材料，属正常业务"
		if confirm {
			status, reason = sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED, "经核实属实，责令整改并纳入考核"
		}
		s.at(workingDaysLater(t, 1+s.rng.IntN(3)), func(ctx context.Context) error { return s.transition(ctx, id, status, reason) })
	}
	return nil
}

// transition has the town move the village's alert id to status.
func (s *yearSeeder) transition(ctx context.Context, id string, status sanziv1.AlertStatus, reason string) error {
	err := s.town.decide(ctx, "zhen.shenhe", func(c context.Context) error {
		_, err := sanziv1.NewAlertServiceClient(s.town.conn).UpdateAlertStatus(c, &sanziv1.UpdateAlertStatusRequest{Author: "zhen.shenhe",
			Transition: &sanziv1.AlertTransition{Org: s.org, AlertId: id, Status: status, Reason: reason}})
		return err
	})
	ok, err := s.recorded(err, "review alert "+id)
	if ok {
		s.stats.Reviews++
	}
	return err
}
