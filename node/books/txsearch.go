package books

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The accountant's list of transactions (issue 14): by org and kind from
// the indexes alone, or searched and filtered by text, business date,
// amount and payment method. So that a search of a village's 100,000
// transactions reads none of them but its page's, every transaction keeps
// a row of what the filters look at beside its key (the facet txRows of
// idx_facet, kept, rebuilt and cut back with the other facets): the walk
// steps through the rows in (org, seq) order and matches each from its
// row, counting the matches for the total.

// TransactionFilter narrows ListTransactions; zero fields match all, and
// every field given must hold.
type TransactionFilter struct {
	Org  string
	Kind sanziv1.TransactionKind
	// InScope, when set, admits only the origins it names: a list that
	// names no org shows what the signed-in account covers, not every
	// chain the node holds. Its total is then counted by the walk.
	InScope func(org string) bool
	// Query is text found, case-folded, in the counterparty's name, the
	// summary, the category, the budget line or the voucher number. Not
	// in the personal data (ID number, bank account, phone): a role that
	// sees them masked could find them digit by digit.
	Query string
	// FromDate and ToDate bound the business date, YYYY-MM-DD, both
	// included.
	FromDate, ToDate string
	// MinFen and MaxFen bound the amount, both included; 0 is no bound.
	MinFen, MaxFen int64
	Method         sanziv1.PaymentMethod
}

// ListTransactions returns one page of transactions in (org, seq) order.
// By org and kind alone it walks the indexes and reads only the page's
// entries, the total from the counters; any other filter walks the
// transactions' rows (txRow), matching and counting each without reading
// its entry.
func (b *Books) ListTransactions(f TransactionFilter, p Page) ([]*sanziv1.TransactionRecord, string, int64, error) {
	if err := f.check(); err != nil {
		return nil, "", 0, err
	}
	t := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	sc := byOrg(t, f.Org)
	switch {
	case f.filtered():
		sc.facet, sc.matchRow, sc.total = txRowsFacet, f.matchRow(), nil
	case f.Kind != 0:
		sc.facet = kindFacet(f.Kind)
		sc.total = func(tx *bolt.Tx) int64 {
			return total(tx, t, f.Org, func(tuple []byte) bool { return tuple[0] == byte(f.Kind) })
		}
	}
	if f.InScope != nil {
		sc.matchKey = func(_ *bolt.Tx, k []byte) bool { return len(k) > 8 && f.InScope(string(k[:len(k)-8])) }
		sc.total = nil
	}
	var out []*sanziv1.TransactionRecord
	next, n, err := b.walk(sc, p, func(tx *bolt.Tx, s *ledger.Stored) error {
		rec, err := transactionRecord(tx, s)
		out = append(out, rec)
		return err
	})
	return out, next, n, err
}

// check refuses a filter that cannot mean anything: a query too long, a
// date that is not one, a window or a range upside down. Each field at
// fault is named as the API's JSON names it.
func (f TransactionFilter) check() error {
	var bad []Violation
	if err := checkQuery(f.Query); err != nil {
		bad = append(bad, err.(*InvalidError).Violations...)
	}
	dates := true
	for _, d := range []struct{ field, v string }{{"fromDate", f.FromDate}, {"toDate", f.ToDate}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			bad = append(bad, Violation{Field: d.field, Reason: "a date as YYYY-MM-DD"})
			dates = false
		}
	}
	if dates && f.FromDate != "" && f.ToDate != "" && f.ToDate < f.FromDate {
		bad = append(bad, Violation{Field: "toDate", Reason: "not before fromDate " + f.FromDate})
	}
	for _, a := range []struct {
		field string
		v     int64
	}{{"minAmountFen", f.MinFen}, {"maxAmountFen", f.MaxFen}} {
		if a.v < 0 {
			bad = append(bad, Violation{Field: a.field, Reason: "an amount in fen, 0 (no bound) or more"})
		}
	}
	if f.MinFen > 0 && f.MaxFen > 0 && f.MaxFen < f.MinFen {
		bad = append(bad, Violation{Field: "maxAmountFen", Reason: fmt.Sprintf("not below minAmountFen %d", f.MinFen)})
	}
	if _, ok := sanziv1.PaymentMethod_name[int32(f.Method)]; !ok {
		bad = append(bad, Violation{Field: "paymentMethod", Reason: "one of the payment methods"})
	}
	if len(bad) > 0 {
		return &InvalidError{Violations: bad}
	}
	return nil
}

// filtered says whether f asks for more than its org and kind, which the
// indexes and counters answer alone.
func (f TransactionFilter) filtered() bool {
	return f.Query != "" || f.FromDate != "" || f.ToDate != "" || f.MinFen != 0 || f.MaxFen != 0 || f.Method != 0
}

// txRowsFacet holds every transaction's row under its key.
var txRowsFacet = []byte{facetTxRow}

// A transaction's row: kind, payment method, amount (8 bytes, big
// endian), business date (10 bytes), then the text a query searches,
// each field folded to lower case and followed by a zero byte. A date
// that is not 10 bytes long (never accepted by the validator) is cut or
// padded, so that the row always splits.
const txRowHead = 1 + 1 + 8 + 10

func txRow(t *sanziv1.Transaction) []byte {
	fields := []string{t.GetCounterparty().GetName(), t.GetSummary(), t.GetCategory(), t.GetBudgetLine(), t.GetVoucherNumber()}
	n := txRowHead
	for _, f := range fields {
		n += len(f) + 1
	}
	row := make([]byte, txRowHead, n)
	row[0], row[1] = byte(t.GetKind()), byte(t.GetPaymentMethod())
	binary.BigEndian.PutUint64(row[2:10], uint64(t.GetAmountFen()))
	copy(row[10:20], fmt.Sprintf("%-10.10s", t.GetBusinessDate()))
	for _, f := range fields {
		row = append(append(row, strings.ToLower(f)...), 0)
	}
	return row
}

// matchRow is f's test of a transaction's row (its org is the walk's),
// the query folded once.
func (f TransactionFilter) matchRow() func(row []byte) bool {
	q := []byte(strings.ToLower(f.Query))
	from, to := []byte(f.FromDate), []byte(f.ToDate)
	return func(row []byte) bool {
		if len(row) < txRowHead {
			return false
		}
		amount, date := int64(binary.BigEndian.Uint64(row[2:10])), row[10:20]
		switch {
		case f.Kind != 0 && row[0] != byte(f.Kind), f.Method != 0 && row[1] != byte(f.Method):
			return false
		case len(from) > 0 && bytes.Compare(date, from) < 0, len(to) > 0 && bytes.Compare(date, to) > 0:
			return false
		case f.MinFen > 0 && amount < f.MinFen, f.MaxFen > 0 && amount > f.MaxFen:
			return false
		}
		return len(q) == 0 || bytes.Contains(row[txRowHead:], q)
	}
}
