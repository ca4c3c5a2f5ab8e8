package supervise_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/town"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// fakeClock is the injected clock of the supervision tests: nothing sleeps
// for a real deadline.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// benchOrg is the village the tests record for (named as in the books'
// tests, where it came from).
const benchOrg = "350505100201"

var cst = time.FixedZone("CST", 8*3600)

func cstTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

// node is a supervised node's books and the supervision that follows them,
// wired as the server wires them.
type node struct {
	*books.Books
	*supervise.Supervisor
	tier supervise.Tier
}

// TownDecisionsRefused is how many of its town's decisions a village's
// tier could not apply (0 at a town).
func (n node) TownDecisionsRefused() int {
	if v, ok := n.tier.(*town.Village); ok {
		return v.Refused()
	}
	return 0
}

// UpdateAlertStatus goes through the supervision, as the API does: at a
// town, a village's alert is reviewed by the town's decision.
func (n node) UpdateAlertStatus(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error) {
	return n.Supervisor.UpdateAlertStatus(ctx, author, tr)
}

// openSupervised opens books in dir with the default rules (or rs),
// supervision on and the clock given, without fsync; close it with the
// returned function (a restart reopens the same dir).
func openSupervised(tb testing.TB, dir string, clock *fakeClock, rs *rules.RuleSet) (node, func()) {
	return openSupervisedSync(tb, dir, clock, rs, false)
}

// openSupervisedSync is openSupervised, with fsync when sync is set (for
// benchmarks that compare with the ledger's own).
func openSupervisedSync(tb testing.TB, dir string, clock *fakeClock, rs *rules.RuleSet, sync bool) (node, func()) {
	tb.Helper()
	return openOrgBooks(tb, dir, filepath.Join(dir, "keys"), []string{benchOrg}, []string{benchOrg}, clock, rs, sync)
}

// openOrgBooks opens supervised books serving the served orgs, with the
// signing keys of every org in keysDir (so a test can move chains between
// nodes verbatim).
func openOrgBooks(tb testing.TB, dir, keysDir string, orgs, served []string, clock *fakeClock, rs *rules.RuleSet, sync bool, opts ...func(*books.Books, *supervise.Config)) (node, func()) {
	tb.Helper()
	b, closeFn := openPlain(tb, dir, keysDir, orgs, served, clock, sync)
	set := rules.Default()
	if rs != nil {
		set = *rs
	}
	e, err := rules.Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	b.SetRules(e)
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		tb.Fatal(err)
	}
	level, _ := idcode.OrgCode(served[0])
	tier, err := town.For(level, b, catalog.Default("350505"), cal)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := supervise.Config{Catalog: catalog.Default("350505"), Calendar: cal, Tier: tier,
		Person: func(org, post string) string { return "持岗人(" + post + ")" }}
	for _, o := range opts {
		o(b, &cfg)
	}
	sup, err := supervise.New(context.Background(), b, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return node{b, sup, tier}, closeFn
}

// openBooks opens books in dir for benchOrg with no rules and no
// supervision, as a node that ran without them.
func openBooks(tb testing.TB, dir string) *books.Books {
	b, _ := openPlain(tb, dir, filepath.Join(dir, "keys"), []string{benchOrg}, []string{benchOrg}, &fakeClock{t: time.Now()}, false)
	return b
}

