package main

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A year of a village's business for the demo, generated from a seed so
// that two runs with the same seed record the same entries (same amounts,
// payees, dates and decision delays), and recorded through the village
// node's own gRPC API, signed in as its demo accounts, while the node's
// demo clock walks the year: every entry and decision is recorded at the
// moment of the year it belongs to, so step deadlines, cards, arrears and
// late decisions come out as they would have.

// demoClock is the clock of a demo node: it stands still at what the
// seeder sets (a moment of the past year) until Release, then it is the
// real time. It only moves forward.
type demoClock struct {
	mu   sync.Mutex
	at   time.Time
	real bool
}

func (c *demoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.at
}

// Set moves the clock to t (never back).
func (c *demoClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.at) {
		c.at = t
	}
	c.mu.Unlock()
}

// Release hands the clock over to the real time.
func (c *demoClock) Release() {
	c.mu.Lock()
	c.real = true
	c.mu.Unlock()
}

// demoYearStart is the first day of the demo's year: 365 days before
// today, at midnight China Standard Time.
func demoYearStart(now time.Time) time.Time {
	cst := time.FixedZone("CST", 8*3600)
	d := now.In(cst).AddDate(0, 0, -365)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, cst)
}

// villageProfile says how a village behaves.
type villageProfile string

const (
	profileOrdinary villageProfile = "ordinary"
	// profileMisbehaving splits payments to one payee just under the
	// four-deliberations threshold, pays relatives of its cadres in cash
	// and to personal accounts, and decides its steps late.
	profileMisbehaving villageProfile = "misbehaving"
)

// seedStats counts what the seeder did.
type seedStats struct {
	Entries, Refused, Decisions int
	// TownDecisions are the steps the town decided (TownPayments of them
	// the payments, the last step of a voucher), Disclosures the months
	// published, Reviews the town's moves of the village's alerts.
	TownDecisions, TownPayments, Disclosures, Reviews int
	// Reasons counts the refusals by their reason's first words.
	Reasons map[string]int
	// The books (demo_books.go): the opening cash and bank, the months
	// closed, the closes refused (CloseBlocked, never meant to be any),
	// those put off a working day for a village's overdue step
	// (CloseDeferred) and the months left open for one at the year's end
	// (CloseWaiting), and the last close's figures.
	OpeningCashFen, OpeningBankFen int64
	Closes, CloseBlocked           int
	CloseDeferred, CloseWaiting    int
	LastClose                      *sanziv1.MonthClose
}

// refuse counts a refusal.
func (s *yearSeeder) refuse(err error) {
	slog.Warn("the demo's seeding was refused", "org", s.org, "at", s.clock.Now(), "err", err)
	s.stats.Refused++
	if s.stats.Reasons == nil {
		s.stats.Reasons = map[string]int{}
	}
	msg := status.Convert(err).Message()
	if r := []rune(msg); len(r) > 48 {
		msg = string(r[:48])
	}
	s.stats.Reasons[msg]++
}

// action is one thing the seeder does at a moment of the year.
type action struct {
	at  time.Time
	n   int // tie-break: order of scheduling
	run func(ctx context.Context) error
}

type actionQueue []*action

