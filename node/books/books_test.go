package books_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestCrossReferences follows an asset and a contract through their lives:
// payments add up, reversals cancel, a disposed asset takes no more
// appraisals, an asset code is unique until its registration is reversed.
func TestCrossReferences(t *testing.T) {
	ctx := context.Background()
	b := openBooks(t, t.TempDir())
	report, err := b.Attachments().Put([]byte("appraisal report"), "r.txt", "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	contract, _, err := b.RecordContract(ctx, "t", &sanziv1.Contract{
		Org: benchOrg, Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: "HT-1",
		Counterparty: &sanziv1.Counterparty{Name: "林某某"}, Object: &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "DK-1", AreaMu: 3},
		TermStart: "2026-01-01", TermEnd: "2028-12-31", AnnualAmountFen: 90000, AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_AUCTION, SignedDate: "2025-12-01",
	})
	if err != nil {
		t.Fatal(err)
	}
	pay := func(amount int64) string {
		s, err := b.RecordContractPayment(ctx, "t", &sanziv1.ContractPayment{Org: benchOrg, ContractId: contract.ID(), AmountFen: amount,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: "2026-03-01"})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	first := pay(30000)
	pay(45000)
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: first, Reason: "bounced"}); err != nil {
		t.Fatal(err)
	}
	c, err := b.GetContract(contract.ID())
	if err != nil || c.GetPaidFen() != 45000 || len(c.GetPaymentIds()) != 2 {
		t.Fatalf("contract after payments and a reversal: paid %d, payments %v, err %v", c.GetPaidFen(), c.GetPaymentIds(), err)
	}

	reg := func(code string) (string, error) {
		s, err := b.RegisterAsset(ctx, "t", &sanziv1.AssetRegistration{Org: benchOrg, AssetCode: code, Name: "水泵", OriginalValueFen: 100000, AcquiredDate: "2020-01-01"})
		if err != nil {
			return "", err
		}
		return s.ID(), nil
	}
	asset, err := reg("ZC-1")
	if err != nil {
		t.Fatal(err)
	}
	appraise := func(id string) error {
		_, err := b.AppraiseAsset(ctx, "t", &sanziv1.AssetAppraisal{Org: benchOrg, AssetId: id, AppraisedValueFen: 80000, Appraiser: "某所", AppraisalDate: "2026-01-05", ReportAttachment: report.GetSha256()})
		return err
	}
	if err := appraise(asset); err != nil {
		t.Fatal(err)
	}
	disposal, _, err := b.DisposeAsset(ctx, "t", &sanziv1.AssetDisposal{Org: benchOrg, AssetId: asset, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP, DisposalDate: "2026-02-01"})
	if err != nil {
		t.Fatal(err)
	}
	var conflict *books.ConflictError
	if err := appraise(asset); !errors.As(err, &conflict) || conflict.Field != "appraisal.assetId" {
		t.Fatalf("appraising a disposed asset: %v", err)
	}
	// Reversing the disposal puts the asset back on the books.
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: disposal.ID(), Reason: "scrapped by mistake"}); err != nil {
		t.Fatal(err)
	}
	if err := appraise(asset); err != nil {
		t.Fatalf("appraise after the disposal was reversed: %v", err)
	}
	a, err := b.GetAsset(asset)
	if err != nil || a.GetDisposalId() != "" || len(a.GetAppraisalIds()) != 2 || a.GetAppraisedValueFen() != 80000 {
		t.Fatalf("asset: %+v %v", a, err)
	}
	// Codes are unique until the registration is reversed.
	if _, err := reg("ZC-1"); !errors.As(err, &conflict) || conflict.Field != "asset.assetCode" {
		t.Fatalf("second ZC-1: %v", err)
	}
	if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: asset, Reason: "registered twice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg("ZC-1"); err != nil {
		t.Fatalf("ZC-1 after the reversal: %v", err)
	}
	// The report is locked by the first appraisal.
	if err := b.Attachments().Delete(report.GetSha256()); err == nil {
		t.Fatal("deleted a locked attachment")
	}
}

