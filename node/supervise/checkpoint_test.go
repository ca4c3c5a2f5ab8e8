package supervise_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/sample"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const district = "350505000000"

// withCheckpoints keeps the supervision's state in the books' ledger
// (as node/server does), logging what the start did to log.
func withCheckpoints(log io.Writer) func(*books.Books, *supervise.Config) {
	return func(b *books.Books, c *supervise.Config) {
		c.Checkpoints = checkpoint.New(b.Ledger())
		c.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
}

// ckVillage is a village node whose history a case records, with the
// town's and the district's keys in its ring so that the chains it
// pulls can be written into its ledger as a pull would.
type ckVillage struct {
	t     *testing.T
	ctx   context.Context
	n     node
	clock *fakeClock
	k     int // business entries recorded
}

var ckOrgs = []string{benchOrg, townOrg, district}

func openCkVillage(t *testing.T, dir string, clock *fakeClock, opts ...func(*books.Books, *supervise.Config)) (node, func()) {
	return openOrgBooks(t, dir, filepath.Join(dir, "keys"), ckOrgs, []string{benchOrg}, clock, nil, false, opts...)
}

func (v *ckVillage) next() int { v.k++; return v.k }

func (v *ckVillage) expense(amount int64, payee *sanziv1.Counterparty, edit ...func(*sanziv1.Transaction)) *ledger.Stored {
	v.t.Helper()
	i := v.next()
	tx := plainExpense(amount, fmt.Sprintf("%08d", 1000+i))
	tx.BusinessDate, tx.VoucherNumber = v.clock.Now().In(cst).Format(time.DateOnly), fmt.Sprintf("记-%03d", i)
	if payee != nil {
		tx.Counterparty = payee
	}
	for _, e := range edit {
		e(tx)
	}
	st, _, err := v.n.RecordTransaction(v.ctx, "会计李四", tx)
	if err != nil {
		v.t.Fatalf("record expense %d: %v", i, err)
	}
	return st
}

// procOf is the procedure recording st opened (the next entry of its append).
func procOf(st *ledger.Stored) string { return ledger.EntryID(st.Origin, st.Seq+1) }

func (v *ckVillage) decide(pid string, action sanziv1.StepAction) {
	v.t.Helper()
	p, err := v.n.Procedure(pid)
	if err != nil {
		v.t.Fatal(err)
	}
	step, _ := p.OpenStep()
	if _, _, err := v.n.DecideStep(v.ctx, "岗位人员", &sanziv1.StepDecision{Org: benchOrg, ProcedureId: pid, StepCode: step.GetCode(),
		Post: step.GetPost(), Action: action, Reason: "退回补充材料"}); err != nil {
		v.t.Fatalf("decide %s of %s: %v", step.GetCode(), pid, err)
	}
}

// pulled appends m to origin's chain, as the node holds it after a pull,
// and lets the supervision follow it.
func (v *ckVillage) pulled(origin, author string, t sanziv1.EntryType, m proto.Message, subject string) []byte {
	v.t.Helper()
	payload, _ := proto.Marshal(m)
	if _, err := v.n.Ledger().Append(v.ctx, ledger.Record{Origin: origin, Author: author, Type: t, Payload: payload, Subject: subject}); err != nil {
		v.t.Fatal(err)
	}
	if err := v.n.Follow(v.ctx); err != nil {
		v.t.Fatal(err)
	}
	return payload
}

// ckKinds is each kind of history the supervision keeps. A case records
// its kind twice, once before the checkpoint and once after (round 0 and
// 1), so that each is both restored and replayed.
var ckKinds = []struct {
	name   string
	record func(v *ckVillage, round int)
}{
	{"expense opens its procedure", func(v *ckVillage, _ int) { v.expense(120_000, nil) }},
	{"income received in cash, not banked", func(v *ckVillage, _ int) {
		i := v.next()
		if _, _, err := v.n.RecordTransaction(v.ctx, "会计李四", &sanziv1.Transaction{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME,
			AmountFen: 90_000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "村民小组"},
			BusinessDate: v.clock.Now().In(cst).Format(time.DateOnly), Summary: "场地租金", VoucherNumber: fmt.Sprintf("收-%03d", i)}); err != nil {
			v.t.Fatal(err)
		}
	}},
	{"payments split under the threshold (SPLIT)", func(v *ckVillage, round int) {
		p := payee(fmt.Sprintf("拆分供应商%d", round), "")
		p.BankAccount = fmt.Sprintf("62220202009999%05d", round)
		for range 3 {
			v.expense(1_900_000, p)
		}
	}},
	{"an invoice claimed twice (DUP-INVOICE)", func(v *ckVillage, round int) {
		inv := fmt.Sprintf("%08d", 90_000+round)
		for range 2 {
			v.expense(30_000, nil, func(t *sanziv1.Transaction) { t.InvoiceNumber = inv })
		}
	}},
	{"lease, its rent and a payment missed (ARREARS)", func(v *ckVillage, round int) {
		start := v.clock.Now().In(cst).AddDate(0, -2, 0)
		c := &sanziv1.Contract{Org: benchOrg, Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: fmt.Sprintf("租-%d", round),
			Counterparty: &sanziv1.Counterparty{Name: "承租人", BankAccount: "6222020300110000001"},
			Object:       &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: fmt.Sprintf("地块-%d", round), AreaMu: 3},
			TermStart:    start.Format(time.DateOnly), TermEnd: start.AddDate(2, 0, 0).Format(time.DateOnly), AnnualAmountFen: 600_000,
			AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_TENDER, SignedDate: start.Format(time.DateOnly)}
		for m := 1; m <= 24; m++ {
			c.Schedule = append(c.Schedule, &sanziv1.ScheduledPayment{DueDate: start.AddDate(0, m, 0).Format(time.DateOnly), AmountFen: 50_000})
		}
		st, _, err := v.n.RecordContract(v.ctx, "会计李四", c)
		if err != nil {
			v.t.Fatal(err)
		}
		if _, err := v.n.RecordContractPayment(v.ctx, "会计李四", &sanziv1.ContractPayment{Org: benchOrg, ContractId: st.ID(), AmountFen: 50_000,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: v.clock.Now().In(cst).Format(time.DateOnly)}); err != nil {
			v.t.Fatal(err)
		}
	}},
	{"reversal", func(v *ckVillage, _ int) {
		st := v.expense(70_000, nil)
		if _, err := v.n.RecordReversal(v.ctx, "会计李四", &sanziv1.Reversal{Org: benchOrg, TargetId: st.ID(), Reason: "录入错误"}); err != nil {
			v.t.Fatal(err)
		}
	}},
	{"asset registered", func(v *ckVillage, round int) {
		if _, err := v.n.RegisterAsset(v.ctx, "会计李四", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: fmt.Sprintf("ZC-%d", round),
			Name: "水泵", OriginalValueFen: 100_000, AcquiredDate: "2020-01-01"}); err != nil {
			v.t.Fatal(err)
		}
	}},
	{"steps approved, returned and rejected", func(v *ckVillage, _ int) {
		a, b := procOf(v.expense(50_000, nil)), procOf(v.expense(60_000, nil))
		v.decide(a, sanziv1.StepAction_STEP_ACTION_APPROVE)
		v.decide(a, sanziv1.StepAction_STEP_ACTION_APPROVE)
		v.decide(a, sanziv1.StepAction_STEP_ACTION_RETURN)
		v.decide(b, sanziv1.StepAction_STEP_ACTION_REJECT)
	}},
	{"the town's decision applied", func(v *ckVillage, _ int) {
		pid := procOf(v.expense(80_000, nil))
		for range 3 {
			v.decide(pid, sanziv1.StepAction_STEP_ACTION_APPROVE)
		}
		v.pulled(townOrg, "镇代理会计", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION, &sanziv1.TownDecision{Village: benchOrg,
			Decision: &sanziv1.TownDecision_Step{Step: approve(benchOrg, pid, "town_post", "town.agency_accountant")}}, pid)
	}},
	{"procedure opened by hand (a complaint)", func(v *ckVillage, round int) {
		if _, err := v.n.OpenProcedure(v.ctx, "会计李四", &sanziv1.Procedure{Org: benchOrg, MatterCode: "GOV-COMPLAINT",
			Summary: fmt.Sprintf("村民反映道路维修费用 %d", round)}); err != nil {
			v.t.Fatal(err)
		}
	}},
	{"alert reviewed", func(v *ckVillage, round int) {
		st := v.expense(150_000, &sanziv1.Counterparty{Name: "林某", IdNumber: person(fmt.Sprintf("3501021990030712%d", round)), BankAccount: "6222020200112233445"})
		alerts, _, _, err := v.n.ListAlerts(books.AlertFilter{RuleCode: "PRIVATE-ACCT"}, books.Page{Size: 1000})
		if err != nil {
			v.t.Fatal(err)
		}
		for _, a := range alerts {
			if a.GetSubjectId() == st.ID() {
				if _, err := v.n.UpdateAlertStatus(v.ctx, "镇审核员", &sanziv1.AlertTransition{Org: benchOrg, AlertId: a.GetEntry().GetId(),
					Status: sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED}); err != nil {
					v.t.Fatal(err)
				}
				return
			}
		}
		v.t.Fatalf("no PRIVATE-ACCT alert about %s", st.ID())
	}},
	{"village rule set published", func(v *ckVillage, round int) {
		rs := rules.Default()
		rs.Version = fmt.Sprintf("村-%d", round)
		for i := range rs.Rules {
			if rs.Rules[i].Code == "PRIVATE-ACCT" {
				rs.Rules[i].Params["private_limit_fen"] = int64(50_000 - round*1000)
			}
		}
		raw, _ := json.Marshal(rs)
		if _, _, err := v.n.SubmitRuleSet(v.ctx, "会计李四", string(raw)); err != nil {
			v.t.Fatal(err)
		}
		if _, _, err := v.n.PublishRuleSet(v.ctx, "村主任", rs.Version); err != nil {
			v.t.Fatal(err)
		}
		v.expense(80_000, &sanziv1.Counterparty{Name: "林某", IdNumber: person("35010219900307123"), BankAccount: "6222020200112233445"})
	}},
	{"district catalog published", func(v *ckVillage, round int) {
		c := catalog.Default("350505")
		c.Version, c.State, c.DraftedBy = fmt.Sprintf("2027-0%d", round+1), sanziv1.CatalogState_CATALOG_STATE_DRAFT, "区农业农村局甲"
		draft := v.pulled(district, "区农业农村局甲", sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, c, "")
		v.pulled(district, "区农业农村局乙", sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, &sanziv1.Catalog{Version: c.Version, District: "350505",
			State: sanziv1.CatalogState_CATALOG_STATE_PUBLISHED, DraftedBy: "区农业农村局甲", PublishedBy: "区农业农村局乙", Sha256: catalog.PayloadSum(draft)}, "")
		v.expense(40_000, nil)
	}},
	{"timers' cards and time-driven alerts", func(v *ckVillage, _ int) {
		v.expense(40_000, nil)
		v.clock.Set(v.clock.Now().Add(9 * 24 * time.Hour))
		if _, err := v.n.Sweep(v.ctx, v.clock.Now()); err != nil {
			v.t.Fatal(err)
		}
	}},
}