func (q actionQueue) Len() int { return len(q) }
func (q actionQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].n < q[j].n
}
func (q actionQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *actionQueue) Push(x any)   { *q = append(*q, x.(*action)) }
func (q *actionQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// yearSeeder records one village's year.
type yearSeeder struct {
	org     string
	profile villageProfile
	rng     *rand.Rand
	clock   *demoClock
	conn    *grpc.ClientConn
	start   time.Time
	end     time.Time
	queue   actionQueue
	n       int
	stats   seedStats
	invoice int
	voucher int
	// tokens of the demo accounts, signed in at the demo clock's time and
	// signed in again before they expire (30 days).
	tokens  map[string]string
	expires map[string]time.Time
	// progress is told the running counts now and then.
	progress func(seedStats, time.Time)
	// town decides the town's steps and reviews; nil leaves them open.
	town *townDesk
	// catalog is the default catalog (the demo district's in force).
	catalog *sanziv1.Catalog
	// The books' plan (demo_books.go): the planned cash and bank
	// movements, the assets on the books when they open, and the stream
	// of random numbers their opening figures come from.
	flows     []demoFlow
	assets    []demoAsset
	booksRng  *rand.Rand
	cashLimit int64 // CASH-PAY's, read once
}

// newYearSeeder makes the seeder of org for seed: the village's own
// stream of random numbers comes from the seed and the org code.
func newYearSeeder(org string, profile villageProfile, seed uint64, clock *demoClock, conn *grpc.ClientConn, start time.Time) *yearSeeder {
	h := fnv.New64a()
	h.Write([]byte(org))
	return &yearSeeder{org: org, profile: profile, rng: rand.New(rand.NewPCG(seed, h.Sum64())), clock: clock, conn: conn,
		start: start, end: start.AddDate(0, 0, 365), tokens: map[string]string{}, expires: map[string]time.Time{},
		booksRng: rand.New(rand.NewPCG(seed^0xb00c5, h.Sum64()))}
}

func (s *yearSeeder) at(t time.Time, run func(ctx context.Context) error) {
	s.n++
	heap.Push(&s.queue, &action{at: t, n: s.n, run: run})
}

// day is the start of day d of the year (0-based) at hour h and minute m.
func (s *yearSeeder) day(d, h, m int) time.Time {
	return s.start.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// ctxAs is ctx carrying the bearer token of account, signed in (again)
// at the clock's time when it has none or it is about to expire.
func (s *yearSeeder) ctxAs(ctx context.Context, account string) (context.Context, error) {
	now := s.clock.Now()
	if tok := s.tokens[account]; tok == "" || now.After(s.expires[account].Add(-24*time.Hour)) {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		in, err := sanziv1.NewAccountServiceClient(s.conn).Login(c, &sanziv1.LoginRequest{Account: account, Password: demoPassword, Label: "demo year"})
		if err != nil {
			return nil, fmt.Errorf("sign in as %s: %w", account, err)
		}
		s.tokens[account], s.expires[account] = in.GetSecret(), in.GetExpiresAt().AsTime()
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.tokens[account]), nil
}

// Run plans the year and records it in time order. A refusal by the
// node's rules (a blocked cash payment, say) is counted, not fatal: that
// is the demo's few percent of rule breaches meeting the rules.
func (s *yearSeeder) Run(ctx context.Context) (seedStats, error) {
	s.plan()
	last := time.Time{}
	for s.queue.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return s.stats, err
		}
		a := heap.Pop(&s.queue).(*action)
		if a.at.After(s.end) {
			continue
		}
		s.clock.Set(a.at)
		if err := a.run(ctx); err != nil {
			return s.stats, err
		}
		if s.progress != nil && a.at.Sub(last) > 7*24*time.Hour {
			last = a.at
			s.progress(s.stats, a.at)
		}
	}
	if s.progress != nil {
		s.progress(s.stats, s.end)
	}
	return s.stats, nil
}

// seasonal is the relative amount of business in month m (1–12): spring
// ploughing and irrigation, the autumn harvest and the year-end accounts.
var seasonal = [13]float64{0, 0.7, 0.6, 1.3, 1.4, 1.1, 0.9, 0.8, 0.9, 1.2, 1.3, 1.0, 1.4}

// benfordYuan draws an amount in fen whose first digit follows Benford's
// law: log-uniform between lo and hi yuan.
func (s *yearSeeder) benfordYuan(lo, hi float64) int64 {
	y := math.Pow(10, math.Log10(lo)+s.rng.Float64()*(math.Log10(hi)-math.Log10(lo)))
	return int64(math.Round(y * 100))
}

func (s *yearSeeder) nextInvoice() string {
	s.invoice++
	return fmt.Sprintf("2535%s%04d", s.org[6:12], s.invoice) + fmt.Sprintf("%06d", s.rng.IntN(1_000_000))
}

func (s *yearSeeder) nextVoucher(t time.Time) string {
	s.voucher++
	return fmt.Sprintf("记-%s-%03d", t.Format("0601"), s.voucher)
}

var (
	demoFirms = []string{"福州某建材有限公司", "闽侯县农资供应站", "某某水利工程队", "县供电公司", "中国移动某分公司", "某某印刷厂", "某某农机合作社", "镇卫生院", "某某物业服务公司", "某某园林绿化公司"}
	demoSpend = []struct{ summary, category string }{
		{"办公用品", "管理费用"}, {"村部水电费", "管理费用"}, {"沟渠清淤劳务费", "公益支出"}, {"道路维修材料费", "公益支出"},
		{"农田灌溉电费", "经营支出"}, {"病虫害统防统治农药", "经营支出"}, {"村庄保洁费", "公益支出"}, {"路灯维修", "公益支出"},
		{"村干部误工补贴", "管理费用"}, {"宣传栏制作", "管理费用"}, {"防汛物资", "公益支出"}, {"种苗采购", "经营支出"},
	}
	demoSurnames = []string{"林", "陈", "黄", "郑", "王", "吴", "刘", "张", "李", "杨"}
	demoGiven    = []string{"建国", "秀英", "志强", "美华", "国栋", "丽", "金水", "春生", "玉兰", "明"}
)

