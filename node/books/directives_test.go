package books_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A node lists the district's directives addressed to it that pass the
// district writer's checks (entries.CheckDirective), and takes reports on
// those only: one written without them (by an older writer, by hand) is
// passed over.
func TestDirectivesPassTheWritersChecks(t *testing.T) {
	ctx := context.Background()
	b := openBooks(t, t.TempDir())
	issue := func(d *sanziv1.Directive) string {
		payload, _ := proto.Marshal(d)
		st, err := b.Ledger().Append(ctx, ledger.Record{Origin: benchDistrict, Author: "区农业农村局乙", Type: sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return st[0].ID()
	}
	good := &sanziv1.Directive{Org: benchDistrict, Addressees: []string{"350505100"}, Title: "清理闲置资产", Task: "上报闲置资产清单", Deadline: "2026-12-31"}
	cases := []struct {
		name   string
		change func(d *sanziv1.Directive)
		listed bool
	}{
		{"valid", func(*sanziv1.Directive) {}, true},
		{"another town's", func(d *sanziv1.Directive) { d.Addressees = []string{"350505101"} }, false},
		{"no deadline date", func(d *sanziv1.Directive) { d.Deadline = "年底" }, false},
		{"no task", func(d *sanziv1.Directive) { d.Task = "" }, false},
		{"an addressee that is no org code", func(d *sanziv1.Directive) { d.Addressees = []string{"350505100", "某镇"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := proto.CloneOf(good)
			tc.change(d)
			id := issue(d)
			list, err := b.Directives()
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, r := range list {
				listed = listed || r.GetEntry().GetId() == id
			}
			_, rerr := b.ReportDirective(ctx, "村会计", &sanziv1.DirectiveReport{DirectiveId: id, Text: "已上报"})
			if listed != tc.listed || (rerr == nil) != tc.listed {
				t.Fatalf("listed %v, report err %v; want listed and reportable %v", listed, rerr, tc.listed)
			}
		})
	}
}
