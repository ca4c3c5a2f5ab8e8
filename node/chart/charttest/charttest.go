// Package charttest builds the charts of accounts tests book on: the
// national chart, and the national chart with an account split into
// sub-accounts as a district may (so the parent is no longer a leaf).
package charttest

import (
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// National is the national chart, in force when the catalog carries none.
func National(tb testing.TB) *chart.Chart {
	tb.Helper()
	ch, err := chart.New(nil)
	if err != nil {
		tb.Fatalf("national chart: %v", err)
	}
	return ch
}

// Split is the national chart with parent split into subs (code, name
// pairs) of the parent's class and side. The mappings that book on parent
// are dropped, since a voucher posts to leaves only.
func Split(tb testing.TB, parent string, subs ...[2]string) *chart.Chart {
	tb.Helper()
	c := chart.National()
	var p *sanziv1.LedgerAccount
	for _, a := range c.GetAccounts() {
		if a.GetCode() == parent {
			p = a
		}
	}
	if p == nil {
		tb.Fatalf("split %s: no such national account", parent)
	}
	for _, s := range subs {
		c.Accounts = append(c.Accounts, &sanziv1.LedgerAccount{Code: s[0], Name: s[1], Parent: parent, Class: p.GetClass(), Side: p.GetSide()})
	}
	var kept []*sanziv1.VoucherMapping
	for _, m := range c.GetMappings() {
		if m.GetDebitAccount() != parent && m.GetCreditAccount() != parent {
			kept = append(kept, m)
		}
	}
	c.Mappings = kept
	ch, err := chart.New(c)
	if err != nil {
		tb.Fatalf("national chart with %s split: %v", parent, err)
	}
	return ch
}