// residentID makes a valid 18-digit resident ID number (GB 11643: region,
// birth date, sequence, MOD 11-2 check digit).
func (s *yearSeeder) residentID() string {
	birth := time.Date(1950+s.rng.IntN(50), time.Month(1+s.rng.IntN(12)), 1+s.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	body := fmt.Sprintf("350505%s%03d", birth.Format("20060102"), s.rng.IntN(1000))
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

func (s *yearSeeder) person() *sanziv1.Counterparty {
	return &sanziv1.Counterparty{Name: demoSurnames[s.rng.IntN(len(demoSurnames))] + demoGiven[s.rng.IntN(len(demoGiven))],
		IdNumber: s.residentID(), BankAccount: fmt.Sprintf("62284800%010d", s.rng.Int64N(1e10))}
}

func (s *yearSeeder) firm() *sanziv1.Counterparty {
	return &sanziv1.Counterparty{Name: demoFirms[s.rng.IntN(len(demoFirms))], BankAccount: fmt.Sprintf("35050%011d", s.rng.Int64N(1e11)), BankName: "农商银行"}
}

// workingDaysLater is t moved n working days on (weekends skipped; the
// holidays of the calendar are not: a demo's delays need not be exact).
func workingDaysLater(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

// plan schedules the year's business.
func (s *yearSeeder) plan() {
	bad := s.profile == profileMisbehaving
	// Contracts let out at the start of the year, paid twice a year;
	// about one instalment in six is never paid (arrears).
	for i := range 3 + s.rng.IntN(3) {
		s.planContract(i)
	}
	// Assets: registered, appraised, one sold after its appraisal.
	for i := range 3 + s.rng.IntN(2) {
		s.planAsset(i, i == 0)
	}
	s.planDisclosures()
	s.planAlertReviews()
	defer s.planBooks() // once every payment and income is planned
	for d := range 365 {
		t := s.day(d, 0, 0)
		wd := t.Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		m := t.Month()
		// Expenses: about 14 a month scaled by the season.
		for k := 0; float64(k) < s.poisson(0.65*seasonal[m]); k++ {
			s.planExpense(d)
		}
		// Subsidies arrive at the quarter's start, other income now and then.
		if t.Day() <= 3 && (m == 1 || m == 4 || m == 7 || m == 10) && k0(t) {
			s.planIncome(d, "区农业农村局", "补助收入", "上级补助资金", s.benfordYuan(20_000, 200_000))
		}
		if s.rng.Float64() < 0.04 {
			s.planIncome(d, "村集体经营收入", "经营收入", "村集体厂房水电费代收", s.benfordYuan(200, 8_000))
		}
	}
	if bad {
		// Split payments: the same works paid in parts just under the
		// 50,000 yuan threshold, a few days apart, four times a year.
		for _, month := range []int{2, 5, 8, 11} {
			payee := s.firm()
			d0 := 30*month + s.rng.IntN(10)
			for part := range 3 {
				amt := int64(45_000_00 + s.rng.IntN(4_900_00))
				s.planPayment(d0+part*3, payee, amt, sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, "村道硬化工程款（分期）", "公益支出", true)
			}
		}
		// Payments to the cadres' relatives: personal accounts, in cash
		// just under the cash limit, every week or so.
		relatives := []*sanziv1.Counterparty{s.person(), s.person(), s.person()}
		for i, r := range relatives {
			r.Name = "林" + demoGiven[i] // the village head's family name
		}
		for d := 5; d < 360; d += 6 + s.rng.IntN(4) {
			r := relatives[s.rng.IntN(len(relatives))]
			if s.rng.IntN(2) == 0 {
				s.planPayment(d, r, int64(900_00+s.rng.IntN(99_00)), sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, "临时用工劳务费", "管理费用", true)
			} else {
				s.planPayment(d, r, int64(2_000_00+s.rng.IntN(8_000_00)), sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, "误工补贴", "管理费用", true)
			}
		}
	}
}

// k0 holds on the first working day the subsidy check sees in a quarter's
// first days: it lets only one through.
func k0(t time.Time) bool {
	d := t.Day()
	return d == 1 || (d == 2 && t.Weekday() == time.Monday) || (d == 3 && t.Weekday() == time.Monday)
}

// poisson draws a Poisson count with mean lambda (Knuth; lambda is small).
func (s *yearSeeder) poisson(lambda float64) float64 {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return float64(k)
		}
		k++
	}
}

// planExpense schedules one ordinary expense on day d: a Benford amount
// between 50 and 40,000 yuan, to a firm by bank transfer or village card,
// now and then to a villager; a few percent break a rule (cash over the
// limit, which the node refuses).
func (s *yearSeeder) planExpense(d int) {
	sp := demoSpend[s.rng.IntN(len(demoSpend))]
	amt := s.benfordYuan(50, 40_000)
	method := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	payee := s.firm()
	switch r := s.rng.Float64(); {
	case r < 0.03: // a breach: cash above the limit (CASH-PAY refuses it)
		method, amt = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, int64(1_200_00+s.rng.IntN(3_000_00))
	case r < 0.06: // labour paid to a villager's own account (PRIVATE-ACCT warns)
		payee = s.person()
		amt = int64(1_500_00 + s.rng.IntN(3_000_00))
	case r < 0.10:
		method, amt = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, int64(50_00+s.rng.IntN(900_00))
	case r < 0.35:
		method = sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD
		amt = min(amt, 5_000_00)
	}
	if s.profile == profileMisbehaving {
		// Amounts heaped just under round thresholds: not Benford.
		amt = []int64{4_900_00, 9_800_00, 19_500_00, 990_00}[s.rng.IntN(4)] + int64(s.rng.IntN(99_00))
	}
	s.planPayment(d, payee, amt, method, sp.summary, sp.category, false)
}

// planPayment schedules an expense on day d and its village steps.
func (s *yearSeeder) planPayment(d int, payee *sanziv1.Counterparty, amt int64, method sanziv1.PaymentMethod, summary, category string, late bool) {
	t := s.day(d, 9+s.rng.IntN(8), s.rng.IntN(60))
	if method == sanziv1.PaymentMethod_PAYMENT_METHOD_CASH {
		if amt <= s.cashPayLimit() { // above it CASH-PAY refuses the payment
			s.flows = append(s.flows, demoFlow{at: t, cash: -amt})
		}
	} else {
		s.flows = append(s.flows, demoFlow{at: t, bank: -amt})
	}
	s.at(t, func(ctx context.Context) error {
		tx := &sanziv1.Transaction{Org: s.org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: amt, PaymentMethod: method,
			Counterparty: payee, BusinessDate: t.Format(time.DateOnly), Summary: summary, Category: category,
			VoucherNumber: s.nextVoucher(t), InvoiceNumber: s.nextInvoice()}
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		out, err := sanziv1.NewTransactionServiceClient(s.conn).RecordTransaction(c, &sanziv1.RecordTransactionRequest{Author: demoAuthor, Transaction: tx})
		if refused(err) {
			s.refuse(err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("record expense: %w", err)
		}
		s.stats.Entries += 2 // the voucher and the procedure it opens
		s.planProcedure(t, procedureOf(out.GetEntry()), "FUND-REIMB", s.lateVillage(late), s.lateTown)
		return nil
	})
}

// procedureOf is the id of the procedure a recorded entry opened: the
// entry appended right after it.
func procedureOf(e *sanziv1.EntryMeta) string {
	return fmt.Sprintf("%s-%d", e.GetOrigin(), e.GetSeq()+1)
}

// lateVillage says whether the village's steps of a procedure run late:
// always at a misbehaving village, and for a payment made to look
// ordinary (late).
func (s *yearSeeder) lateVillage(late bool) func() bool {
	return func() bool { return late || s.profile == profileMisbehaving }
}

// lateTown says whether the town's next step runs late: now and then at a
// misbehaving village, whose paperwork reaches the town incomplete (the
// stepDelay of an ordinary one is over its limit a few percent of the
// time anyway).
func (s *yearSeeder) lateTown() bool {
	return s.profile == profileMisbehaving && s.rng.Float64() < 0.3
}

// planIncome schedules an income voucher (it opens FUND-INCOME; the
// accountant issues the receipt).
func (s *yearSeeder) planIncome(d int, payer, category, summary string, amt int64) {
	t := s.day(d, 10, s.rng.IntN(60))
	s.flows = append(s.flows, demoFlow{at: t, bank: amt})
	s.at(t, func(ctx context.Context) error {
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		out, err := sanziv1.NewTransactionServiceClient(s.conn).RecordTransaction(c, &sanziv1.RecordTransactionRequest{Author: demoAuthor, Transaction: &sanziv1.Transaction{
			Org: s.org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: amt, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
			Counterparty: &sanziv1.Counterparty{Name: payer}, BusinessDate: t.Format(time.DateOnly), Summary: summary, Category: category, VoucherNumber: s.nextVoucher(t)}})
		if refused(err) {
			s.refuse(err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("record income: %w", err)
		}
		s.stats.Entries += 2
		s.planProcedure(t, procedureOf(out.GetEntry()), "FUND-INCOME", s.lateVillage(false), s.lateTown)
		return nil
	})
}

// planContract schedules a contract let out by tender for five years with
// two instalments a year; about one instalment in six goes unpaid.
func (s *yearSeeder) planContract(i int) {
	objects := []struct {
		kind      sanziv1.ObjectKind
		name, loc string
		mu        float64
	}{
		{sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, "鱼塘", "村东", 35}, {sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, "机动地", "村北", 42},
		{sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, "山林", "后山", 48}, {sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, "果园", "村南", 20},
		{sanziv1.ObjectKind_OBJECT_KIND_RESOURCE, "茶园", "西坡", 30},
	}
	o := objects[i%len(objects)]
	d := 5 + s.rng.IntN(40)
	t := s.day(d, 15, 0)
	annual := s.benfordYuan(8_000, 60_000)
	party := s.person()
	start := t.AddDate(0, 0, 1)
	var sched []*sanziv1.ScheduledPayment
	for k := range 10 {
		sched = append(sched, &sanziv1.ScheduledPayment{DueDate: start.AddDate(0, 6*k, 0).Format(time.DateOnly), AmountFen: annual / 2})
	}
	s.at(t, func(ctx context.Context) error {
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		out, err := sanziv1.NewContractServiceClient(s.conn).RecordContract(c, &sanziv1.RecordContractRequest{Author: demoAuthor, Contract: &sanziv1.Contract{
			Org: s.org, Kind: sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT, ContractNumber: fmt.Sprintf("HT-%s-%02d", t.Format("2006"), i+1), Counterparty: party,
			Object:    &sanziv1.ContractObject{Kind: o.kind, ObjectId: fmt.Sprintf("ZY-%02d", i+1), AreaMu: o.mu, Location: o.loc + o.name},
			TermStart: start.Format(time.DateOnly), TermEnd: start.AddDate(5, 0, -1).Format(time.DateOnly), AnnualAmountFen: annual,
			Schedule: sched, AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_TENDER, SignedDate: t.Format(time.DateOnly), Summary: o.name + "公开招标发包"}})
		if refused(err) {
			s.refuse(err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("record contract: %w", err)
		}
		s.stats.Entries += 2 // the contract and its RES-CONTRACT procedure
		id := out.GetEntry().GetId()
		s.planProcedure(t, procedureOf(out.GetEntry()), "RES-CONTRACT", s.lateVillage(false), s.lateTown)
		for k := 0; k < 2; k++ {
			due := start.AddDate(0, 6*k, 0)
			if s.rng.IntN(6) == 0 || (s.profile == profileMisbehaving && s.rng.IntN(2) == 0) {
				continue // arrears: never paid
			}
			pay := due.AddDate(0, 0, s.rng.IntN(12)).Add(10 * time.Hour)
			s.at(pay, func(ctx context.Context) error {
				c, err := s.ctxAs(ctx, demoAuthor)
				if err != nil {
					return err
				}
				_, err = sanziv1.NewContractServiceClient(s.conn).RecordContractPayment(c, &sanziv1.RecordContractPaymentRequest{Author: demoAuthor, Payment: &sanziv1.ContractPayment{
					Org: s.org, ContractId: id, AmountFen: annual / 2, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
					BusinessDate: pay.Format(time.DateOnly), Period: fmt.Sprintf("第%d期", k+1)}})
				if refused(err) {
					s.refuse(err)
					return nil
				}
				if err != nil {
					return fmt.Errorf("record contract payment: %w", err)
				}
				s.stats.Entries++
				return nil
			})
		}
		return nil
	})
}

// planAsset schedules an asset's registration and appraisal; sold, a
// disposal at (an ordinary village) or well under (a misbehaving one)
// the appraised value.
func (s *yearSeeder) planAsset(i int, sell bool) {
	names := []struct{ name, cat string }{{"村部办公楼", "房屋建筑物"}, {"农机具仓库", "房屋建筑物"}, {"拖拉机", "机器设备"}, {"灌溉泵站", "机器设备"}, {"旧村小学校舍", "房屋建筑物"}}
	a := names[i%len(names)]
	value := s.benfordYuan(30_000, 1_500_000)
	book := demoAsset{code: s.demoAssetCode(i), name: a.name, valueFen: value}
	s.assets = append(s.assets, book)
	t := s.day(10+s.rng.IntN(60), 11, 0)
	s.at(t, func(ctx context.Context) error {
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		cl := sanziv1.NewAssetServiceClient(s.conn)
		out, err := cl.RegisterAsset(c, &sanziv1.RegisterAssetRequest{Author: demoAuthor, Asset: &sanziv1.AssetRegistration{
			Org: s.org, AssetCode: book.code, Name: a.name, Category: a.cat, OriginalValueFen: value,
			AcquiredDate: fmt.Sprintf("%d-06-30", 2005+s.rng.IntN(15)), Location: "村委会"}})
		if refused(err) {
			s.refuse(err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("register asset: %w", err)
		}
		s.stats.Entries++
		id := out.GetEntry().GetId()
		appraised := value * int64(60+s.rng.IntN(30)) / 100
		at := t.AddDate(0, 1+s.rng.IntN(4), 0)
		s.at(at, func(ctx context.Context) error {
			c, err := s.ctxAs(ctx, demoAuthor)
			if err != nil {
				return err
			}
			report, err := sanziv1.NewAttachmentServiceClient(s.conn).UploadAttachment(c, &sanziv1.UploadAttachmentRequest{
				Content:  []byte(fmt.Sprintf("资产评估报告（示例）：%s %s，评估价值 %.2f 元。", s.org, a.name, float64(appraised)/100)),
				FileName: "评估报告.txt", ContentType: "text/plain; charset=utf-8"})
			if err != nil {
				return fmt.Errorf("upload the appraisal report: %w", err)
			}
			_, err = cl.AppraiseAsset(c, &sanziv1.AppraiseAssetRequest{Author: demoAuthor, Appraisal: &sanziv1.AssetAppraisal{
				Org: s.org, AssetId: id, AppraisedValueFen: appraised, Appraiser: "某资产评估事务所", AppraisalDate: at.Format(time.DateOnly),
				ReportAttachment: report.GetAttachment().GetSha256()}})
			if refused(err) {
				s.refuse(err)
				return nil
			}
			if err != nil {
				return fmt.Errorf("appraise asset: %w", err)
			}
			s.stats.Entries++
			if !sell {
				return nil
			}
			price := appraised + appraised*int64(s.rng.IntN(15))/100
			if s.profile == profileMisbehaving {
				price = appraised * 55 / 100 // sold to a relative well under its appraisal (UNDERPRICE)
			}
			when := at.AddDate(0, 2, 0)
			s.at(when, func(ctx context.Context) error {
				c, err := s.ctxAs(ctx, demoAuthor)
				if err != nil {
					return err
				}
				out, err := cl.DisposeAsset(c, &sanziv1.DisposeAssetRequest{Author: demoAuthor, Disposal: &sanziv1.AssetDisposal{
					Org: s.org, AssetId: id, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, PriceFen: price, Counterparty: s.person(),
					DisposalDate: when.Format(time.DateOnly), Reason: "闲置资产公开处置"}})
				if refused(err) {
					s.refuse(err)
					return nil
				}
				if err != nil {
					return fmt.Errorf("dispose asset: %w", err)
				}
				s.stats.Entries++
				if m := s.matter("ASSET-DISPOSE"); m != nil && price >= m.GetThresholdFen() {
					s.stats.Entries++ // and its ASSET-DISPOSE procedure
					s.planProcedure(when, procedureOf(out.GetEntry()), m.GetCode(), s.lateVillage(false), s.lateTown)
				}
				return nil // the disposal booked its voucher in the same append
			})
			return nil
		})
		return nil
	})
}

// refused says whether err is the node refusing the entry on its merits
// (a rule, a check of the workflow): the demo counts those and goes on.
func refused(err error) bool {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.InvalidArgument, codes.PermissionDenied, codes.AlreadyExists, codes.NotFound:
		return true
	}
	return false
}