// TestRestartFromCheckpointEqualsFullReplay records each kind of history
// before and after a checkpoint, then starts one copy of the node from the
// checkpoint (restored, the rest replayed) and another by replaying every
// chain from seq 1: both must hold the same state, list the same
// procedures, rule sets and catalogs, and find the same cards and alerts
// when the timers next run.
func TestRestartFromCheckpointEqualsFullReplay(t *testing.T) {
	for _, kind := range ckKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			dir, full, clock, _ := checkpointedThenMore(t, kind.record)
			var log bytes.Buffer
			restored, _ := openCkVillage(t, dir, clock, withCheckpoints(&log))
			if !strings.Contains(log.String(), "restored from its checkpoint") || strings.Contains(log.String(), "rebuilding") {
				t.Fatalf("the start did not restore the checkpoint:\n%s", log.String())
			}
			replayed, _ := openCkVillage(t, full, clock)
			sameState(t, "at start", restored, replayed)

			later := clock.Now().Add(12 * 24 * time.Hour)
			a, errA := restored.Sweep(ctx, later)
			b, errB := replayed.Sweep(ctx, later)
			if errA != nil || errB != nil {
				t.Fatalf("sweep: %v / %v", errA, errB)
			}
			if fa, fb := findings(a), findings(b); !slices.Equal(fa, fb) {
				t.Fatalf("the timers find after a restart from the checkpoint:\n%s\nafter a full replay:\n%s", strings.Join(fa, "\n"), strings.Join(fb, "\n"))
			}
			sameState(t, "after the timers ran", restored, replayed)
		})
	}
}