// openPlain opens books without rules or supervision; close them with the
// returned function.
func openPlain(tb testing.TB, dir, keysDir string, orgs, served []string, clock *fakeClock, sync bool) (*books.Books, func()) {
	tb.Helper()
	ring, _, err := keys.Ensure(keysDir, orgs)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Now: clock.Now, NoSync: !sync})
	if err != nil {
		tb.Fatal(err)
	}
	att, err := attach.Open(filepath.Join(dir, "attachments"), l.DB(), 0, clock.Now)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := books.New(l, att, &books.Validator{Served: served, Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	closed := false
	closeFn := func() {
		if !closed {
			closed = true
			l.Close()
		}
	}
	tb.Cleanup(closeFn)
	return b, closeFn
}

func plainExpense(amount int64, invoice string) *sanziv1.Transaction {
	return &sanziv1.Transaction{
		Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: amount,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		Counterparty:  &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43", BankAccount: "6222020200112233445"},
		BusinessDate:  "2026-11-02", Summary: "材料费", InvoiceCode: "035001900111", InvoiceNumber: invoice,
		BudgetLine: "公益事业支出", Category: "公益支出",
	}
}

func TestRecordingOpensAProcedureThatRunsInOrder(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	b, _ := openSupervised(t, t.TempDir(), clock, nil)
	tx, _, err := b.RecordTransaction(ctx, "会计", plainExpense(120_000, "00000001"))
	if err != nil {
		t.Fatal(err)
	}
	procs, _, total, err := b.Procedures(workflow.Filter{}, books.Page{})
	if err != nil || total != 1 {
		t.Fatalf("procedures after one expense: %d, %v", total, err)
	}
	p := procs[0]
	if p.GetProcedure().GetMatterCode() != "FUND-REIMB" || p.GetProcedure().GetSubjectId() != tx.ID() || workflow.Status(p.GetStatus()) != workflow.StatusOpen {
		t.Fatalf("procedure %v: want an open FUND-REIMB about %s", p, tx.ID())
	}
	steps := p.GetSteps()
	decide := func(i int, step *sanziv1.StepState) error {
		_, _, err := b.DecideStep(ctx, "某人", &sanziv1.StepDecision{ProcedureId: p.GetEntry().GetId(), StepCode: step.GetCode(), Post: step.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_APPROVE})
		return err
	}
	var blocked *books.BlockedError
	if err := decide(1, steps[1]); !errors.As(err, &blocked) || blocked.Hits[0].Code != "CHAIN" {
		t.Fatalf("approving step 2 before step 1: %v, want blocked by CHAIN", err)
	}
	// The village decides its own posts' steps in order; the town's posts'
	// come only in the town's chain (node/supervise/village.go), so the
	// procedure waits at the first of them.
	town := -1
	for i, s := range steps {
		clock.Set(clock.Now().Add(time.Hour))
		if strings.HasPrefix(s.GetPost(), "town.") {
			if err := decide(i, s); !errors.Is(err, books.ErrPermissionDenied) {
				t.Fatalf("step %d %s (a town post's) decided at the village: %v, want permission denied", i, s.GetCode(), err)
			}
			town = i
			break
		}
		if err := decide(i, s); err != nil {
			t.Fatalf("step %d %s: %v", i, s.GetCode(), err)
		}
	}
	got, err := b.Procedure(p.GetEntry().GetId())
	if err != nil || town < 0 || got.Status != workflow.StatusOpen || got.Step != town {
		t.Fatalf("after the village's steps: %v at step %d, %v; want open at the town's step %d", got.Status, got.Step, err, town)
	}
}

func TestRuleSetNeedsASecondPersonAndTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	b, closeBooks := openSupervised(t, dir, clock, nil)
	// A person's bank account paid 800 yuan: under PRIVATE-ACCT's 1,000.
	toPerson := plainExpense(80_000, "00000001")
	toPerson.Counterparty = &sanziv1.Counterparty{Name: "林某", IdNumber: "350102199003071234", BankAccount: "6222020200112233445"}
	if _, hits, err := b.RecordTransaction(ctx, "会计", toPerson); err != nil || len(hits) != 0 {
		t.Fatalf("under the default limit: hits %v, err %v", hits, err)
	}
	rs := rules.Default()
	rs.Version = "2026-11-b"
	for i := range rs.Rules {
		if rs.Rules[i].Code == "PRIVATE-ACCT" {
			rs.Rules[i].Params["private_limit_fen"] = 50_000
		}
	}
	raw, _ := json.Marshal(rs)
	if _, _, err := b.SubmitRuleSet(ctx, "会计李四", string(raw)); err != nil {
		t.Fatal(err)
	}
	var conflict *books.ConflictError
	if _, _, err := b.PublishRuleSet(ctx, "会计李四", "2026-11-b"); !errors.As(err, &conflict) || conflict.Field != "author" {
		t.Fatalf("drafter publishing their own set: %v, want a conflict on author", err)
	}
	toPerson.InvoiceNumber = "00000002"
	if _, hits, _ := b.RecordTransaction(ctx, "会计", toPerson); len(hits) != 0 {
		t.Fatalf("a draft must not change anything: %v", hits)
	}
	if _, _, err := b.PublishRuleSet(ctx, "镇审核员王五", "2026-11-b"); err != nil {
		t.Fatal(err)
	}
	toPerson.InvoiceNumber = "00000003"
	_, hits, err := b.RecordTransaction(ctx, "会计", toPerson)
	if err != nil || len(hits) != 1 || hits[0].Code != "PRIVATE-ACCT" || hits[0].RuleSetVersion != "2026-11-b" {
		t.Fatalf("next entry after publishing: hits %+v, err %v; want PRIVATE-ACCT of 2026-11-b", hits, err)
	}
	alerts, _, _, err := b.ListAlerts(books.AlertFilter{RuleCode: "PRIVATE-ACCT"}, books.Page{})
	if err != nil || len(alerts) != 1 || alerts[0].GetAlert().GetRuleSetVersion() != "2026-11-b" {
		t.Fatalf("alerts %v, %v", alerts, err)
	}
	// After a restart the published set is still the live one, over the
	// built-in set as the district's floor.
	closeBooks()
	b, _ = openSupervised(t, dir, clock, nil)
	sets, live, err := b.RuleSets()
	if err != nil || live != "2026-11-b" || len(sets) != 2 || sets[0].GetStatus() != "floor" {
		t.Fatalf("after restart: live %q, sets %v, %v", live, sets, err)
	}
	if got := b.Rules().Version(); got != "2026-11-b" {
		t.Fatalf("engine after restart: %s", got)
	}
}

