package disclosed

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// approveNaming decides the steps of open procedure id, each approval
// naming the content digest sum (and threshold itemize) as the village
// node does; the last decision closes it.
func (b *book) approveNaming(id, sum string, itemize int64) []string {
	var out []string
	for i, step := range []string{"prepare", "audit"} {
		out = append(out, b.add(sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: village, ProcedureId: id, StepCode: step,
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: "p", Closes: i == 1,
			Disclosure: &sanziv1.DisclosureApproval{ContentSha256: sum, ItemizeFromFen: itemize}}))
	}
	return out
}

func (b *book) open(period string) string {
	return b.add(sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, &sanziv1.Procedure{Org: village, MatterCode: Matter, Period: period})
}

// TestApproval: what the village prepares for its committee is what the
// district publishes, to the byte; a decision naming other content makes
// Check refuse the month naming the decision; an approval's threshold
// holds after the catalog's changes; a month approved before decisions
// named a digest is Legacy and not refused.
func TestApproval(t *testing.T) {
	b := newBook(t)
	person := &sanziv1.Counterparty{Name: "李四", Phone: "13800135678"}
	b.tx(inc, 300_000, cash, "经营收入", nil)
	b.tx(exp, 2_000_000, bank, "工程支出", person)

	// A month approved the old way: no digest named.
	old := b.disclose("2026-01", sanziv1.StepAction_STEP_ACTION_APPROVE)

	b.tx(exp, 1_500_000, bank, "管理费用", person)
	feb := b.open("2026-02")
	prepared, err := Prepare(b.led, village, feb, Options{ItemizeFromFen: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	raw, sum, err := Encode(prepared)
	if err != nil {
		t.Fatal(err)
	}
	if prepared.ContentSha256 != sum || len(prepared.Transactions) != 1 || prepared.Transactions[0].Party.Phone != "138****5678" || prepared.Transactions[0].Party.Name != "李*" {
		t.Fatalf("prepared (masked, one itemized): %s", raw)
	}
	// Recorded after the procedure opened: in the next month, not this one.
	b.tx(inc, 9_000_000, bank, "补助收入", nil)
	decisions := b.approveNaming(feb, sum, prepared.ItemizeFromFen)

	mar := b.open("2026-03")
	b.approveNaming(mar, strings.Repeat("0", 64), 1_000_000) // the committee approved other content

	// The catalog's threshold changed since: the approvals' own holds.
	all, err := Compute(b.led, village, 1, Options{ItemizeFromFen: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d disclosures, want 3", len(all))
	}
	cases := []struct {
		name   string
		d      *Disclosure
		legacy bool
		refuse string // in Check's error; "" for none
	}{
		{"approved before digests", all[0], true, ""},
		{"approved as prepared", all[1], false, ""},
		{"approved other content", all[2], false, "approved content with sha256 " + strings.Repeat("0", 64)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.d.Legacy(); got != c.legacy {
				t.Errorf("Legacy() = %v, want %v", got, c.legacy)
			}
			err := c.d.Check()
			switch {
			case c.refuse == "" && err != nil:
				t.Errorf("Check: %v", err)
			case c.refuse != "" && (!errors.Is(err, ErrNotApproved) || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), c.d.ContentSha256)):
				t.Errorf("Check = %v, want %v naming %q and the chain's digest", err, ErrNotApproved, c.refuse)
			}
		})
	}
	if all[0].Procedure.ID != old || all[0].ItemizeFromFen != 50_000_000 {
		t.Errorf("old month: procedure %s, threshold %d: want %s at the catalog's", all[0].Procedure.ID, all[0].ItemizeFromFen, old)
	}
	got, gsum, err := Encode(all[1])
	if err != nil {
		t.Fatal(err)
	}
	if gsum != sum || !bytes.Equal(got, raw) || all[1].ItemizeFromFen != 1_000_000 {
		t.Fatalf("published:\n%s\nprepared:\n%s", got, raw)
	}
	if all[1].Approvals[1].Ref.ID != decisions[1] || all[1].Approvals[1].ContentSha256 != sum {
		t.Errorf("approvals %+v", all[1].Approvals)
	}
	// Once approved it is no longer open.
	if _, err := Prepare(b.led, village, feb, Options{}); !errors.Is(err, ErrNoProcedure) {
		t.Errorf("Prepare of a closed procedure: %v, want %v", err, ErrNoProcedure)
	}
}
