package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/server"
)

// TestDemoSeed keeps `make demo` working: its sample month records without
// a refusal, under the default rules, and raises the one alert it means to.
func TestDemoSeed(t *testing.T) {
	n, err := server.Open(context.Background(), server.Config{
		DataDir: filepath.Join(t.TempDir(), "village"), Orgs: []string{demoOrg},
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var steps []string
	if err := seedDemo(context.Background(), n.Books(), func(s string) { steps = append(steps, s) }); err != nil {
		t.Fatalf("seed: %v", err)
	}
	_, _, txs, err := n.Books().ListTransactions(books.TransactionFilter{}, books.Page{})
	if err != nil || txs != 6 || len(steps) != 3 {
		t.Fatalf("seeded %d transactions, steps %v, err %v", txs, steps, err)
	}
	alerts, _, total, err := n.Books().ListAlerts(books.AlertFilter{}, books.Page{})
	if err != nil || total != 1 || alerts[0].GetAlert().GetRuleCode() != "PRIVATE-ACCT" {
		t.Fatalf("alerts after seeding: %v %v", alerts, err)
	}
}