func TestReplayRecordsStatefulAlertsACrashLost(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	// Record the same invoice twice on books without supervision: as if the
	// node died between committing the second and recording its alert.
	plain := openBooks(t, dir)
	var second string // its id: each transaction is appended with its voucher
	for range 2 {
		st, _, err := plain.RecordTransaction(ctx, "会计", plainExpense(120_000, "00000009"))
		if err != nil {
			t.Fatal(err)
		}
		second = st.ID()
	}
	plain.Ledger().Close()
	for round := range 2 {
		b, closeBooks := openSupervised(t, dir, clock, nil)
		alerts, _, _, err := b.ListAlerts(books.AlertFilter{RuleCode: "DUP-INVOICE"}, books.Page{})
		if err != nil || len(alerts) != 1 || alerts[0].GetSubjectId() != second {
			t.Fatalf("round %d: DUP-INVOICE alerts %v (%v): want exactly one, about the second entry %s", round, alerts, err, second)
		}
		closeBooks()
	}
}

func TestSweepGivesCardsOnceWithTheInjectedClock(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	b, _ := openSupervised(t, t.TempDir(), clock, nil)
	if _, _, err := b.RecordTransaction(ctx, "会计", plainExpense(120_000, "00000001")); err != nil {
		t.Fatal(err)
	}
	// Nobody acts for a month: every rung of the ladder on the first step,
	// and the procedure's own limit.
	for _, at := range []string{"2026-11-02 10:00", "2026-11-30 10:00", "2026-12-01 10:00"} {
		if _, err := b.Sweep(ctx, cstTime(at)); err != nil {
			t.Fatal(err)
		}
	}
	cards, _, total, err := b.ListCards(books.CardFilter{}, books.Page{})
	if err != nil {
		t.Fatal(err)
	}
	levels := map[sanziv1.CardLevel]int{}
	for _, c := range cards {
		levels[c.GetCard().GetLevel()]++
		if c.GetCard().GetPerson() == "" || c.GetCard().GetStepCode() == "" {
			t.Fatalf("card %v names no person or step", c)
		}
	}
	if total != 3 || levels[sanziv1.CardLevel_CARD_LEVEL_YELLOW] != 1 || levels[sanziv1.CardLevel_CARD_LEVEL_RED] != 2 {
		t.Fatalf("cards %v (total %d): want the step's yellow and red and the procedure's red", levels, total)
	}
}

