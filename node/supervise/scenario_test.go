package supervise_test

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var update = flag.Bool("update", false, "rewrite the scenario's golden file")

// person makes a valid resident ID from its first 17 characters.
func person(first17 string) string {
	c, err := idcode.ResidentIDCheck(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// quarter is the simulated third quarter of 2026 of one village: routine
// income and spending recorded on working days, the town office deciding
// steps, timers and time-driven rules swept three times a day, and seeded
// violations of most rules of the default set.
type quarter struct {
	t       *testing.T
	ctx     context.Context
	b       node
	clock   *fakeClock
	rnd     *rand.Rand
	att     []string // uploaded attachment hashes
	log     []string // refusals, in order
	neglect map[string]bool
	n       int // business entries recorded
}

func (q *quarter) at(day time.Time, hhmm string) {
	h, m := 0, 0
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	q.clock.Set(time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, cst))
}

func (q *quarter) now() string { return q.clock.Now().In(cst).Format("01-02 15:04") }

// expense records a bank-transfer expense with an invoice; edit changes it.
func (q *quarter) expense(amount int64, payee *sanziv1.Counterparty, line, category, summary string, edit ...func(*sanziv1.Transaction)) string {
	q.n++
	t := &sanziv1.Transaction{
		Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: amount,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Counterparty: payee,
		BusinessDate: q.clock.Now().In(cst).Format(time.DateOnly), Summary: summary, VoucherNumber: fmt.Sprintf("记-%03d", q.n),
		InvoiceCode: "035001900111", InvoiceNumber: fmt.Sprintf("%08d", q.n), BudgetLine: line, Category: category,
		Attachments: []string{q.att[0]},
	}
	for _, e := range edit {
		e(t)
	}
	return q.tx(t)
}

func (q *quarter) tx(t *sanziv1.Transaction) string {
	s, _, err := q.b.RecordTransaction(q.ctx, "会计李四", t)
	return q.outcome(s, err, t.GetSummary())
}

// outcome logs a refusal by a rule; any other error fails the scenario.
func (q *quarter) outcome(s *ledger.Stored, err error, what string) string {
	var blocked *books.BlockedError
	if errors.As(err, &blocked) {
		var codes []string
		for _, h := range blocked.Hits {
			codes = append(codes, h.Code)
		}
		q.log = append(q.log, fmt.Sprintf("%s REFUSED %s: %s", q.now(), strings.Join(codes, ","), what))
		return ""
	}
	if err != nil {
		q.t.Fatalf("%s %s: %v", q.now(), what, err)
	}
	return s.ID()
}

func (q *quarter) income(amount int64, method sanziv1.PaymentMethod, summary string) string {
	q.n++
	return q.tx(&sanziv1.Transaction{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: amount, PaymentMethod: method,
		Counterparty: &sanziv1.Counterparty{Name: "村民小组"}, BusinessDate: q.clock.Now().In(cst).Format(time.DateOnly), Summary: summary,
		VoucherNumber: fmt.Sprintf("收-%03d", q.n), Category: "经营收入", Attachments: []string{q.att[0]}})
}

func (q *quarter) deposit(amount int64) string {
	q.n++
	return q.tx(&sanziv1.Transaction{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, AmountFen: amount,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "本村基本存款账户"}, BusinessDate: q.clock.Now().In(cst).Format(time.DateOnly),
		Summary: "现金存入银行", VoucherNumber: fmt.Sprintf("转-%03d", q.n), Attachments: []string{q.att[0]}})
}

// office decides, as the holders of each post, the open step of every
// procedure not left to lapse, when the step opened before today; a step
// still in its minimum period waits.
func (q *quarter) office() {
	procs, _, _, err := q.b.Procedures(workflow.Filter{Status: workflow.StatusOpen}, books.Page{Size: 1000})
	if err != nil {
		q.t.Fatal(err)
	}
	for _, p := range procs {
		id := p.GetEntry().GetId()
		if q.neglect[id] || q.neglect[p.GetProcedure().GetSubjectId()] {
			continue
		}
		for _, st := range p.GetSteps() {
			if st.GetCode() != p.GetOpenStep() || !st.GetOpenedAt().AsTime().Before(q.clock.Now().Add(-2*time.Hour)) {
				continue
			}
			d := &sanziv1.StepDecision{ProcedureId: id, StepCode: st.GetCode(), Post: st.GetPost(),
				Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Attachments: []string{q.att[1]}}
			if strings.HasPrefix(st.GetPost(), "town.") {
				q.town(d)
				continue
			}
			_, _, err := q.b.DecideStep(q.ctx, "岗位人员", d)
			var inv *books.InvalidError
			if err != nil && !errors.As(err, &inv) {
				q.t.Fatalf("%s approve %s step %s: %v", q.now(), id, st.GetCode(), err)
			}
		}
	}
}

