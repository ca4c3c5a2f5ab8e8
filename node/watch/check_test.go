package watch

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ctc is one entry checked before commit and whether the rule fires.
type ctc struct {
	name  string
	mods  []mod
	entry proto.Message
	fires bool
	note  string // the evidence's relative_note, when it fires
}

func runChecks(t *testing.T, code string, cases []ctc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, e := watcher(t, c.mods...)
			hits := of(t, e, code, w.Check(c.entry))
			if (len(hits) > 0) != c.fires || len(hits) > 1 {
				t.Fatalf("%s hits %+v, want fires=%v", code, hits, c.fires)
			}
			if c.fires && (hits[0].Key != "" || hits[0].Subject != "" || hits[0].Evidence["relative_note"] != c.note) {
				t.Errorf("hit %+v", hits[0])
			}
		})
	}
}

func TestRelative(t *testing.T) {
	son, brother := person(t, 21), person(t, 22)
	n := 40
	for !strings.HasSuffix(person(t, n), "X") {
		n++
	}
	cousin := person(t, n)
	relatives := list("relatives",
		rules.ListItem{Name: "张小三", IDNumber: son, Note: "村主任张三之子"},
		rules.ListItem{Name: "陈七", IDNumber: cousin, Note: "出纳之表弟"},
		rules.ListItem{Name: "李四", Note: "会计李五之兄"},
		rules.ListItem{Phone: "13800000001", BankAccount: "6222 0000 0000 0001", Note: "村支书之妻"},
	)
	with := func(c *sanziv1.Counterparty) txOpt { return func(tx *sanziv1.Transaction) { tx.Counterparty = c } }
	lessee := func(c *sanziv1.Counterparty) *sanziv1.Contract {
		ct := lease("L-1", "2030-12-31")
		ct.Counterparty = c
		return ct
	}
	m := []mod{relatives}
	runChecks(t, "RELATIVE", []ctc{
		{"by id number under another name", m, exp(100, "2026-03-01", payee("张晓三", son)), true, "村主任张三之子"},
		{"lowercase x in the id", m, exp(100, "2026-03-01", payee("", strings.ToLower(cousin))), true, "出纳之表弟"},
		{"someone else's id", m, exp(100, "2026-03-01", payee("", brother)), false, ""},
		{"name alone where the list has an id", m, exp(100, "2026-03-01", payee("张小三", "")), false, ""},
		{"name where the list has only a name", m, exp(100, "2026-03-01", payee("李四", brother)), true, "会计李五之兄"},
		{"by phone", m, exp(100, "2026-03-01", with(&sanziv1.Counterparty{Name: "王某", Phone: "13800000001"})), true, "村支书之妻"},
		{"by account, spaces aside", m, exp(100, "2026-03-01", with(&sanziv1.Counterparty{BankAccount: "6222000000000001"})), true, "村支书之妻"},
		{"another account", m, exp(100, "2026-03-01", with(&sanziv1.Counterparty{BankAccount: "6222000000000002"})), false, ""},
		{"income from a relative", m, inc(100, "2026-03-01", payee("李四", "")), false, ""},
		{"a relative's lease", m, lessee(&sanziv1.Counterparty{Name: "张小三", IdNumber: son}), true, "村主任张三之子"},
		{"no list", nil, exp(100, "2026-03-01", payee("李四", "")), false, ""},
	})
}

func TestOutsider(t *testing.T) {
	wang := person(t, 31)
	members := list("members", rules.ListItem{Name: "王五", IDNumber: wang}, rules.ListItem{Name: "赵六"})
	land := func(name, idNumber string, attachments int, opts ...func(*sanziv1.Contract)) *sanziv1.Contract {
		c := contract(sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT, "L-1", "2030-12-31")
		c.Counterparty = &sanziv1.Counterparty{Name: name, IdNumber: idNumber}
		for range attachments {
			c.Attachments = append(c.Attachments, "sha256")
		}
		for _, o := range opts {
			o(c)
		}
		return c
	}
	m := []mod{members}
	runChecks(t, "OUTSIDER", []ctc{
		{"an outsider, one attachment", m, land("某农业公司", "", 1), true, ""},
		{"an outsider, the vote and the approval", m, land("某农业公司", "", 2), false, ""},
		{"a member by id", m, land("王 五", wang, 0), false, ""},
		{"a member's name with another id", m, land("王五", person(t, 32), 0), true, ""},
		{"a member by name", m, land("赵六", person(t, 33), 0), false, ""},
		{"a lease is no contracting out", m, land("某农业公司", "", 0, func(c *sanziv1.Contract) { c.Kind = sanziv1.ContractKind_CONTRACT_KIND_LEASE }), false, ""},
		{"not land", m, land("某农业公司", "", 0, func(c *sanziv1.Contract) { c.Object.Kind = sanziv1.ObjectKind_OBJECT_KIND_RESOURCE }), false, ""},
		{"no members list", nil, land("某农业公司", "", 0), false, ""},
		{"a district asking three attachments", []mod{members, params("OUTSIDER", map[string]int64{"min_attachments": 3})},
			land("某农业公司", "", 2), true, ""},
		{"a transaction", m, exp(100, "2026-03-01"), false, ""},
	})
	w, _ := watcher(t, members)
	if h := rules.Blocking(w.Check(land("某农业公司", "", 0))); len(h) != 1 || h[0].Code != "OUTSIDER" {
		t.Errorf("OUTSIDER does not block: %+v", h)
	}
}
