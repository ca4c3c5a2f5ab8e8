package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/server"
)

// TestDemoSeed keeps `make demo` working: its sample month records without
// a refusal, under the default rules, and raises the one alert it means to.
func TestDemoSeed(t *testing.T) {
	data := filepath.Join(t.TempDir(), "village")
	admin, err := demoAdminFile(data)
	if err != nil {
		t.Fatal(err)
	}
	n, err := server.Open(context.Background(), server.Config{
		DataDir: data, Orgs: []string{demoOrg}, AdminPasswordFile: admin,
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// One account per role, each signing in with the demo password as it
	// is (no change asked), the administrator too; seeding again is a no-op.
	for range 2 {
		if err := seedDemoAccounts(context.Background(), n.Accounts(), demoOrg, demoVillagePeople); err != nil {
			t.Fatalf("demo accounts: %v", err)
		}
	}
	for _, id := range append([]string{accounts.AdminID}, demoIDs(demoVillagePeople)...) {
		in, err := n.Accounts().Login(context.Background(), accounts.LoginRequest{Account: id, Password: demoPassword})
		if err != nil {
			t.Fatalf("sign in as %s with the demo password: %v", id, err)
		}
		if id == demoAuthor && !in.Principal.Has(accounts.RoleAccountant) {
			t.Fatalf("%s is not an accountant: %+v", id, in.Principal)
		}
	}
	var steps []string
	if err := seedDemo(context.Background(), n.Books(), func(s string) { steps = append(steps, s) }); err != nil {
		t.Fatalf("seed: %v", err)
	}
	_, _, txs, err := n.Books().ListTransactions(books.TransactionFilter{}, books.Page{})
	if err != nil || txs != 6 || len(steps) != 3 {
		t.Fatalf("seeded %d transactions, steps %v, err %v", txs, steps, err)
	}
	recs, _, _, err := n.Books().ListTransactions(books.TransactionFilter{}, books.Page{})
	if err != nil || len(recs) != 6 {
		t.Fatalf("list: %d %v", len(recs), err)
	}
	for _, r := range recs {
		if a := r.GetEntry().GetAuthor(); a != demoAuthor {
			t.Fatalf("sample record %s by %q, want the demo accountant %q", r.GetEntry().GetId(), a, demoAuthor)
		}
	}
	alerts, _, total, err := n.Books().ListAlerts(books.AlertFilter{}, books.Page{})
	if err != nil || total != 1 || alerts[0].GetAlert().GetRuleCode() != "PRIVATE-ACCT" {
		t.Fatalf("alerts after seeding: %v %v", alerts, err)
	}
}

func demoIDs(people []demoPerson) []string {
	ids := make([]string, len(people))
	for i, p := range people {
		ids[i] = p.id
	}
	return ids
}