// town decides a step of a town post as the town does: in the town's
// chain, which the village follows and applies (a village's own API
// refuses the town's steps).
func (q *quarter) town(d *sanziv1.StepDecision) {
	d.Org = benchOrg
	if _, err := q.b.AppendEntry(q.ctx, townOrg, "岗位人员", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: benchOrg, Decision: &sanziv1.TownDecision_Step{Step: d}}, d.GetProcedureId()); err != nil {
		q.t.Fatal(err)
	}
	if err := q.b.Follow(q.ctx); err != nil {
		q.t.Fatal(err)
	}
}

func (q *quarter) sweep() {
	if _, err := q.b.Sweep(q.ctx, q.clock.Now()); err != nil {
		q.t.Fatal(err)
	}
}

func (q *quarter) open(matter, period, summary string) string {
	p, err := q.b.OpenProcedure(q.ctx, "会计李四", &sanziv1.Procedure{Org: benchOrg, MatterCode: matter, Period: period, Summary: summary})
	if err != nil {
		q.t.Fatalf("%s open %s: %v", q.now(), matter, err)
	}
	return p.ID
}

// TestQuarterScenario drives Q3 2026 of one village through the injected
// clock and compares every alert, card and refusal with
// testdata/quarter.golden (go test -run TestQuarterScenario -update
// rewrites it; read the diff before committing it).
func TestQuarterScenario(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-07-01 08:00")}
	relative := person("35050519900101123")
	member := person("35050519850505201")
	rs := rules.Default()
	rs.Version = "2026-q3"
	rs.Lists = map[string][]rules.ListItem{
		"relatives": {{Name: "张小明", IDNumber: relative, Note: "村主任张三之子"}},
		"members":   {{Name: "陈大田", IDNumber: member}},
		"budget": {
			{Name: "办公费", AmountFen: 2_000_000}, {Name: "公益事业支出", AmountFen: 60_000_000},
			{Name: "管理费用", AmountFen: 5_000_000}, {Name: "工程支出", AmountFen: 30_000_000},
		},
	}
	dir := t.TempDir() // the town's key too: its decisions reach the village in the town's chain
	b, _ := openOrgBooks(t, dir, filepath.Join(dir, "keys"), []string{benchOrg, townOrg}, []string{benchOrg}, clock, &rs, false)
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		t.Fatal(err)
	}
	q := &quarter{t: t, ctx: ctx, b: b, clock: clock, rnd: rand.New(rand.NewPCG(2026, 3)), neglect: map[string]bool{}}
	for _, content := range []string{"发票扫描件", "村民代表会议决议及公示照片"} {
		m, err := b.Attachments().Put([]byte(content), "scan.pdf", "application/pdf", "")
		if err != nil {
			t.Fatal(err)
		}
		q.att = append(q.att, m.GetSha256())
	}
	supplier := func(i int) *sanziv1.Counterparty {
		names := []string{"福州某建材有限公司", "长乐某农资店", "某印刷厂", "某水电安装公司"}
		codes := []string{"91350100M000100Y43", "91350182MA2XN0KJ5D", "92350182MA31L3YQ1H", "91350100MA2Y7K8R9F"}
		i %= len(names)
		cp := &sanziv1.Counterparty{Name: names[i], BankAccount: fmt.Sprintf("622202020011223344%d", i)}
		if idcode.CreditCode(codes[i]) == nil {
			cp.IdNumber = codes[i]
		}
		return cp
	}

	// Contracts on day one: a lease ending 31 August with its July rent
	// never paid; a lease to the village head's son; land contracted out to
	// an outsider with no vote record; a 25-year lease; a large negotiated
	// contract.
	day := cstTime("2026-07-01 08:00")
	q.at(day, "09:00")
	lease := func(number string, cp *sanziv1.Counterparty, kind sanziv1.ContractKind, start, end string, annual int64, area float64, award sanziv1.AwardMethod, attachments int, sched ...*sanziv1.ScheduledPayment) string {
		q.n++
		c := &sanziv1.Contract{Org: benchOrg, Kind: kind, ContractNumber: number, Counterparty: cp,
			Object:    &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "DK-" + number, AreaMu: area},
			TermStart: start, TermEnd: end, AnnualAmountFen: annual, AwardMethod: award, SignedDate: "2026-06-20",
			Schedule: sched, Attachments: q.att[:attachments], Summary: "土地租赁"}
		s, _, err := b.RecordContract(ctx, "会计李四", c)
		return q.outcome(s, err, "contract "+number)
	}
	lease("HT-01", &sanziv1.Counterparty{Name: "林某某", IdNumber: person("35010219800101002")}, sanziv1.ContractKind_CONTRACT_KIND_LEASE,
		"2022-09-01", "2026-08-31", 3_000_000, 10, sanziv1.AwardMethod_AWARD_METHOD_AUCTION, 1,
		&sanziv1.ScheduledPayment{DueDate: "2026-07-15", AmountFen: 3_000_000})
	lease("HT-02", &sanziv1.Counterparty{Name: "张小明", IdNumber: relative}, sanziv1.ContractKind_CONTRACT_KIND_LEASE,
		"2026-07-01", "2028-06-30", 800_000, 5, sanziv1.AwardMethod_AWARD_METHOD_AUCTION, 1)
	lease("HT-03", &sanziv1.Counterparty{Name: "外村王某", IdNumber: person("35012119750302301")}, sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT,
		"2026-07-01", "2031-06-30", 500_000, 20, sanziv1.AwardMethod_AWARD_METHOD_TENDER, 1)
	lease("HT-04", &sanziv1.Counterparty{Name: "陈大田", IdNumber: member}, sanziv1.ContractKind_CONTRACT_KIND_LEASE,
		"2026-07-01", "2051-06-30", 100_000, 2, sanziv1.AwardMethod_AWARD_METHOD_AUCTION, 1)
	lease("HT-05", &sanziv1.Counterparty{Name: "陈大田", IdNumber: member}, sanziv1.ContractKind_CONTRACT_KIND_LEASE,
		"2026-07-01", "2029-06-30", 2_000_000, 60, sanziv1.AwardMethod_AWARD_METHOD_NEGOTIATED, 1)

	// The village road works go through the four deliberations
	// (四议两公开) before they are paid for (BIG-SPEND).
	works, err := b.OpenProcedure(ctx, "会计李四", &sanziv1.Procedure{Org: benchOrg, MatterCode: "WORKS-TENDER", AmountFen: 12_000_000,
		Summary: "村道硬化工程（四议两公开）"})
	if err != nil {
		t.Fatal(err)
	}
	roadWorks := func(summary string) {
		q.expense(12_000_000, supplier(3), "工程支出", "工程款", summary, func(t *sanziv1.Transaction) {
			t.Attachments, t.ResolutionProcedureId = q.att, works.ID
		})
	}

	var neglected string
	for day = cstTime("2026-07-01 08:00"); day.Before(cstTime("2026-10-01 00:00")); day = day.AddDate(0, 0, 1) {
		q.at(day, "08:00")
		q.sweep()
		working := cal.IsWorkingDay(day) // the office keeps the district calendar, swapped Sundays included
		date := day.Format("01-02")
		if working {
			q.at(day, "10:00")
			q.office()
			q.at(day, "11:00")
			// Routine: three or four small expenses on listed budget lines.
			for range 3 + q.rnd.IntN(2) {
				lines := []string{"办公费", "公益事业支出", "管理费用"}
				q.expense(int64(20_000+q.rnd.IntN(200_000)), supplier(q.rnd.IntN(4)), lines[q.rnd.IntN(3)], "日常支出", "日常开支 "+date)
			}
			if day.Weekday() == time.Monday {
				q.income(int64(1_000_000+q.rnd.IntN(2_000_000)), sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, "租金收入 "+date)
			}
		}
		q.at(day, "15:00")
		switch date {
		case "07-02":
			q.expense(150_000, supplier(1), "办公费", "日常支出", "现金购买办公用品", func(t *sanziv1.Transaction) { t.PaymentMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH })
			q.expense(90_000, supplier(2), "办公费", "日常支出", "白条报销", func(t *sanziv1.Transaction) { t.Attachments, t.InvoiceNumber, t.InvoiceCode = nil, "", "" })
		case "07-06":
			q.expense(6_000_000, supplier(3), "公益事业支出", "公益支出", "道路维修（未经四议两公开）")
			// Paid before the assembly's resolution is published: refused.
			roadWorks("村道硬化工程款（决议未公开）")
		case "07-08":
			// Cash rent received and kept in the safe for a week.
			q.income(800_000, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, "现金收取摊位费")
		case "07-15":
			q.deposit(800_000)
			for _, amount := range []int64{2_000_000, 1_800_000, 1_500_000} {
				q.expense(amount, supplier(0), "公益事业支出", "公益支出", "水渠材料款（分次支付）")
			}
		case "07-20":
			q.expense(200_000, &sanziv1.Counterparty{Name: "李某", IdNumber: person("35010219880808081"), BankAccount: "6228480012345678"}, "管理费用", "劳务费", "临时用工劳务费")
		case "07-22":
			q.expense(30_000, supplier(2), "管理费用", "招待费", "接待检查组用餐")
			first := q.expense(45_000, supplier(2), "办公费", "日常支出", "打印纸")
			_ = first
			q.expense(45_000, supplier(2), "办公费", "日常支出", "打印纸（重复报销）", func(t *sanziv1.Transaction) { t.InvoiceNumber = fmt.Sprintf("%08d", q.n-1) })
		case "07-27":
			roadWorks("村道硬化工程款")
			q.expense(300_000, supplier(1), "宣传费", "日常支出", "宣传横幅（预算外）")
			q.n++
			q.tx(&sanziv1.Transaction{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, AmountFen: 100_000,
				PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
				Counterparty:  &sanziv1.Counterparty{Name: "出纳赵某", IdNumber: person("35050519920202202"), BankAccount: "6228480099990000"},
				BusinessDate:  "2026-07-27", Summary: "备用金借支", VoucherNumber: fmt.Sprintf("借-%03d", q.n), Attachments: []string{q.att[0]}})
		case "07-29":
			// One reimbursement nobody looks after: it earns every card.
			neglected = q.expense(60_000, supplier(1), "办公费", "日常支出", "无人审批的报销")
			q.neglect[neglected] = true
		case "08-03":
			q.neglect[q.open("FUND-BANKREC", "2026-07", "七月银行对账")] = false
			q.neglect[q.open("GOV-DISCLOSE", "2026-07", "七月财务公开")] = false
			q.neglect[q.open("GOV-COMPLAINT", "", "村民反映摊位费未公开")] = true
		case "08-05":
			// The village head tries to sign the neglected one off first.
			procs, _, _, err := b.Procedures(workflow.Filter{Matter: "FUND-REIMB", Status: workflow.StatusOpen}, books.Page{Size: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range procs {
				if p.GetProcedure().GetSubjectId() != neglected {
					continue
				}
				_, _, err := b.DecideStep(ctx, "村主任", &sanziv1.StepDecision{ProcedureId: p.GetEntry().GetId(), StepCode: "signoff", Post: "village.head",
					Action: sanziv1.StepAction_STEP_ACTION_APPROVE})
				q.outcome(nil, err, "village head signs off before capture and review")
			}
		case "08-10":
			// A pump sold below its appraisal, and a tractor sold unappraised.
			asset := func(code string) string {
				s, err := b.RegisterAsset(ctx, "会计李四", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: code, Name: "设备" + code, Category: "机械设备",
					OriginalValueFen: 20_000_000, AcquiredDate: "2015-03-01"})
				if err != nil {
					t.Fatal(err)
				}
				return s.ID()
			}
			pump, tractor := asset("ZC-01"), asset("ZC-02")
			if _, err := b.AppraiseAsset(ctx, "会计李四", &sanziv1.AssetAppraisal{Org: benchOrg, AssetId: pump, AppraisedValueFen: 10_000_000,
				Appraiser: "某资产评估所", AppraisalDate: "2026-08-10", ReportAttachment: q.att[1]}); err != nil {
				t.Fatal(err)
			}
			for _, d := range []*sanziv1.AssetDisposal{
				{Org: benchOrg, AssetId: pump, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, PriceFen: 8_000_000, DisposalDate: "2026-08-10",
					Counterparty: &sanziv1.Counterparty{Name: "某农机站"}, Reason: "闲置", Attachments: []string{q.att[0]}},
				{Org: benchOrg, AssetId: tractor, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, PriceFen: 3_000_000, DisposalDate: "2026-08-10",
					Counterparty: &sanziv1.Counterparty{Name: "某农机站"}, Reason: "闲置", Attachments: []string{q.att[0]}},
			} {
				q.n++
				s, _, err := b.DisposeAsset(ctx, "会计李四", d)
				q.outcome(s, err, "sale of "+d.GetAssetId())
			}
		case "08-20":
			// Back-dated into July, whose books are closed.
			q.expense(50_000, supplier(2), "办公费", "日常支出", "补录七月报销", func(t *sanziv1.Transaction) { t.BusinessDate = "2026-07-20" })
			// Meetings and trips out of proportion to income.
			for i := range 4 {
				q.expense(2_500_000, supplier(i), "管理费用", "会议费", "会议及差旅")
			}
		case "09-01":
			q.income(900_000, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, "现金收取场地费（未存行）")
		case "09-14":
			// August's disclosure, late; August's bank reconciliation never.
			q.open("GOV-DISCLOSE", "2026-08", "八月财务公开")
		}
		for _, hhmm := range []string{"12:00", "18:00"} {
			q.at(day, hhmm)
			q.sweep()
		}
	}
	if neglected == "" {
		t.Fatal("the neglected reimbursement was not recorded")
	}

	// Render every alert, card and refusal, in chain order.
	var lines []string
	counts := map[string]int{}
	alerts, _, _, err := b.ListAlerts(books.AlertFilter{}, books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		al := a.GetAlert()
		counts[al.GetRuleCode()]++
		lines = append(lines, fmt.Sprintf("%s ALERT %-14s %-6s %s about %s key %s", a.GetEntry().GetRecordedAt().AsTime().In(cst).Format("01-02 15:04"),
			al.GetRuleCode(), al.GetSeverity(), al.GetRuleSetVersion(), cmp.Or(a.GetSubjectId(), "-"), cmp.Or(al.GetKey(), "-")))
	}
	cards, _, _, err := b.ListCards(books.CardFilter{}, books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		cd := c.GetCard()
		counts["card "+cd.GetLevel().String()]++
		lines = append(lines, fmt.Sprintf("%s CARD  %-7s %s %s/%s post %s person %s due %s", c.GetEntry().GetRecordedAt().AsTime().In(cst).Format("01-02 15:04"),
			strings.TrimPrefix(cd.GetLevel().String(), "CARD_LEVEL_"), cd.GetProcedureId(), cd.GetMatterCode(), cd.GetStepCode(), cd.GetPost(), cd.GetPerson(),
			cd.GetDeadline().AsTime().In(cst).Format("01-02 15:04")))
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i][:11] < lines[j][:11] })
	lines = append(lines, q.log...)
	for _, l := range q.log {
		counts["refused "+strings.Fields(l)[3]]++
	}
	var summary []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		summary = append(summary, fmt.Sprintf("# %-28s %d", k, counts[k]))
	}
	head := b.Ledger().Head(benchOrg)
	got := fmt.Sprintf("# Q3 2026, village %s: %d business entries recorded (chain head %d)\n%s\n%s\n",
		benchOrg, q.n, head.Seq, strings.Join(summary, "\n"), strings.Join(lines, "\n"))

	golden := filepath.Join("testdata", "quarter.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("scenario differs from %s at line %d:\n got  %s\n want %s\n(%d lines vs %d)", golden, i+1, gl[i], wl[i], len(gl), len(wl))
			}
		}
		t.Fatalf("scenario differs from %s in length: %d lines, want %d", golden, len(gl), len(wl))
	}
	// The scenario seeds at least 15 different rules.
	rulesSeen := map[string]bool{}
	for k := range counts {
		if f := strings.Fields(k); len(f) == 1 {
			rulesSeen[k] = true
		} else if f[0] == "refused" {
			for _, c := range strings.Split(f[1], ",") {
				rulesSeen[strings.TrimSuffix(c, ":")] = true
			}
		}
	}
	if len(rulesSeen) < 15 {
		t.Fatalf("only %d rules seen: %v", len(rulesSeen), slices.Sorted(maps.Keys(rulesSeen)))
	}
	t.Logf("%d business entries, chain head %d, %d rules fired or blocked: %v", q.n, head.Seq, len(rulesSeen), slices.Sorted(maps.Keys(rulesSeen)))
}
