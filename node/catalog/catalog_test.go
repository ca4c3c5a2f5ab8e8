package catalog

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const district = "350505"

func TestDefaultIsValid(t *testing.T) {
	c := Default(district)
	if err := Validate(c); err != nil {
		t.Fatalf("Validate(Default) = %v", err)
	}
	if n := len(c.GetMatters()); n < 12 {
		t.Fatalf("Default has %d matters, want at least 12", n)
	}
	posts := map[string]bool{}
	for _, p := range c.GetPosts() {
		posts[p.GetCode()] = true
	}
	codes := map[string]bool{}
	for _, m := range c.GetMatters() {
		if codes[m.GetCode()] {
			t.Errorf("duplicate matter code %s", m.GetCode())
		}
		codes[m.GetCode()] = true
		if l := m.GetTotalLimit(); l.GetAmount() <= 0 {
			t.Errorf("%s: total limit %v not positive", m.GetCode(), l)
		}
		for _, s := range m.GetSteps() {
			if !posts[s.GetPost()] {
				t.Errorf("%s.%s: post %q not in catalog", m.GetCode(), s.GetCode(), s.GetPost())
			}
			if s.GetLimit().GetAmount() <= 0 {
				t.Errorf("%s.%s: limit %v not positive", m.GetCode(), s.GetCode(), s.GetLimit())
			}
		}
	}
	for _, want := range []string{"FUND-REIMB", "FUND-BIG", "WORKS-TENDER", "ASSET-DISPOSE", "RES-CONTRACT",
		"CONTRACT-LEASE", "CONTRACT-END", "FUND-LOAN", "FUND-INCOME", "FUND-BANKREC", "GOV-DISCLOSE",
		"GOV-COMPLAINT", "GOV-ALERT"} {
		if !codes[want] {
			t.Errorf("matter %s missing", want)
		}
	}
}

func TestDefaultProcedures(t *testing.T) {
	c := Default(district)
	big, ok := Find(c, "FUND-BIG")
	if !ok {
		t.Fatal("FUND-BIG not found")
	}
	if big.GetThresholdFen() != 5_000_000 {
		t.Errorf("FUND-BIG threshold = %d fen, want 5000000", big.GetThresholdFen())
	}
	prev := -1
	for _, code := range []string{"propose", "consult", "deliberate", "resolve", "publish_resolution", "town_post", "pay"} {
		i := StepIndex(big, code)
		if i <= prev {
			t.Fatalf("FUND-BIG step %s at %d, want after %d", code, i, prev)
		}
		prev = i
	}
	resolve := big.GetSteps()[StepIndex(big, "resolve")]
	if !resolve.GetRequiresResolution() || resolve.GetMinDuration().GetAmount() != 10 {
		t.Errorf("resolve step = %v, want a resolution and a 10-day notice", resolve)
	}
	if StepIndex(big, "nope") != -1 {
		t.Error("StepIndex of an absent step is not -1")
	}
	if _, ok := Find(c, "NOPE"); ok {
		t.Error("Find of an absent matter reported found")
	}
	reimb, _ := Find(c, "FUND-REIMB")
	for _, tc := range []struct {
		step string
		unit sanziv1.LimitUnit
		n    int32
	}{
		{"capture", sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS, 3},
		{"review", sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS, 2},
		{"signoff", sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS, 2},
		{"town_post", sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS, 3},
		{"pay", sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS, 1},
	} {
		i := StepIndex(reimb, tc.step)
		if i < 0 {
			t.Errorf("FUND-REIMB has no step %s", tc.step)
			continue
		}
		if l := reimb.GetSteps()[i].GetLimit(); l.GetUnit() != tc.unit || l.GetAmount() != tc.n {
			t.Errorf("FUND-REIMB.%s limit = %s", tc.step, LimitText(l))
		}
	}
	alert, _ := Find(c, "GOV-ALERT")
	if l := alert.GetSteps()[0].GetLimit(); alert.GetSteps()[0].GetCode() != "acknowledge" || LimitText(l) != "1 working days" {
		t.Errorf("GOV-ALERT first step = %v", alert.GetSteps()[0])
	}
	if LimitText(alert.GetTotalLimit()) != "5 working days" {
		t.Errorf("GOV-ALERT total = %s", LimitText(alert.GetTotalLimit()))
	}
}

func TestValidateFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(c *sanziv1.Catalog)
		paths []string
	}{
		{"empty version", func(c *sanziv1.Catalog) { c.Version = "" }, []string{"version: empty"}},
		{"district letters", func(c *sanziv1.Catalog) { c.District = "35050a" }, []string{"district:"}},
		{"district short", func(c *sanziv1.Catalog) { c.District = "3505" }, []string{"district:"}},
		{"empty matter code", func(c *sanziv1.Catalog) { c.Matters[3].Code = "" }, []string{"matters[3].code: empty"}},
		{"duplicate matter code", func(c *sanziv1.Catalog) { c.Matters[4].Code = c.Matters[1].Code }, []string{"matters[4].code: duplicate"}},
		{"empty step code", func(c *sanziv1.Catalog) { c.Matters[0].Steps[2].Code = "" }, []string{"matters[0].steps[2].code: empty"}},
		{"duplicate step code", func(c *sanziv1.Catalog) { c.Matters[0].Steps[1].Code = c.Matters[0].Steps[0].Code },
			[]string{"matters[0].steps[1].code: duplicate"}},
		{"unknown post", func(c *sanziv1.Catalog) { c.Matters[3].Steps[1].Post = "village.nobody" },
			[]string{`matters[3].steps[1].post: unknown post "village.nobody"`}},
		{"empty post", func(c *sanziv1.Catalog) { c.Matters[3].Steps[1].Post = "" }, []string{"matters[3].steps[1].post: empty"}},
		{"missing limit", func(c *sanziv1.Catalog) { c.Matters[2].Steps[0].Limit = nil }, []string{"matters[2].steps[0].limit: missing"}},
		{"zero limit", func(c *sanziv1.Catalog) { c.Matters[2].Steps[0].Limit.Amount = 0 }, []string{"matters[2].steps[0].limit.amount"}},
		{"negative limit", func(c *sanziv1.Catalog) { c.Matters[2].Steps[0].Limit.Amount = -2 }, []string{"matters[2].steps[0].limit.amount"}},
		{"unspecified unit", func(c *sanziv1.Catalog) { c.Matters[2].Steps[0].Limit.Unit = sanziv1.LimitUnit_LIMIT_UNIT_UNSPECIFIED },
			[]string{"matters[2].steps[0].limit.unit"}},
		{"missing total limit", func(c *sanziv1.Catalog) { c.Matters[5].TotalLimit = nil }, []string{"matters[5].total_limit: missing"}},
		{"min over limit", func(c *sanziv1.Catalog) { c.Matters[1].Steps[3].MinDuration.Amount = 99 }, []string{"matters[1].steps[3].min_duration"}},
		{"unspecified tier", func(c *sanziv1.Catalog) { c.Posts[2].Tier = sanziv1.Tier_TIER_UNSPECIFIED }, []string{"posts[2].tier"}},
		{"duplicate post", func(c *sanziv1.Catalog) { c.Posts[2].Code = c.Posts[0].Code }, []string{"posts[2].code: duplicate"}},
		{"no steps", func(c *sanziv1.Catalog) { c.Matters[6].Steps = nil }, []string{"matters[6].steps: none"}},
		{"negative threshold", func(c *sanziv1.Catalog) { c.Matters[1].ThresholdFen = -1 }, []string{"matters[1].threshold_fen: negative"}},
		{"negative fee", func(c *sanziv1.Catalog) { c.Matters[1].FeeFen = -1 }, []string{"matters[1].fee_fen: negative"}},
		{"bad category", func(c *sanziv1.Catalog) { c.Matters[1].Category = "misc" }, []string{"matters[1].category"}},
		{"several at once", func(c *sanziv1.Catalog) {
			c.Version = ""
			c.Matters[0].Steps[0].Post = "x"
			c.Matters[7].Steps[1].Limit = nil
		}, []string{"version: empty", "matters[0].steps[0].post", "matters[7].steps[1].limit: missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default(district)
			tc.edit(c)
			err := Validate(c)
			if err == nil {
				t.Fatal("Validate accepted a broken catalog")
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name %q", err, p)
				}
			}
		})
	}
	if Validate(nil) == nil {
		t.Error("Validate(nil) accepted")
	}
	if err := Validate(&sanziv1.Catalog{Version: "1", District: district}); err == nil || !strings.Contains(err.Error(), "matters: none") {
		t.Errorf("empty catalog: %v", err)
	}
}

