package supervise_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestReopenNeedsTheTownsApproval: a closed month of village B reopens
// only with a BOOKS-REOPEN procedure for it whose town step the town
// approved, in its own chain, come down to B; then it takes vouchers again.
func TestReopenNeedsTheTownsApproval(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	town, b := openTownAndVillageB(t, clock)
	draw := func(date string) error {
		_, _, _, err := b.RecordVoucher(ctx, "B村会计", &sanziv1.Voucher{Org: villageB, BusinessDate: date, Summary: "提现",
			Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: 5000}, {Account: chart.Bank, CreditFen: 5000}}})
		return err
	}
	if err := draw("2026-10-05"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.CloseMonth(ctx, "B村会计", villageB, "2026-10"); err != nil {
		t.Fatal(err)
	}
	open := func(period string) string {
		p, err := b.OpenProcedure(ctx, "B村会计", &sanziv1.Procedure{Org: villageB, MatterCode: catalog.BooksReopen, Summary: "补记凭证", Period: period})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	pid, other := open("2026-10"), open("2026-09")
	reopen := func(pid string) error {
		_, err := b.ReopenMonth(ctx, "B村会计", &sanziv1.MonthReopen{Org: villageB, Month: "2026-10", Reason: "补记凭证", ProcedureId: pid}, b.ApprovesReopen)
		return err
	}
	var conflict *books.ConflictError
	var invalid *books.InvalidError
	if err := reopen(pid); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "no town step is approved") {
		t.Fatalf("reopen before any approval: %v", err)
	}
	if err := reopen(other); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "2026-09") {
		t.Fatalf("reopen with the procedure of another month: %v", err)
	}
	if _, _, err := b.DecideStep(ctx, "B村会计", approve(villageB, pid, "request", "village.accountant")); err != nil {
		t.Fatal(err)
	}
	if err := reopen(pid); !errors.As(err, &conflict) {
		t.Fatalf("reopen with the village's step alone: %v", err)
	}
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, pid, "approve", "town.agency_accountant")); err != nil {
		t.Fatalf("the town approves: %v", err)
	}
	ship(t, town, b, townOrg)
	if err := draw("2026-10-20"); !errors.As(err, &conflict) {
		t.Fatalf("voucher in the closed month: %v", err)
	}
	if err := reopen(pid); err != nil {
		t.Fatalf("reopen with the town's approval: %v", err)
	}
	if err := draw("2026-10-20"); err != nil {
		t.Fatalf("voucher in the reopened month: %v", err)
	}
}
