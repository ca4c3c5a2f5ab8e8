// Package sample records years of a village's business into a data folder
// through the node's real books and supervision (validation, the default
// rule set, procedures and their step decisions, the stateful rules, the
// step timers' cards), so that benchmarks can start a node on 100,000 or
// 1,000,000 genuine signed entries without recording them one by one
// through the API, which would take hours. The folder is laid out as a
// village node's (keys/, ledger.db, attachments/, FORMAT), and
// node/server opens it as it would its own.
//
// What is generated, day by day on an injected clock that walks the
// period: small expenses to a few hundred payees (each opens its 日常报销
// procedure, whose five steps are then approved over the following days,
// some late enough to earn cards), incomes (收入入账), a lease contract
// now and then with monthly rent payments, a reversal of about one entry
// in a hundred, the review of most alerts, and the step timers' and
// time-driven rules' sweep at the end of each day. The books (issue 19):
// the opening balances the day before the first day (cash, bank, a few
// fixed assets, 资本 and 公积公益金), a voucher the node derives from each
// record, a subsidy (补助收入) whenever the bank would run low, so that
// neither cash nor bank ever goes negative, and the close of each month
// on the next month's first morning.
//
// One shortcut: the town's steps (镇审核记账, 支付) are decided in the
// village's own chain, as a node without a town link decides them, rather
// than in a town's chain the village pulls; the volume and shape of the
// village's history are the same.
package sample

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/dataformat"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Config says what to generate.
type Config struct {
	// Dir is the data folder; it must not hold a ledger yet.
	Dir string
	// Org is the village's 12-digit code.
	Org string
	// Entries is how many entries the village's chain holds at least when
	// Village returns.
	Entries int
	// Days is the period the business spreads over, ending at End; default
	// 3650 (ten years).
	Days int
	// End is the last day; default the start of today.
	End time.Time
	// Seed makes two runs record the same business.
	Seed uint64
	// Logger shows progress; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return errors.New("sample: Dir is required")
	}
	if lvl, err := idcode.OrgCode(c.Org); err != nil || lvl != idcode.LevelVillage {
		return fmt.Errorf("sample: Org %q is not a village code", c.Org)
	}
	if c.Entries <= 0 {
		return errors.New("sample: Entries must be at least 1")
	}
	if c.Days <= 0 {
		c.Days = 3650
	}
	if c.End.IsZero() {
		c.End = time.Now()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Result counts what was recorded.
type Result struct {
	Entries       uint64 // in the village's chain
	Transactions  int
	Contracts     int
	Payments      int
	Reversals     int
	Decisions     int // step decisions
	AlertReviews  int // alerts acknowledged
	SweepFindings int // cards and alerts the evening sweeps recorded
	Days          int // days of business recorded
	// The books: the months closed, the subsidies recorded to keep the
	// bank from running dry, the opening cash and bank, the last close.
	Closes, Subsidies              int
	OpeningCashFen, OpeningBankFen int64
	LastClose                      *sanziv1.MonthClose
}

// clock stands where the generator puts it.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	if t.After(c.at) {
		c.at = t
	}
	c.mu.Unlock()
}

// entriesPerBusinessRecord is about how many entries one expense or income
// makes (the entry, its procedure, its step decisions), to spread the
// asked entries over the days.
const entriesPerBusinessRecord = 6

// Village records cfg.Entries entries or more of a village's business into
// a new data folder at cfg.Dir, and logs its progress every 10 %.
func Village(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if _, err := dataformat.Ensure(ctx, dataformat.Config{Dir: cfg.Dir, Logger: cfg.Logger}); err != nil {
		return Result{}, err
	}
	ring, _, err := keys.Ensure(filepath.Join(cfg.Dir, "keys"), []string{cfg.Org})
	if err != nil {
		return Result{}, err
	}
	loc := time.FixedZone("CST", 8*3600)
	end := cfg.End.In(loc)
	first := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -cfg.Days+1)
	clk := &clock{at: first}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(cfg.Dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Split: entries.Masker{},
		Now: clk.Now, Logger: cfg.Logger, NoSync: true})
	if err != nil {
		return Result{}, err
	}
	defer l.Close()
	att, err := attach.Open(filepath.Join(cfg.Dir, "attachments"), l.DB(), 0, clk.Now)
	if err != nil {
		return Result{}, err
	}
	b, err := books.New(l, att, &books.Validator{Served: []string{cfg.Org}, Now: clk.Now})
	if err != nil {
		return Result{}, err
	}
	e, err := rules.Compile(rules.Default())
	if err != nil {
		return Result{}, err
	}
	b.SetRules(e)
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		return Result{}, err
	}
	sup, err := supervise.New(ctx, b, supervise.Config{Catalog: catalog.Default(cfg.Org[:6]), Calendar: cal})
	if err != nil {
		return Result{}, err
	}
	g := &gen{cfg: cfg, b: b, sup: sup, clk: clk, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5a17)), loc: loc,
		booksRnd: rand.New(rand.NewPCG(cfg.Seed^0xb00c5, cfg.Seed))}
	if err := g.opening(ctx, first); err != nil {
		return g.res, fmt.Errorf("sample: %w", err)
	}
	perDay := max(1, (cfg.Entries+cfg.Days*entriesPerBusinessRecord-1)/(cfg.Days*entriesPerBusinessRecord))
	nextReport := cfg.Entries / 10
	for d := 0; l.Head(cfg.Org).Seq < uint64(cfg.Entries); d++ {
		if err := ctx.Err(); err != nil {
			return g.res, err
		}
		if err := g.day(ctx, first.AddDate(0, 0, d), perDay); err != nil {
			return g.res, fmt.Errorf("sample: day %d: %w", d, err)
		}
		g.res.Days = d + 1
		if n := int(l.Head(cfg.Org).Seq); n >= nextReport {
			cfg.Logger.Info("sample village recorded", "entries", n, "of", cfg.Entries, "days", d+1)
			nextReport = n + cfg.Entries/10
		}
	}
	g.res.Entries = l.Head(cfg.Org).Seq
	return g.res, nil
}