func TestHash(t *testing.T) {
	a, err := Hash(Default(district))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Hash(Default(district))
	if a != b {
		t.Fatal("two builds of Default hash differently")
	}
	c := Default(district)
	c.Matters[0].Steps[1].Limit.Amount++
	h, _ := Hash(c)
	if h == a {
		t.Fatal("hash did not change with a step limit")
	}
	if _, err := Hash(nil); err == nil {
		t.Error("Hash(nil) gave no error")
	}
}

func TestDiff(t *testing.T) {
	if d := Diff(Default(district), Default(district)); len(d) != 0 {
		t.Fatalf("Diff of equal catalogs = %q", d)
	}
	for _, tc := range []struct {
		name string
		edit func(c *sanziv1.Catalog)
		want string
	}{
		{"version", func(c *sanziv1.Catalog) { c.Version = "2026-2" }, `version "default" → "2026-2"`},
		{"step limit", func(c *sanziv1.Catalog) {
			m, _ := Find(c, "FUND-BIG")
			m.Steps[StepIndex(m, "resolve")].Limit = cd(30)
		}, "matter FUND-BIG: step resolve limit 20 calendar days → 30 calendar days"},
		{"step post", func(c *sanziv1.Catalog) {
			m, _ := Find(c, "FUND-REIMB")
			m.Steps[StepIndex(m, "pay")].Post = pAgency
		}, "matter FUND-REIMB: step pay post town.agency_cashier → town.agency_accountant"},
		{"threshold", func(c *sanziv1.Catalog) {
			m, _ := Find(c, "FUND-BIG")
			m.ThresholdFen = 2_000_000
		}, "matter FUND-BIG: threshold 5000000 → 2000000 fen"},
		{"matter added", func(c *sanziv1.Catalog) {
			c.Matters = append(c.Matters, &sanziv1.Matter{Code: "FUND-NEW", Name: "新事项", Category: "funds",
				Steps: []*sanziv1.Step{step("only", "唯一", pAccountant, wd(1), "")}, TotalLimit: wd(1)})
		}, "matter FUND-NEW (新事项) added with 1 steps"},
		{"matter removed", func(c *sanziv1.Catalog) { c.Matters = c.Matters[1:] }, "matter FUND-REIMB (日常报销) removed"},
		{"step added", func(c *sanziv1.Catalog) {
			m, _ := Find(c, "GOV-ALERT")
			m.Steps = append(m.Steps, step("report", "报区纪委", pDiscipline, wd(1), ""))
		}, "matter GOV-ALERT: step report (报区纪委) added, post district.discipline, limit 1 working days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := Default(district)
			tc.edit(nw)
			d := Diff(Default(district), nw)
			if len(d) != 1 || d[0] != tc.want {
				t.Errorf("Diff = %q, want [%q]", d, tc.want)
			}
		})
	}
}

func TestProtoRoundTrip(t *testing.T) {
	c := Default(district)
	b, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back sanziv1.Catalog
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Validate(&back); err != nil {
		t.Fatalf("Validate after round trip: %v", err)
	}
	if !proto.Equal(c, &back) {
		t.Fatal("round trip changed the catalog")
	}
	h1, _ := Hash(c)
	h2, _ := Hash(&back)
	if h1 != h2 {
		t.Fatal("round trip changed the hash")
	}
}
