package supervise_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDisclosureApprovalNamesContent: at the village, an approval of a
// step of the monthly disclosure names the public content it approves
// (the digest disclosed.Prepare gives from the village's chain), whatever
// route the decision took; a caller may not name one; the town's decision,
// applied at the village, names none.
func TestDisclosureApprovalNamesContent(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	town, b := openTownAndVillageB(t, clock)
	recordExpense(t, b, "kuaiji", "00000001")
	p, err := b.OpenProcedure(ctx, "kuaiji", &sanziv1.Procedure{Org: villageB, MatterCode: disclosed.Matter, Period: "2026-10", Summary: "10月财务公开"})
	if err != nil {
		t.Fatal(err)
	}
	ship(t, b, town, villageB)
	prep := approve(villageB, p.ID, "prepare", "town.agency_accountant")
	prep.Disclosure = &sanziv1.DisclosureApproval{ContentSha256: strings.Repeat("0", 64)}
	if _, _, err := town.DecideStep(ctx, "zhen.li", prep); !errors.As(err, new(*books.InvalidError)) {
		t.Fatalf("the town naming the content: %v, want invalid", err)
	}
	// A town's chain holding one anyway (a town node of another make):
	// the village applies the step without it.
	if _, err := town.AppendEntry(ctx, townOrg, "zhen.li", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: villageB, Decision: &sanziv1.TownDecision_Step{Step: prep}}, p.ID); err != nil {
		t.Fatal(err)
	}
	before := b.Ledger().Head(villageB).Seq
	ship(t, town, b, townOrg)
	applied := decisionAt(t, b.Ledger(), before+1)
	if applied.GetStepCode() != "prepare" || applied.GetDisclosure() != nil {
		t.Fatalf("the town's decision applied at B: step %s, disclosure %v; want prepare and none", applied.GetStepCode(), applied.GetDisclosure())
	}

	named := approve(villageB, p.ID, "audit", "village.finance_group")
	named.Disclosure = &sanziv1.DisclosureApproval{ContentSha256: strings.Repeat("0", 64)}
	var inv *books.InvalidError
	if _, _, err := b.DecideStep(ctx, "jiandu", named); !errors.As(err, &inv) || !strings.Contains(err.Error(), "disclosure") {
		t.Fatalf("a caller naming the content: %v, want invalid naming decision.disclosure", err)
	}

	want, err := disclosed.Prepare(b.Ledger(), villageB, p.ID, disclosed.Options{ItemizeFromFen: p.Matter.GetThresholdFen()})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := b.DecideStep(ctx, "jiandu", approve(villageB, p.ID, "audit", "village.finance_group"))
	if err != nil {
		t.Fatal(err)
	}
	got := decisionAt(t, b.Ledger(), st.Seq).GetDisclosure()
	if got.GetContentSha256() != want.ContentSha256 || got.GetItemizeFromFen() != want.ItemizeFromFen || len(want.Transactions) == 0 {
		t.Fatalf("the audit names %v, want %s at %d (the content of %d itemized transactions)", got, want.ContentSha256, want.ItemizeFromFen, len(want.Transactions))
	}
}

// decisionAt is the step decision at seq of B's chain.
func decisionAt(t *testing.T, l *ledger.Ledger, seq uint64) *sanziv1.StepDecision {
	t.Helper()
	st, err := l.Get(villageB, seq)
	if err != nil {
		t.Fatal(err)
	}
	m, err := entries.Decode(st.Type, st.Payload)
	d, ok := m.(*sanziv1.StepDecision)
	if err != nil || !ok {
		t.Fatalf("entry %s: %s %v", st.ID(), st.Type, err)
	}
	return d
}