// TestPaging pages through transactions with filters: every match once, in
// order, the total stated on every page.
func TestPaging(t *testing.T) {
	ctx := context.Background()
	b := openBooks(t, t.TempDir())
	const n = 25
	for i := 0; i < n; i++ {
		tx := sampleTx(i)
		if i%5 == 0 {
			tx.Kind = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
		}
		if _, _, err := b.RecordTransaction(ctx, "t", tx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		f     books.TransactionFilter
		size  int
		total int
	}{
		{"all in pages of 7", books.TransactionFilter{}, 7, n},
		{"incomes in pages of 2", books.TransactionFilter{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME}, 2, 5},
		{"another org", books.TransactionFilter{Org: "350505100202"}, 10, 0},
		{"one page", books.TransactionFilter{}, 1000, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []uint64
			token := ""
			for pages := 0; pages < 100; pages++ {
				recs, next, total, err := b.ListTransactions(tc.f, books.Page{Size: tc.size, Token: token})
				if err != nil {
					t.Fatal(err)
				}
				if total != int64(tc.total) {
					t.Fatalf("total %d, want %d", total, tc.total)
				}
				for _, r := range recs {
					seen = append(seen, r.GetEntry().GetSeq())
				}
				if next == "" {
					break
				}
				token = next
			}
			if len(seen) != tc.total {
				t.Fatalf("saw %d records, want %d: %v", len(seen), tc.total, seen)
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] <= seen[i-1] {
					t.Fatalf("out of order or repeated: %v", seen)
				}
			}
		})
	}
	if _, _, _, err := b.ListTransactions(books.TransactionFilter{}, books.Page{Token: "zz"}); err == nil {
		t.Fatal("a bad page token was accepted")
	}
}

// TestRulesOnRecording: with rules set, a blocking rule refuses the entry
// (nothing recorded), a warning lets it through with the hit, and an import
// names the row a rule refused.
func TestRulesOnRecording(t *testing.T) {
	ctx := context.Background()
	b := openBooks(t, t.TempDir())
	engine, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(engine)
	cash := sampleTx(1)
	cash.PaymentMethod, cash.AmountFen = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, 100001
	var blocked *books.BlockedError
	if _, _, err := b.RecordTransaction(ctx, "t", cash); !errors.As(err, &blocked) || blocked.Hits[0].Code != "CASH-PAY" {
		t.Fatalf("cash over the limit: %v", err)
	}
	if h := b.Ledger().Head(benchOrg); h.Seq != 0 {
		t.Fatalf("a blocked entry was recorded: head %d", h.Seq)
	}
	person := sampleTx(2)
	person.AmountFen = 200000
	person.Counterparty = &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}
	s, hits, err := b.RecordTransaction(ctx, "t", person)
	if err != nil || s.Seq != 1 || len(hits) != 1 || hits[0].Code != "PRIVATE-ACCT" {
		t.Fatalf("warned entry: %v %v %v", s, hits, err)
	}
	rows := []books.ImportRow{{Row: 2, Transaction: sampleTx(3)}, {Row: 3, Transaction: cash}}
	res, err := b.ImportTransactions(ctx, "t", rows, false)
	if err != nil || res.Recorded != 0 || res.RejectedTotal != 1 || res.Rejections[0].Row != 3 || !strings.Contains(res.Rejections[0].Reason, "CASH-PAY") {
		t.Fatalf("import with a blocked row: %+v, err %v", res, err)
	}
}