// sameState fails unless a and b hold the same supervision state and show
// the same procedures, rule sets and catalogs.
func sameState(t *testing.T, when string, a, b node) {
	t.Helper()
	sa, pa, err := supervise.StateOf(a.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	sb, pb, err := supervise.StateOf(b.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	// Only seqs compare: the hashes of what each copy recorded since it
	// started differ (alerts' evidence is a map, encoded in any order).
	for o, h := range pb {
		if pa[o].Seq != h.Seq {
			t.Fatalf("%s: %s followed to seq %d from the checkpoint, %d by a full replay", when, o, pa[o].Seq, h.Seq)
		}
	}
	if !bytes.Equal(sa, sb) {
		t.Fatalf("%s: the state restored from the checkpoint (%d bytes) differs from the one replayed from seq 1 (%d bytes) in %s",
			when, len(sa), len(sb), differingPart(sa, sb))
	}
	// Every procedure, and those of each filter the API takes, page by
	// page with the totals: one side may read the closed ones from its
	// archive, the other from memory.
	procs := func(n node, f workflow.Filter, size int) string {
		var out []string
		token := ""
		for first := int64(-1); ; {
			recs, next, total, err := n.Procedures(f, books.Page{Size: size, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			if first < 0 {
				first = total
				out = append(out, fmt.Sprint("total ", total))
			} else if total != first {
				t.Fatalf("%s: procedures of %+v: a page's total %d, the first page's %d", when, f, total, first)
			}
			for _, r := range recs {
				out = append(out, r.String())
			}
			if token = next; token == "" {
				return strings.Join(out, "\n")
			}
		}
	}
	if pa, pb := procs(a, workflow.Filter{}, 7), procs(b, workflow.Filter{}, 1000); pa != pb {
		t.Fatalf("%s: procedures differ:\n%s\n%s", when, pa, pb)
	}
	for _, org := range []string{"", benchOrg} {
		for _, status := range []workflow.Status{"", workflow.StatusOpen, workflow.StatusCompleted, workflow.StatusRejected} {
			for _, matter := range []string{"", "FUND-REIMB", "GOV-COMPLAINT"} {
				for _, post := range []string{"", "village.accountant"} {
					f := workflow.Filter{Org: org, Status: status, Matter: matter, Post: post}
					if pa, pb := procs(a, f, 100), procs(b, f, 100); pa != pb {
						t.Fatalf("%s: procedures of %+v differ:\n%s\n%s", when, f, pa, pb)
					}
				}
			}
		}
	}
	sets := func(n node) string {
		s, live, err := n.RuleSets()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(live, s, n.Catalogs(), n.CatalogVersion(), n.Rules().Version())
	}
	if ra, rb := sets(a), sets(b); ra != rb {
		t.Fatalf("%s: rule sets or catalogs differ:\n%s\n%s", when, ra, rb)
	}
	lists := func(n node) string {
		alerts, _, na, err := n.ListAlerts(books.AlertFilter{}, books.Page{Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		cards, _, nc, err := n.ListCards(books.CardFilter{}, books.Page{Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		txs, _, nt, err := n.ListTransactions(books.TransactionFilter{}, books.Page{Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out := []string{fmt.Sprint(na, nc, nt)}
		for _, r := range alerts {
			out = append(out, r.GetEntry().GetId()+" "+r.GetAlert().GetRuleCode()+" "+r.GetStatus().String()+" "+r.GetSubjectId())
		}
		for _, r := range cards {
			out = append(out, r.GetEntry().GetId()+" "+r.GetCard().GetLevel().String()+" "+r.GetCard().GetProcedureId())
		}
		for _, r := range txs {
			out = append(out, r.GetEntry().GetId()+" "+r.GetReversedBy())
		}
		return strings.Join(out, "\n")
	}
	if la, lb := lists(a), lists(b); la != lb {
		t.Fatalf("%s: the books' lists differ:\n%s\n---\n%s", when, la, lb)
	}
}

// differingPart names the first part of two encoded states that differs
// (see Supervisor.encode), and where.
func differingPart(a, b []byte) string {
	parts := []string{"rule set in force", "rule sets", "catalogs", "procedures", "history", "tier"}
	da, db := checkpoint.NewDecoder(a), checkpoint.NewDecoder(b)
	for i, name := range parts {
		pa, pb := da.Bytes(), db.Bytes()
		if !bytes.Equal(pa, pb) {
			at := 0
			for at < min(len(pa), len(pb)) && pa[at] == pb[at] {
				at++
			}
			return fmt.Sprintf("part %d (%s, %d and %d bytes) from byte %d: %q / %q", i, name, len(pa), len(pb), at,
				pa[max(0, at-40):min(len(pa), at+40)], pb[max(0, at-40):min(len(pb), at+40)])
		}
	}
	return "no part"
}

// findings are the cards and alerts a sweep recorded: type, subject and
// payload (decoded and encoded again deterministically: evidence is a map).
func findings(out []*ledger.Stored) []string {
	var s []string
	for _, st := range out {
		m, err := entries.Decode(st.Type, st.Payload)
		if err != nil {
			panic(err)
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		s = append(s, fmt.Sprintf("%s %s %x", st.Type, st.Subject, b))
	}
	return s
}

// copyDir copies a stopped node's folder.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := sample.CopyFolder(from, to); err != nil {
		t.Fatal(err)
	}
}

// TestTownRestartFromCheckpointEqualsFullReplay: a town's view across its
// villages (their procedures as held, the cross-village rules' history,
// its pending decisions, the villages' relatives lists) restored from its
// checkpoint is the one a full replay makes. Village B's chain is the one
// that grows after the checkpoint, so that a replay from seq 1 (chain by
// chain, in origin order) feeds the entries in the order they arrived.
func TestTownRestartFromCheckpointEqualsFullReplay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{townOrg, villageA, villageB}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	var log bytes.Buffer
	open := func(root, org string, opts ...func(*books.Books, *supervise.Config)) (node, func()) {
		if err := os.MkdirAll(filepath.Join(root, org), 0o750); err != nil {
			t.Fatal(err)
		}
		return openOrgBooks(t, filepath.Join(root, org), keysDir, orgs, []string{org}, clock, nil, false, opts...)
	}
	town, closeTown := open(dir, townOrg, withCheckpoints(&log))
	a, _ := open(dir, villageA)
	b, _ := open(dir, villageB)
	relative := person("35010219900307123")
	set := rules.Default()
	set.Version = "A-2026-11"
	set.Lists = map[string][]rules.ListItem{"relatives": {{Name: "张小明", IDNumber: relative, Note: "A村主任张三之子"}}}
	raw, _ := json.Marshal(set)
	if _, _, err := a.SubmitRuleSet(ctx, "A村会计", string(raw)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PublishRuleSet(ctx, "A村主任", set.Version); err != nil {
		t.Fatal(err)
	}
	pay := func(v node, org string, i int, p *sanziv1.Counterparty) *ledger.Stored {
		tx := plainExpense(1_900_000, fmt.Sprintf("%08d", 500+i))
		tx.Org, tx.Counterparty = org, p
		st, _, err := v.RecordTransaction(ctx, org+"会计", tx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	shared := payee("跨村供应商", "")
	shared.BankAccount = "6222020200777766665"
	pay(a, villageA, 1, shared)
	pay(a, villageA, 2, shared)
	// One of A's procedures rejected: closed when the town checkpoints,
	// so that the town's archive of its villages' procedures holds it.
	rejected := procOf(pay(a, villageA, 9, payee("某供应商", "")))
	no := approve(villageA, rejected, "capture", "village.accountant")
	no.Action, no.Reason = sanziv1.StepAction_STEP_ACTION_REJECT, "票据不全"
	if _, _, err := a.DecideStep(ctx, "A村", no); err != nil {
		t.Fatal(err)
	}
	pid := procOf(pay(b, villageB, 3, payee("张小明", relative)))
	for _, s := range [][2]string{{"capture", "village.accountant"}, {"review", "village.finance_group"}, {"signoff", "village.head"}} {
		if _, _, err := b.DecideStep(ctx, "B村", approve(villageB, pid, s[0], s[1])); err != nil {
			t.Fatal(err)
		}
	}
	ship(t, a, town, villageA)
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, pid, "town_post", "town.agency_accountant")); err != nil {
		t.Fatal(err)
	}
	if err := town.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// After the checkpoint: B pays the shared supplier (SPLIT across the
	// villages) and applies the town's decision.
	pay(b, villageB, 4, shared)
	ship(t, town, b, townOrg)
	ship(t, b, town, villageB)
	closeTown()

	full := t.TempDir()
	copyDir(t, filepath.Join(dir, townOrg), filepath.Join(full, townOrg))
	log.Reset()
	restored, _ := open(dir, townOrg, withCheckpoints(&log))
	if !strings.Contains(log.String(), "restored from its checkpoint") || strings.Contains(log.String(), "rebuilding") {
		t.Fatalf("the town did not restore its checkpoint:\n%s", log.String())
	}
	replayed, _ := open(full, townOrg)
	sameState(t, "town at start", restored, replayed)
	if err := restored.Ledger().DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(workflow.ArchiveBucket("supervise-held")); b == nil || b.Bucket([]byte("p")).Stats().KeyN != 1 {
			return fmt.Errorf("the town's archive of its villages' closed procedures does not hold the one rejected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p, err := restored.Procedure(rejected); err != nil || p.Status != workflow.StatusRejected {
		t.Fatalf("the restored town reads A's rejected procedure %s from its archive: %v, %v", rejected, p, err)
	}
	again := approve(villageA, rejected, "capture", "village.accountant")
	if _, _, err := restored.DecideStep(ctx, "镇代理会计", again); err == nil {
		t.Fatalf("the restored town took a decision on A's rejected procedure %s", rejected)
	}
	for _, n := range []node{restored, replayed} {
		alerts, _, _, err := n.ListAlerts(books.AlertFilter{Org: townOrg}, books.Page{Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, al := range alerts {
			codes = append(codes, al.GetAlert().GetRuleCode())
		}
		if !slices.Contains(codes, "RELATIVE") || !slices.Contains(codes, "SPLIT") {
			t.Fatalf("the town's own alerts %v: want its cross-village RELATIVE and SPLIT", codes)
		}
	}
	if _, _, err := restored.DecideStep(ctx, "镇出纳", approve(villageB, pid, "pay", "town.agency_cashier")); err != nil {
		t.Fatalf("the restored town decides B's next step: %v", err)
	}
	if _, _, err := replayed.DecideStep(ctx, "镇出纳", approve(villageB, pid, "pay", "town.agency_cashier")); err != nil {
		t.Fatalf("the replayed town decides B's next step: %v", err)
	}
	sameState(t, "town after a decision", restored, replayed)
}

// TestUnusableCheckpointIsRebuiltOnce: a checkpoint from another code
// version, a damaged one, and one that does not match the chains are each
// set aside: the start replays every chain, saying so with counts, writes
// a new checkpoint, and the start after that restores it.
func TestUnusableCheckpointIsRebuiltOnce(t *testing.T) {
	ctx := context.Background()
	// resave stores the checkpoint again as edit changes its stamp or
	// positions.
	resave := func(edit func(stamp string, at checkpoint.Positions) string) func(*testing.T, *checkpoint.Store, string) {
		return func(t *testing.T, st *checkpoint.Store, stamp string) {
			at, state, err := st.Load("supervise", stamp)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Save("supervise", edit(stamp, at), at, state); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name, reason string
		spoil        func(t *testing.T, st *checkpoint.Store, stamp string)
	}{
		{"older code version", "another code version", resave(func(stamp string, _ checkpoint.Positions) string {
			return strings.Replace(stamp, "supervise/", "supervise/0", 1)
		})},
		{"ahead of the chain", "does not match the chains", resave(func(stamp string, at checkpoint.Positions) string {
			h := at[benchOrg]
			h.Seq += 3
			at[benchOrg] = h
			return stamp
		})},
		{"another entry at its position", "does not match the chains", resave(func(stamp string, at checkpoint.Positions) string {
			h := at[benchOrg]
			h.Hash[0] ^= 1
			at[benchOrg] = h
			return stamp
		})},
		{"damaged", "damaged", func(*testing.T, *checkpoint.Store, string) {}}, // a bit is flipped below
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
			var log bytes.Buffer
			n, closeFn := openCkVillage(t, dir, clock, withCheckpoints(&log))
			v := &ckVillage{t: t, ctx: ctx, n: n, clock: clock}
			var pids []string
			for range 5 {
				pids = append(pids, procOf(v.expense(100_000, nil)))
			}
			v.decide(pids[1], sanziv1.StepAction_STEP_ACTION_REJECT) // closed: archived with the checkpoint
			if err := n.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			want, _, err := supervise.StateOf(n.Supervisor)
			if err != nil {
				t.Fatal(err)
			}
			wantProcs := listProcedures(t, n)
			c.spoil(t, checkpoint.New(n.Ledger()), supervise.StampOf(n.Supervisor))
			// The archive of closed procedures goes with the checkpoint:
			// one the chains do not hold, archived beside it, is gone once
			// the state is rebuilt.
			archiveStray(t, n.Ledger().DB(), benchOrg+"-9999")
			if c.name == "damaged" { // a bit flipped on disk, in the middle of the state
				if err := n.Ledger().DB().Update(func(tx *bolt.Tx) error {
					b := tx.Bucket([]byte("checkpoints"))
					v := append([]byte(nil), b.Get([]byte("supervise"))...)
					v[len(v)/2] ^= 0x10
					return b.Put([]byte("supervise"), v)
				}); err != nil {
					t.Fatal(err)
				}
			}
			closeFn()

			log.Reset()
			n, closeFn = openCkVillage(t, dir, clock, withCheckpoints(&log))
			for _, line := range []string{c.reason, "rebuilding the supervision state: replaying every chain\" entries=", "supervision state rebuilt\" entries=", "supervision state checkpointed"} {
				if !strings.Contains(log.String(), line) {
					t.Fatalf("the start's log lacks %q:\n%s", line, log.String())
				}
			}
			got, _, err := supervise.StateOf(n.Supervisor)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the rebuilt state differs from the one before (%v)", err)
			}
			if got := listProcedures(t, n); got != wantProcs {
				t.Fatalf("the rebuilt node lists the procedures\n%s\nbefore\n%s", got, wantProcs)
			}
			closeFn()
			log.Reset()
			openCkVillage(t, dir, clock, withCheckpoints(&log))
			if !strings.Contains(log.String(), "restored from its checkpoint") || strings.Contains(log.String(), "rebuilding") {
				t.Fatalf("the start after the rebuild did not restore:\n%s", log.String())
			}
		})
	}
}

// listProcedures is every procedure n lists, with the total.
func listProcedures(t *testing.T, n node) string {
	t.Helper()
	recs, _, total, err := n.Procedures(workflow.Filter{}, books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{fmt.Sprint("total ", total)}
	for _, r := range recs {
		out = append(out, r.GetEntry().GetId()+" "+r.GetStatus())
	}
	return strings.Join(out, "\n")
}

// archiveStray puts a closed procedure id no chain holds in the archive of
// the supervision's procedures in db, as a checkpoint would.
func archiveStray(t *testing.T, db *bolt.DB, id string) {
	t.Helper()
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		t.Fatal(err)
	}
	f := workflow.New(catalog.Default("350505"), cal)
	f.UseArchive(workflow.NewArchive(db, "supervise"))
	opened := cstTime("2026-11-02 09:00")
	if err := f.Observe(id, opened, &sanziv1.Procedure{Org: benchOrg, MatterCode: "GOV-COMPLAINT", CatalogVersion: "default", Summary: "x"}); err != nil {
		t.Fatal(err)
	}
	p, _ := f.Get(id)
	step, _ := p.OpenStep()
	d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_REJECT, Reason: "r"}, opened)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Observe(id+"-d", opened, d); err != nil {
		t.Fatal(err)
	}
	f.Save(&checkpoint.Encoder{})
	if err := db.Update(f.Staged().Write); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedWatchHistoryIsRebuiltInPlace: when the watcher's history,
// taken from the checkpoint at start and made when first needed, does not
// decode, the node neither refuses work nor waits for a restart: the first
// sweep or the first record rebuilds the whole state by replaying every
// chain (progress logged), finds what a start by replay finds, and writes
// a checkpoint the next start restores.
func TestDamagedWatchHistoryIsRebuiltInPlace(t *testing.T) {
	firstUses := []struct {
		name string
		use  func(v *ckVillage, kind func(*ckVillage, int), later time.Time) []string
	}{
		{"a sweep", func(v *ckVillage, _ func(*ckVillage, int), later time.Time) []string {
			out, err := v.n.Sweep(v.ctx, later)
			if err != nil {
				v.t.Fatalf("sweep: %v", err)
			}
			return findings(out)
		}},
		{"a record", func(v *ckVillage, kind func(*ckVillage, int), _ time.Time) []string {
			kind(v, 2)
			return nil
		}},
	}
	for _, kind := range ckKinds {
		for _, first := range firstUses {
			t.Run(kind.name+"/"+first.name, func(t *testing.T) {
				ctx := context.Background()
				dir, full, clock, v := checkpointedThenMore(t, kind.record)
				var log bytes.Buffer
				// Each copy has its clock: a case may move it on.
				clockA, clockB := &fakeClock{t: clock.Now()}, &fakeClock{t: clock.Now()}
				restored, closeRestored := openCkVillage(t, dir, clockA, withCheckpoints(&log))
				if !strings.Contains(log.String(), "restored from its checkpoint") {
					t.Fatalf("the start did not restore the checkpoint:\n%s", log.String())
				}
				if err := supervise.DamageWatchHistory(restored.Supervisor); err != nil {
					t.Fatal(err)
				}
				replayed, _ := openCkVillage(t, full, clockB)

				later := clock.Now().Add(12 * 24 * time.Hour)
				va := &ckVillage{t: t, ctx: ctx, n: restored, clock: clockA, k: v.k}
				vb := &ckVillage{t: t, ctx: ctx, n: replayed, clock: clockB, k: v.k}
				fa, fb := first.use(va, kind.record, later), first.use(vb, kind.record, later)
				if !slices.Equal(fa, fb) {
					t.Fatalf("found after the rebuild in place:\n%s\nafter a start by replay:\n%s", strings.Join(fa, "\n"), strings.Join(fb, "\n"))
				}
				for _, want := range []string{"did not decode; dropping it and rebuilding", "rebuilding the supervision state: replaying every chain",
					"supervision state rebuilt", "supervision state checkpointed"} {
					if !strings.Contains(log.String(), want) {
						t.Fatalf("the log does not say %q:\n%s", want, log.String())
					}
				}
				sameState(t, "after the rebuild in place", restored, replayed)
				if !supervise.UsesArchive(restored.Supervisor) {
					t.Fatal("after the rebuild in place the closed procedures are kept in memory, not in the archive")
				}
				if a, b := listProcedures(t, restored), listProcedures(t, replayed); a != b {
					t.Fatalf("the procedures after the rebuild in place:\n%s\nafter a start by replay:\n%s", a, b)
				}
				a, errA := restored.Sweep(ctx, later.Add(24*time.Hour))
				b, errB := replayed.Sweep(ctx, later.Add(24*time.Hour))
				if errA != nil || errB != nil {
					t.Fatalf("sweep: %v / %v", errA, errB)
				}
				if fa, fb := findings(a), findings(b); !slices.Equal(fa, fb) {
					t.Fatalf("the timers find after the rebuild in place:\n%s\nafter a start by replay:\n%s", strings.Join(fa, "\n"), strings.Join(fb, "\n"))
				}

				closeRestored()
				log.Reset()
				again, _ := openCkVillage(t, dir, clockA, withCheckpoints(&log))
				if !strings.Contains(log.String(), "restored from its checkpoint") || strings.Contains(log.String(), "rebuilding") {
					t.Fatalf("the start after the rebuild did not restore its checkpoint:\n%s", log.String())
				}
				sameState(t, "restarted after the rebuild", again, replayed)
				if a, b := listProcedures(t, again), listProcedures(t, replayed); a != b {
					t.Fatalf("the procedures restarted after the rebuild:\n%s\nafter a start by replay:\n%s", a, b)
				}
			})
		}
	}
}

// checkpointedThenMore records on a village an expense and record's first
// round, checkpoints, records its second round a day later and closes the
// node; it returns its folder, a copy of it, the clock and the village (its
// keys sign what a test records next).
func checkpointedThenMore(t *testing.T, record func(v *ckVillage, round int)) (dir, full string, clock *fakeClock, v *ckVillage) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	clock = &fakeClock{t: cstTime("2026-11-02 09:00")}
	n, closeFn := openCkVillage(t, dir, clock, withCheckpoints(io.Discard))
	v = &ckVillage{t: t, ctx: ctx, n: n, clock: clock}
	v.expense(100_000, nil)
	record(v, 0)
	if err := n.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(26 * time.Hour))
	record(v, 1)
	closeFn()
	full = t.TempDir()
	copyDir(t, dir, full)
	return dir, full, clock, v
}
