package authz

import (
	"testing"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestMaskFunctions(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"resident id", MaskResidentID("350505199001011234"), "3505**********1234"},
		{"resident id with X", MaskResidentID("35050519900101123X"), "3505**********123X"},
		{"bank account", MaskBankAccount("6222021234567890123"), "6222***********0123"},
		{"phone", MaskPhone("13812345678"), "138****5678"},
		{"short account starred whole", MaskBankAccount("12345678"), "********"},
		{"short phone starred whole", MaskPhone("5551234"), "*******"},
		{"empty stays empty", MaskResidentID(""), ""},
		{"payee name kept", maskNumber("张三"), "张三"},
		{"payee id masked", maskNumber("350505199001011234"), "3505**********1234"},
		{"org code kept", maskNumber("350505100201"), "350505100201"},
		{"town code kept (a statistics key)", maskNumber("350505100"), "350505100"},
		{"phone masked", maskNumber("13905918888"), "1390***8888"},
		{"key segments", maskSegments("SPLIT/350505199001011234/350505100201-7"), "SPLIT/3505**********1234/350505100201-7"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

const (
	resident = "350505199001011234"
	account  = "6222021234567890123"
	phone    = "13812345678"
)

func listOf(org string) *sanziv1.ListTransactionsResponse {
	return &sanziv1.ListTransactionsResponse{Transactions: []*sanziv1.TransactionRecord{{
		Transaction: &sanziv1.Transaction{Org: org, Summary: "劳务费", Counterparty: &sanziv1.Counterparty{
			Name: "张三", IdNumber: resident, BankAccount: account, Phone: phone, BankName: "农商行"}},
	}}}
}

func TestMasked(t *testing.T) {
	list := listOf("350505100201")
	orig := proto.Clone(list)
	for _, c := range []struct {
		name  string
		p     Principal
		whole bool
	}{
		{"accountant of the village", Principal{Org: "350505100201", Roles: []Role{RoleAccountant}}, true},
		{"auditor of the district", Principal{Org: "350505000000", Roles: []Role{RoleAuditor}}, true},
		{"accountant of another village", Principal{Org: "350505100202", Roles: []Role{RoleAccountant}}, false},
		{"supervisory committee", Principal{Org: "350505100201", Roles: []Role{RoleSupervisoryCommittee}}, false},
		{"town reviewer", Principal{Org: "350505100000", Roles: []Role{RoleTownReviewer}}, false},
		{"analyst", Principal{Org: "350505000000", Roles: []Role{RoleDistrictAnalyst}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Masked(c.p, list).(*sanziv1.ListTransactionsResponse)
			cp := got.GetTransactions()[0].GetTransaction().GetCounterparty()
			if c.whole {
				if got != list {
					t.Error("nothing to mask, yet a copy")
				}
				if cp.GetIdNumber() != resident || cp.GetBankAccount() != account || cp.GetPhone() != phone {
					t.Errorf("masked for a reader of personal data: %v", cp)
				}
				return
			}
			if cp.GetIdNumber() != "3505**********1234" || cp.GetBankAccount() != "6222***********0123" || cp.GetPhone() != "138****5678" {
				t.Errorf("not masked: %v", cp)
			}
			if cp.GetName() != "张三" || cp.GetBankName() != "农商行" || got.GetTransactions()[0].GetTransaction().GetSummary() != "劳务费" {
				t.Errorf("more than personal data masked: %v", cp)
			}
		})
	}
	if !proto.Equal(list, orig) {
		t.Error("Masked changed the handler's message")
	}
}

func TestMaskedAlertEvidence(t *testing.T) {
	alerts := &sanziv1.ListAlertsResponse{Alerts: []*sanziv1.AlertRecord{{Alert: &sanziv1.Alert{
		Org: "350505100201", RuleCode: "SPLIT", Key: "SPLIT/" + resident + "/350505100201-9",
		Evidence: map[string]string{"payee": resident, "counterparty_id": resident, "sum_fen": "500000", "counterparty_name": "张三"},
	}}}}
	got := Masked(Principal{Org: "350505100201", Roles: []Role{RoleVillageCommittee}}, alerts).(*sanziv1.ListAlertsResponse)
	a := got.GetAlerts()[0].GetAlert()
	ev := a.GetEvidence()
	if ev["payee"] != "3505**********1234" || ev["counterparty_id"] != "3505**********1234" || ev["sum_fen"] != "500000" || ev["counterparty_name"] != "张三" {
		t.Errorf("evidence %v", ev)
	}
	if a.GetKey() != "SPLIT/3505**********1234/350505100201-9" {
		t.Errorf("key %q", a.GetKey())
	}
	m := listOf("350505100201")
	MaskPersonal(m)
	if m.GetTransactions()[0].GetTransaction().GetCounterparty().GetIdNumber() != "3505**********1234" {
		t.Errorf("MaskPersonal left %v", m)
	}
}

func TestMayReadPersonal(t *testing.T) {
	for _, c := range []struct {
		p    Principal
		org  string
		want bool
	}{
		{Principal{Org: "350505100201", Roles: []Role{RoleAccountant}}, "350505100201", true},
		{Principal{Org: "350505100201", Roles: []Role{RoleAccountant}}, "350505100202", false},
		{Principal{Org: "350505000000", Roles: []Role{RoleAuditor}}, "350505100202", true},
		{Principal{Org: "350505000000", Roles: []Role{RoleAuditor}}, "350506100202", false},
		{Principal{Org: "350505100201", Roles: []Role{RoleSupervisoryCommittee, RoleVillageCommittee}}, "350505100201", false},
		{Principal{Org: "350505000000", Roles: []Role{RoleAdmin}}, "350505100201", false},
	} {
		if got := MayReadPersonal(c.p, c.org); got != c.want {
			t.Errorf("%v on %s: %v, want %v", c.p, c.org, got, c.want)
		}
	}
}

// TestStatsKeysNotMasked: the statistics' group keys are codes, not
// personal data: a town's 9-digit code stays whole for the analyst.
func TestStatsKeysNotMasked(t *testing.T) {
	resp := &sanziv1.AlertStatsResponse{Rows: []*sanziv1.AlertStatsRow{{Key: "350505100", Alerts: 1}, {Key: "350505100201", Alerts: 1}}}
	got := Masked(Principal{Org: "350505000000", Roles: []Role{RoleDistrictAnalyst}}, resp).(*sanziv1.AlertStatsResponse)
	if got.GetRows()[0].GetKey() != "350505100" || got.GetRows()[1].GetKey() != "350505100201" {
		t.Errorf("statistics keys masked for the analyst: %v", got.GetRows())
	}
	eff := &sanziv1.EfficiencyResponse{Rows: []*sanziv1.EfficiencyRow{{Key: "350505100"}}}
	if k := Masked(Principal{Org: "350505000000", Roles: []Role{RoleDistrictAnalyst}}, eff).(*sanziv1.EfficiencyResponse).GetRows()[0].GetKey(); k != "350505100" {
		t.Errorf("efficiency key masked for the analyst: %q", k)
	}
}