// gen is one generation under way.
type gen struct {
	cfg  Config
	b    *books.Books
	sup  *supervise.Supervisor
	clk  *clock
	rnd  *rand.Rand
	loc  *time.Location
	res  Result
	n    int        // business records so far (voucher numbers)
	open []openProc // procedures waiting for their next decision
	rev  []toReverse
	ctrs []string // live contracts, paid monthly
	// bank is the balance of 银行存款 the records so far leave (every
	// record is paid by bank transfer); booksRnd draws the opening
	// balances, apart from the business's numbers.
	bank     int64
	booksRnd *rand.Rand
}

// toReverse is an entry to reverse later and what its reversal does to the bank.
type toReverse struct {
	id   string
	bank int64
}

type openProc struct {
	id  string
	due time.Time // when its open step is decided
}

// day records one day of business: the morning's records, the decisions
// due, the afternoon's reviews and reversals, the evening sweep.
func (g *gen) day(ctx context.Context, d time.Time, perDay int) error {
	at := func(h, m int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	if d.Day() == 1 {
		g.clk.set(at(8, 30))
		if err := g.closeMonth(ctx, d.AddDate(0, 0, -1).Format("2006-01")); err != nil {
			return err
		}
	}
	g.clk.set(at(9, 0))
	date := d.Format(time.DateOnly)
	for i := range perDay {
		g.clk.set(at(9, i%600/10))
		if err := g.record(ctx, date); err != nil {
			return err
		}
	}
	if d.Day() == 5 {
		if err := g.rent(ctx, date); err != nil {
			return err
		}
	}
	if g.rnd.IntN(60) == 0 {
		if err := g.contract(ctx, d); err != nil {
			return err
		}
	}
	g.clk.set(at(14, 0))
	if err := g.decide(ctx, at(14, 0)); err != nil {
		return err
	}
	if err := g.reverse(ctx); err != nil {
		return err
	}
	g.clk.set(at(18, 0))
	out, err := g.sup.Sweep(ctx, at(18, 0))
	if err != nil {
		return err
	}
	g.res.SweepFindings += len(out)
	return g.review(ctx, out)
}

// payees is how many suppliers the village pays.
const payees = 300

// record records one expense (four in five) or income.
func (g *gen) record(ctx context.Context, date string) error {
	g.n++
	i := g.n
	tx := &sanziv1.Transaction{
		Org: g.cfg.Org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(2_000 + g.rnd.IntN(400_000)),
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		BusinessDate:  date, Summary: fmt.Sprintf("材料费 第%d笔", i), VoucherNumber: fmt.Sprintf("记-%07d", i),
		InvoiceCode: "035001900111", InvoiceNumber: fmt.Sprintf("%08d", i), BudgetLine: "公益事业支出", Category: "公益支出",
	}
	if err := g.topUp(ctx, date, tx.AmountFen); err != nil {
		return err
	}
	p := g.rnd.IntN(payees)
	tx.Counterparty = &sanziv1.Counterparty{Name: fmt.Sprintf("供应商%d", p), BankAccount: fmt.Sprintf("622202020011%07d", p)}
	if g.rnd.IntN(5) == 0 {
		tx.Kind, tx.Category, tx.BudgetLine = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, "经营收入", "经营收入"
		tx.Summary = fmt.Sprintf("经营收入 第%d笔", i)
		tx.InvoiceCode, tx.InvoiceNumber = "", ""
	}
	st, _, err := g.b.RecordTransaction(ctx, "accountant", tx)
	if err != nil {
		return fmt.Errorf("record transaction %d: %w", i, err)
	}
	g.res.Transactions++
	moved := -tx.AmountFen
	if tx.Kind == sanziv1.TransactionKind_TRANSACTION_KIND_INCOME {
		moved = tx.AmountFen
	}
	g.bank += moved
	// The procedure it opens is the next entry of the same append.
	g.open = append(g.open, openProc{id: ledger.EntryID(st.Origin, st.Seq+1), due: g.clk.Now().Add(g.delay())})
	if g.rnd.IntN(100) == 0 {
		g.rev = append(g.rev, toReverse{id: st.ID(), bank: -moved})
	}
	return nil
}

// delay is how long a step waits for its decision: mostly a day, one in
// twenty late enough to earn a card.
func (g *gen) delay() time.Duration {
	if g.rnd.IntN(20) == 0 {
		return time.Duration(4+g.rnd.IntN(6)) * 24 * time.Hour
	}
	return time.Duration(12+g.rnd.IntN(20)) * time.Hour
}

// decide approves the open step of every procedure whose turn has come.
func (g *gen) decide(ctx context.Context, now time.Time) error {
	keep := g.open[:0]
	for _, op := range g.open {
		if op.due.After(now) {
			keep = append(keep, op)
			continue
		}
		p, err := g.sup.Procedure(op.id)
		if err != nil {
			return fmt.Errorf("procedure %s: %w", op.id, err)
		}
		step, _ := p.OpenStep()
		if step == nil {
			continue
		}
		_, p, err = g.sup.DecideStep(ctx, "decider-"+step.GetPost(), &sanziv1.StepDecision{Org: g.cfg.Org, ProcedureId: op.id,
			StepCode: step.GetCode(), Post: step.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_APPROVE})
		if err != nil {
			return fmt.Errorf("decide %s step %s: %w", op.id, step.GetCode(), err)
		}
		g.res.Decisions++
		if p.Status == workflow.StatusOpen {
			op.due = now.Add(g.delay())
			keep = append(keep, op)
		}
	}
	g.open = keep
	return nil
}

// reverse reverses the entries marked for it.
func (g *gen) reverse(ctx context.Context) error {
	for _, r := range g.rev {
		if _, err := g.b.RecordReversal(ctx, "accountant", &sanziv1.Reversal{Org: g.cfg.Org, TargetId: r.id, Reason: "录入错误，冲销"}); err != nil {
			return fmt.Errorf("reverse %s: %w", r.id, err)
		}
		g.bank += r.bank
		g.res.Reversals++
	}
	g.rev = g.rev[:0]
	return nil
}

// contract leases a parcel for three years, rent due monthly.
func (g *gen) contract(ctx context.Context, d time.Time) error {
	n := g.res.Contracts + 1
	c := &sanziv1.Contract{
		Org: g.cfg.Org, Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: fmt.Sprintf("租-%05d", n),
		Counterparty: &sanziv1.Counterparty{Name: fmt.Sprintf("承租人%d", n), BankAccount: fmt.Sprintf("622202030011%07d", n)},
		Object:       &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: fmt.Sprintf("地块-%05d", n), AreaMu: 5},
		TermStart:    d.Format(time.DateOnly), TermEnd: d.AddDate(3, 0, 0).Format(time.DateOnly),
		AnnualAmountFen: 1_200_000, AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_TENDER, SignedDate: d.Format(time.DateOnly),
	}
	for m := 1; m <= 36; m++ {
		c.Schedule = append(c.Schedule, &sanziv1.ScheduledPayment{DueDate: d.AddDate(0, m, 0).Format(time.DateOnly), AmountFen: 100_000})
	}
	st, _, err := g.b.RecordContract(ctx, "accountant", c)
	if err != nil {
		return fmt.Errorf("record contract %d: %w", n, err)
	}
	g.res.Contracts++
	g.ctrs = append(g.ctrs, st.ID())
	g.open = append(g.open, openProc{id: ledger.EntryID(st.Origin, st.Seq+1), due: g.clk.Now().Add(g.delay())})
	return nil
}

