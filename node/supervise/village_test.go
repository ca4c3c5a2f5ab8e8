package supervise_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/workflow"
)

// TestVillageRefusesTheTownsSteps: on a village's own API, a decision on a
// step whose post is held at the town is refused (it comes only in the
// town's chain), and so is a decision claiming to apply a town decision
// (parentDecisionId is the node's to set).
func TestVillageRefusesTheTownsSteps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, villageB), 0o750); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	b, _ := openOrgBooks(t, filepath.Join(dir, villageB), filepath.Join(dir, "keys"), []string{townOrg, villageB}, []string{villageB}, clock, nil, false)
	tx := plainExpense(150_000, "00000001")
	tx.Org = villageB
	if _, _, err := b.RecordTransaction(ctx, "B村会计", tx); err != nil {
		t.Fatal(err)
	}
	procs, _, _, err := b.Procedures(workflow.Filter{Org: villageB}, books.Page{})
	if err != nil || len(procs) != 1 {
		t.Fatalf("B's procedures: %v %v", procs, err)
	}
	pid := procs[0].GetEntry().GetId()

	forged := approve(villageB, pid, "capture", "village.accountant")
	forged.ParentDecisionId = townOrg + "-7"
	var inv *books.InvalidError
	if _, _, err := b.DecideStep(ctx, "B村会计", forged); !errors.As(err, &inv) || inv.Violations[0].Field != "decision.parentDecisionId" {
		t.Fatalf("a caller's parentDecisionId: %v, want refused naming decision.parentDecisionId", err)
	}
	for _, s := range [][2]string{{"capture", "village.accountant"}, {"review", "village.finance_group"}, {"signoff", "village.head"}} {
		if _, _, err := b.DecideStep(ctx, "B村", approve(villageB, pid, s[0], s[1])); err != nil {
			t.Fatalf("B decides %s: %v", s[0], err)
		}
	}
	_, _, err = b.DecideStep(ctx, "B村", approve(villageB, pid, "town_post", "town.agency_accountant"))
	if !errors.Is(err, books.ErrPermissionDenied) || !strings.Contains(err.Error(), "town_post") {
		t.Fatalf("the village deciding the town's step: %v, want permission denied naming town_post", err)
	}
	p, err := b.Procedure(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, st := p.OpenStep(); st.GetCode() != "town_post" {
		t.Fatalf("B's procedure is at %s, want still town_post", st.GetCode())
	}
}
