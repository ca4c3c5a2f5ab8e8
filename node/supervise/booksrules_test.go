package supervise_test

import (
	"context"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The rules on the books need no wiring: a voucher or a month close in the
// chain reaches the stateful rules as any entry does, its findings come
// back to the recorder and are recorded as alerts, and the sweep finds the
// month not closed in time.
func TestBooksRulesFollowTheChain(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-03-02 09:00")}
	b, _ := openSupervised(t, t.TempDir(), clock, nil)
	v := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-02", Number: 1, Summary: "付办公费", Lines: []*sanziv1.VoucherLine{
		{Account: "531", DebitFen: 30_000}, {Account: "101", CreditFen: 30_000},
	}}
	st, err := b.AppendEntry(ctx, benchOrg, "会计", sanziv1.EntryType_ENTRY_TYPE_VOUCHER, v, "")
	if err != nil {
		t.Fatal(err)
	}
	hits, err := b.Recorded(ctx, st.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Code != "BOOKS-CASH-NEGATIVE" || hits[0].Subject != st.ID() {
		t.Fatalf("hits %+v: want BOOKS-CASH-NEGATIVE about the voucher", hits)
	}
	alerts, _, _, err := b.ListAlerts(books.AlertFilter{RuleCode: "BOOKS-CASH-NEGATIVE"}, books.Page{})
	if err != nil || len(alerts) != 1 || alerts[0].GetSubjectId() != st.ID() {
		t.Fatalf("BOOKS-CASH-NEGATIVE alerts %v (%v): want one about the voucher", alerts, err)
	}
	if _, err := b.Sweep(ctx, cstTime("2026-04-11 09:00")); err != nil {
		t.Fatal(err)
	}
	alerts, _, _, err = b.ListAlerts(books.AlertFilter{RuleCode: "BOOKS-CLOSE-LATE"}, books.Page{})
	if err != nil || len(alerts) != 1 || alerts[0].GetAlert().GetEvidence()["period"] != "2026-03" {
		t.Fatalf("BOOKS-CLOSE-LATE alerts %v (%v): want one for 2026-03", alerts, err)
	}
}