// rent records this month's rent of each live contract, mostly paid.
func (g *gen) rent(ctx context.Context, date string) error {
	for _, id := range g.ctrs {
		if g.rnd.IntN(10) == 0 {
			continue // unpaid this month: ARREARS will see it
		}
		if _, err := g.b.RecordContractPayment(ctx, "accountant", &sanziv1.ContractPayment{Org: g.cfg.Org, ContractId: id, AmountFen: 100_000,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: date, Period: date[:7]}); err != nil {
			return fmt.Errorf("pay contract %s: %w", id, err)
		}
		g.bank += 100_000
		g.res.Payments++
	}
	if len(g.ctrs) > 12 {
		g.ctrs = g.ctrs[len(g.ctrs)-12:] // older leases ended
	}
	return nil
}

// review acknowledges most alerts the sweep raised.
func (g *gen) review(ctx context.Context, out []*ledger.Stored) error {
	for _, st := range out {
		if st.Type != sanziv1.EntryType_ENTRY_TYPE_ALERT || g.rnd.IntN(4) == 0 {
			continue
		}
		if _, err := g.b.UpdateAlertStatus(ctx, "town-reviewer", &sanziv1.AlertTransition{Org: st.Origin, AlertId: st.ID(),
			Status: sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED}); err != nil {
			return fmt.Errorf("acknowledge alert %s: %w", st.ID(), err)
		}
		g.res.AlertReviews++
	}
	return nil
}