// TestBacktestRunsStatefulRules: a draft that lowers SPLIT's threshold finds,
// in history recorded under the default set, the split payments the default
// did not flag; the default set finds none of them.
func TestBacktestRunsStatefulRules(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	b, _ := openSupervised(t, t.TempDir(), clock, nil)
	for i, amount := range []int64{1_200_000, 1_000_000, 900_000} { // 31,000 yuan in three payments
		clock.Set(clock.Now().Add(24 * time.Hour))
		tx := plainExpense(amount, fmt.Sprintf("%08d", i+1))
		tx.BusinessDate = clock.Now().In(cst).Format(time.DateOnly)
		if _, _, err := b.RecordTransaction(ctx, "会计", tx); err != nil {
			t.Fatal(err)
		}
	}
	draft := rules.Default()
	draft.Version = "split-30k"
	for i := range draft.Rules {
		if draft.Rules[i].Code == "SPLIT" {
			draft.Rules[i].Params["split_threshold_fen"] = 3_000_000
		}
	}
	for _, c := range []struct {
		set  rules.RuleSet
		want int
	}{{rules.Default(), 0}, {draft, 1}} {
		e, err := rules.Compile(c.set)
		if err != nil {
			t.Fatal(err)
		}
		var results []books.BacktestResult
		if err := b.Ledger().DB().View(func(tx *bolt.Tx) error {
			results, _, err = books.Backtest(tx, e, cst)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, r := range results {
			if r.Code == "SPLIT" {
				got = r.Hits
			}
		}
		if got != c.want {
			t.Fatalf("rule set %s: SPLIT hits %d, want %d (results %+v)", c.set.Version, got, c.want, results)
		}
	}
}

// A village applies the district's rule sets from the district's chain it
// pulls; it checks four eyes itself, so a set published by the account
// that drafted it (by a writer that did not check) is not put in force,
// and a publication by a second person still is, after a restart too.
func TestDistrictRuleSetPublishedByItsDrafterIsNotApplied(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const district = "350505000000"
	orgs := []string{benchOrg, district}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func() node {
		n, closeFn := openOrgBooks(t, dir, filepath.Join(dir, "keys"), orgs, []string{benchOrg}, clock, nil, false)
		t.Cleanup(closeFn)
		return n
	}
	n := open()
	rs := rules.Default()
	rs.Version = "district-2026-11"
	raw, _ := json.Marshal(rs)
	draft := &sanziv1.RuleSetVersion{Org: district, Version: rs.Version, State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
		RulesJson: string(raw), DraftedBy: "区农业农村局甲", Sha256: fmt.Sprintf("%x", sha256.Sum256(raw))}
	publish := func(t *testing.T, author string, m *sanziv1.RuleSetVersion) {
		t.Helper()
		payload, _ := proto.Marshal(m)
		// The district's chain as the node holds it after a pull.
		if _, err := n.Ledger().Append(ctx, ledger.Record{Origin: district, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_RULE_SET, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if err := n.Follow(ctx); err != nil {
			t.Fatalf("follow the district's chain: %v", err)
		}
	}
	pub := &sanziv1.RuleSetVersion{Org: district, Version: rs.Version, State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
		DraftedBy: draft.GetDraftedBy(), Sha256: draft.GetSha256()}
	live := func(t *testing.T, want string) {
		t.Helper()
		_, got, err := n.RuleSets()
		if err != nil || got != want || n.Rules().Version() != want {
			t.Fatalf("live rule set %q (engine %s), err %v; want %s", got, n.Rules().Version(), err, want)
		}
	}
	def := rules.Default().Version
	t.Run("published by its drafter: not applied", func(t *testing.T) {
		publish(t, "区农业农村局甲", draft)
		publish(t, "区农业农村局甲", pub)
		live(t, def)
	})
	t.Run("published as another drafter names itself: not applied", func(t *testing.T) {
		forged := proto.CloneOf(pub)
		forged.DraftedBy = "区农业农村局丙" // the draft's entry is still 甲's
		publish(t, "区农业农村局甲", forged)
		live(t, def)
	})
	t.Run("published by a second person: applied", func(t *testing.T) {
		publish(t, "区农业农村局乙", pub)
		live(t, rs.Version)
	})
	t.Run("after a restart", func(t *testing.T) {
		n.Ledger().Close()
		n = open()
		live(t, rs.Version)
		sets, _, _ := n.RuleSets()
		if got := sets[len(sets)-1]; got.GetPublishedBy() != "区农业农村局乙" {
			t.Fatalf("the live set names %q as its publisher, want the second person", got.GetPublishedBy())
		}
	})
}

// A village applies the district's catalogs from the district's chain it
// pulls and checks the two accounts itself: a catalog written in one entry,
// one published by its drafter, or one whose drafter field names someone
// else than its draft's author is not put in force and is listed as
// ignored with why; a publication by a second account is, after a restart
// too.
func TestDistrictCatalogPublishedByItsDrafterIsNotApplied(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const district = "350505000000"
	orgs := []string{benchOrg, district}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func() node {
		n, closeFn := openOrgBooks(t, dir, filepath.Join(dir, "keys"), orgs, []string{benchOrg}, clock, nil, false)
		t.Cleanup(closeFn)
		return n
	}
	n := open()
	def := n.CatalogVersion()
	// write appends m to the district's chain as the node holds it after
	// a pull, by author, and returns the payload as stored.
	write := func(t *testing.T, author string, m *sanziv1.Catalog) []byte {
		t.Helper()
		payload, _ := proto.Marshal(m)
		if _, err := n.Ledger().Append(ctx, ledger.Record{Origin: district, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if err := n.Follow(ctx); err != nil {
			t.Fatalf("follow the district's chain: %v", err)
		}
		return payload
	}
	draftOf := func(version, draftedBy string) *sanziv1.Catalog {
		c := catalog.Default("350505")
		c.Version, c.State, c.DraftedBy = version, sanziv1.CatalogState_CATALOG_STATE_DRAFT, draftedBy
		return c
	}
	pubOf := func(version, draftedBy, publishedBy string, draft []byte) *sanziv1.Catalog {
		return &sanziv1.Catalog{Version: version, District: "350505", State: sanziv1.CatalogState_CATALOG_STATE_PUBLISHED,
			DraftedBy: draftedBy, PublishedBy: publishedBy, Sha256: catalog.PayloadSum(draft)}
	}
	inForce := func(t *testing.T, want string) {
		t.Helper()
		if got := n.CatalogVersion(); got != want {
			t.Fatalf("catalog in force %q, want %q", got, want)
		}
	}
	status := func(t *testing.T, version, state, reason string) {
		t.Helper()
		for _, s := range n.Catalogs() {
			if s.Version == version {
				if s.State != state || !strings.Contains(s.IgnoredReason, reason) {
					t.Fatalf("catalog %s listed %s (%q), want %s (%q)", version, s.State, s.IgnoredReason, state, reason)
				}
				return
			}
		}
		t.Fatalf("catalog %s not listed: %+v", version, n.Catalogs())
	}
	t.Run("written in one entry by one account: not applied", func(t *testing.T) {
		one := catalog.Default("350505")
		one.Version = "2026-10"
		write(t, "区农业农村局甲", one)
		inForce(t, def)
		status(t, "2026-10", catalog.StatusIgnored, "one entry by one account")
	})
	var d12 []byte
	t.Run("published by its drafter: not applied", func(t *testing.T) {
		d12 = write(t, "区农业农村局甲", draftOf("2026-12", "区农业农村局甲"))
		write(t, "区农业农村局甲", pubOf("2026-12", "区农业农村局甲", "区农业农村局甲", d12))
		inForce(t, def)
		status(t, "2026-12", catalog.StatusIgnored, "drafted by 区农业农村局甲 and published by 区农业农村局甲")
	})
	t.Run("a draft naming another drafter, published by that name: not applied", func(t *testing.T) {
		forged := write(t, "区农业农村局甲", draftOf("2027-01", "区农业农村局丙")) // the entry is still 甲's
		write(t, "区农业农村局丙", pubOf("2027-01", "区农业农村局丙", "区农业农村局丙", forged))
		inForce(t, def)
		status(t, "2027-01", catalog.StatusIgnored, "four eyes")
	})
	t.Run("a publication no draft holds: not applied", func(t *testing.T) {
		write(t, "区农业农村局乙", pubOf("2026-12", "区农业农村局甲", "区农业农村局乙", []byte("another content")))
		inForce(t, def)
	})
	t.Run("published by a second account: applied", func(t *testing.T) {
		write(t, "区农业农村局乙", pubOf("2026-12", "区农业农村局甲", "区农业农村局乙", d12))
		inForce(t, "2026-12")
		status(t, "2026-12", catalog.StatusLive, "")
	})
	t.Run("after a restart", func(t *testing.T) {
		n.Ledger().Close()
		n = open()
		inForce(t, "2026-12")
		for _, s := range n.Catalogs() {
			if s.Version == "2026-12" && (s.DraftedBy != "区农业农村局甲" || s.PublishedBy != "区农业农村局乙") {
				t.Fatalf("the live catalog names drafter %q and publisher %q", s.DraftedBy, s.PublishedBy)
			}
		}
	})
}