// TestAlertLifecycle: a warning becomes an alert entry about the recorded
// entry in the same append; its review moves only along the allowed steps,
// each an entry, with the history kept.
func TestAlertLifecycle(t *testing.T) {
	ctx := context.Background()
	b := openBooks(t, t.TempDir())
	engine, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(engine)
	person := sampleTx(1)
	person.AmountFen = 200000
	person.Counterparty = &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}
	s, _, err := b.RecordTransaction(ctx, "t", person)
	if err != nil {
		t.Fatal(err)
	}
	alerts, _, total, err := b.ListAlerts(books.AlertFilter{Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN}, books.Page{})
	if err != nil || total != 1 || alerts[0].GetSubjectId() != s.ID() || alerts[0].GetAlert().GetRuleCode() != "PRIVATE-ACCT" || alerts[0].GetEntry().GetSeq() != s.Seq+1 {
		t.Fatalf("open alerts: %v total %d err %v", alerts, total, err)
	}
	id := alerts[0].GetEntry().GetId()
	move := func(to sanziv1.AlertStatus, reason string) error {
		_, err := b.UpdateAlertStatus(ctx, "reviewer", &sanziv1.AlertTransition{Org: benchOrg, AlertId: id, Status: to, Reason: reason})
		return err
	}
	var conflict *books.ConflictError
	var invalid *books.InvalidError
	for _, step := range []struct {
		to     sanziv1.AlertStatus
		reason string
		ok     bool
		bad    any
	}{
		{sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED, "", false, &conflict}, // not acknowledged yet
		{sanziv1.AlertStatus_ALERT_STATUS_OPEN, "", false, &invalid},       // only rules open alerts
		{sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, "", true, nil},
		{sanziv1.AlertStatus_ALERT_STATUS_DISMISSED, "", false, &invalid}, // reason required
		{sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED, "", true, nil},
		{sanziv1.AlertStatus_ALERT_STATUS_DISMISSED, "mistake", false, &conflict}, // confirmed cannot be dismissed
		{sanziv1.AlertStatus_ALERT_STATUS_RESOLVED, "收款人已核实非村干部，补充说明已附", true, nil},
		{sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED, "", false, &conflict}, // resolved is final
	} {
		err := move(step.to, step.reason)
		switch {
		case step.ok && err != nil:
			t.Fatalf("%s: %v", step.to, err)
		case !step.ok && err == nil:
			t.Fatalf("%s was allowed", step.to)
		case !step.ok && !errors.As(err, step.bad):
			t.Fatalf("%s: error %T %v", step.to, err, err)
		}
	}
	a, err := b.GetAlert(id)
	if err != nil || a.GetStatus() != sanziv1.AlertStatus_ALERT_STATUS_RESOLVED || len(a.GetHistory()) != 3 || a.GetHistory()[2].GetBy() != "reviewer" {
		t.Fatalf("alert after review: %v %v", a, err)
	}
	if _, _, total, _ := b.ListAlerts(books.AlertFilter{Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN}, books.Page{}); total != 0 {
		t.Fatalf("%d open alerts after resolving", total)
	}
}

// TestDryRun: the checks behind validate_only answer what a record would
// (the warning's hits, a blocking rule's refusal, an invalid field) and
// record nothing: the chain's head does not move, no alert, no procedure.
func TestDryRun(t *testing.T) {
	b := openBooks(t, t.TempDir())
	engine, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(engine)
	cash := sampleTx(1)
	cash.PaymentMethod, cash.AmountFen = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, 500000
	person := sampleTx(2)
	person.AmountFen = 200000
	person.Counterparty = &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}
	noSummary := sampleTx(3)
	noSummary.Summary = ""
	for _, tc := range []struct {
		name    string
		tx      *sanziv1.Transaction
		hits    []string
		blocked string
		field   string
	}{
		{"clean", sampleTx(4), nil, "", ""},
		{"warned", person, []string{"PRIVATE-ACCT"}, "", ""},
		{"blocked", cash, nil, "CASH-PAY", ""},
		{"invalid", noSummary, nil, "", "transaction.summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits, err := b.CheckTransaction("t", tc.tx)
			var blocked *books.BlockedError
			var invalid *books.InvalidError
			switch {
			case tc.blocked != "":
				if !errors.As(err, &blocked) || blocked.Hits[0].Code != tc.blocked {
					t.Fatalf("%v, want blocked by %s", err, tc.blocked)
				}
			case tc.field != "":
				if !errors.As(err, &invalid) || invalid.Violations[0].Field != tc.field {
					t.Fatalf("%v, want %s refused", err, tc.field)
				}
			case err != nil:
				t.Fatal(err)
			}
			var codes []string
			for _, h := range hits {
				codes = append(codes, h.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tc.hits, ",") {
				t.Fatalf("hits %v, want %v", codes, tc.hits)
			}
			if h := b.Ledger().Head(benchOrg); h.Seq != 0 {
				t.Fatalf("a dry run recorded: head %d", h.Seq)
			}
		})
	}
	// The same warned transaction recorded for real moves the head by the
	// entry, its alert and its voucher: the dry run's head staying put is
	// not vacuous.
	if _, _, err := b.RecordTransaction(context.Background(), "t", person); err != nil {
		t.Fatal(err)
	}
	if h := b.Ledger().Head(benchOrg); h.Seq != 3 {
		t.Fatalf("after the real record: head %d, want 3 (entry, alert and voucher)", h.Seq)
	}
}
