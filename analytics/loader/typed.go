package loader

import (
	"cmp"
	"fmt"
	"time"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
)

// Every entry adds an entries row, and most add a transactions row: for
// these two tables a row is appended to typed columns (a view of the
// table's own, in the order of columns[t]), not boxed into put's ...any and
// sorted back into columns by type switches, which was a tenth of the
// loader's CPU. The columns are the same slices add would make, so a
// table filled either way concatenates and inserts the same.

// unixColumns: the entries' and transactions' recorded_at (DateTime, whole
// seconds) are held as Unix seconds, which the driver takes for a DateTime
// column as it takes a time.Time: 8 bytes a row instead of 24, and none
// of them a pointer the collector must look at.

// entryCols are the entries table's columns.
type entryCols struct {
	raft, seq               *[]uint64
	origin, author, subject *[]string
	typ                     *[]uint8
	at                      *[]int64 // seconds (see unixColumns)
}

// txCols are the transactions table's columns.
type txCols struct {
	raft, seq                            *[]uint64
	origin                               *[]string
	kind, method                         *[]int32 // the enums' numbers (schema migration 11)
	sign                                 *[]int8
	amount                               *[]int64
	category, budgetLine, party, partyID *[]string
	date                                 *[]time.Time
	at                                   *[]int64 // seconds (see unixColumns)
	month                                *[]uint32
}

// voucherCols are the voucher_lines table's columns.
type voucherCols struct {
	raft, seq                                      *[]uint64
	line, month, number                            *[]uint32
	origin, district, town, org, account, national *[]string
	date, at                                       *[]time.Time
	debit, credit                                  *[]int64
	opening, carry                                 *[]uint8
	reverses                                       *[]string
}

// vouchers is t's columns as the voucher_lines table's; nil when t
// failed.
func (t *table) vouchers() *voucherCols {
	if v, ok := t.view.(*voucherCols); ok {
		return v
	}
	if t.err != nil {
		return nil
	}
	if t.cols == nil {
		t.cols = []any{new([]uint64), new([]string), new([]uint64), new([]uint32), new([]string), new([]string), new([]string), new([]time.Time),
			new([]uint32), new([]uint32), new([]string), new([]string), new([]int64), new([]int64), new([]uint8), new([]uint8), new([]string), new([]time.Time)}
	}
	v := &voucherCols{}
	if len(t.cols) != 18 || !(as(t.cols[0], &v.raft) && as(t.cols[1], &v.origin) && as(t.cols[2], &v.seq) && as(t.cols[3], &v.line) &&
		as(t.cols[4], &v.district) && as(t.cols[5], &v.town) && as(t.cols[6], &v.org) && as(t.cols[7], &v.date) && as(t.cols[8], &v.month) &&
		as(t.cols[9], &v.number) && as(t.cols[10], &v.account) && as(t.cols[11], &v.national) && as(t.cols[12], &v.debit) &&
		as(t.cols[13], &v.credit) && as(t.cols[14], &v.opening) && as(t.cols[15], &v.carry) && as(t.cols[16], &v.reverses) && as(t.cols[17], &v.at)) {
		t.err = fmt.Errorf("row %d: the columns are not the voucher_lines table's", t.n)
		return nil
	}
	t.view = v
	return v
}

// addVoucher adds one voucher_lines row per line of voucher v (entry s).
// Every line carries what the district's sums filter on, so BooksTotals
// needs no join: the voucher's date, whether it holds the opening
// balances, and whether it is a carry-forward (a line on 本年收益).
func (b *batch) addVoucher(index uint64, s *ledger.Stored, v *voucherRow, loaded map[string]uint64) {
	if index <= loaded["voucher_lines"] || len(v.lines) == 0 {
		return
	}
	district, town := orgParts(s.Origin)
	at := s.RecordedAt.UTC()
	date, month := b.cache.businessDate(v.businessDate, at)
	var opening, carry uint8
	if v.opening {
		opening = 1
	}
	for _, l := range v.lines {
		if national(l.account) == chart.CurrentYearIncome {
			carry = 1
		}
	}
	org := cmp.Or(v.org, s.Origin)
	t := b.table("voucher_lines")
	c := t.vouchers()
	if c == nil {
		return
	}
	for i, l := range v.lines {
		*c.raft = append(*c.raft, index)
		*c.origin = append(*c.origin, s.Origin)
		*c.seq = append(*c.seq, s.Seq)
		*c.line = append(*c.line, uint32(i+1))
		*c.district = append(*c.district, district)
		*c.town = append(*c.town, town)
		*c.org = append(*c.org, org)
		*c.date = append(*c.date, date)
		*c.month = append(*c.month, month)
		*c.number = append(*c.number, uint32(max(v.number, 0)))
		*c.account = append(*c.account, l.account)
		*c.national = append(*c.national, national(l.account))
		*c.debit = append(*c.debit, l.debit)
		*c.credit = append(*c.credit, l.credit)
		*c.opening = append(*c.opening, opening)
		*c.carry = append(*c.carry, carry)
		*c.reverses = append(*c.reverses, v.reverses)
		*c.at = append(*c.at, at)
		t.n++
		b.rows++
	}
}

// entries is t's columns as the entries table's; nil when t failed.
func (t *table) entries() *entryCols {
	if v, ok := t.view.(*entryCols); ok {
		return v
	}
	if t.err != nil {
		return nil
	}
	if t.cols == nil {
		t.cols = []any{new([]uint64), new([]string), new([]uint64), new([]uint8), new([]int64), new([]string), new([]string)}
	}
	v := &entryCols{}
	if len(t.cols) != 7 || !(as(t.cols[0], &v.raft) && as(t.cols[1], &v.origin) && as(t.cols[2], &v.seq) && as(t.cols[3], &v.typ) &&
		as(t.cols[4], &v.at) && as(t.cols[5], &v.author) && as(t.cols[6], &v.subject)) {
		t.err = fmt.Errorf("row %d: the columns are not the entries table's", t.n)
		return nil
	}
	t.view = v
	return v
}

// transactions is t's columns as the transactions table's; nil when t
// failed.
func (t *table) transactions() *txCols {
	if v, ok := t.view.(*txCols); ok {
		return v
	}
	if t.err != nil {
		return nil
	}
	if t.cols == nil {
		t.cols = []any{new([]uint64), new([]string), new([]uint64), new([]int32), new([]int8), new([]int64),
			new([]int32), new([]string), new([]string), new([]string), new([]string), new([]time.Time), new([]uint32), new([]int64)}
	}
	v := &txCols{}
	if len(t.cols) != 14 || !(as(t.cols[0], &v.raft) && as(t.cols[1], &v.origin) && as(t.cols[2], &v.seq) &&
		as(t.cols[3], &v.kind) && as(t.cols[4], &v.sign) && as(t.cols[5], &v.amount) && as(t.cols[6], &v.method) &&
		as(t.cols[7], &v.category) && as(t.cols[8], &v.budgetLine) && as(t.cols[9], &v.party) && as(t.cols[10], &v.partyID) &&
		as(t.cols[11], &v.date) && as(t.cols[12], &v.month) && as(t.cols[13], &v.at)) {
		t.err = fmt.Errorf("row %d: the columns are not the transactions table's", t.n)
		return nil
	}
	t.view = v
	return v
}

// as sets *dst to column c when it holds T.
func as[T any](c any, dst **[]T) bool {
	p, ok := c.(*[]T)
	*dst = p
	return ok
}

// addEntry adds entry s's entries row unless the table has loaded index.
func (b *batch) addEntry(index uint64, s *ledger.Stored, at time.Time, loaded map[string]uint64) {
	if index <= loaded["entries"] {
		return
	}
	t := b.table("entries")
	c := t.entries()
	if c == nil {
		return
	}
	*c.raft = append(*c.raft, index)
	*c.origin = append(*c.origin, s.Origin)
	*c.seq = append(*c.seq, s.Seq)
	*c.typ = append(*c.typ, uint8(s.Type))
	*c.at = append(*c.at, at.Unix())
	*c.author = append(*c.author, s.Author)
	*c.subject = append(*c.subject, s.Subject)
	t.n++
	b.rows++
}

// addTx adds a transactions row of entry s (recorded at at) for
// transaction tx, with its summaries: sign 1 for the transaction itself,
// -1 for a reversal's negative copy, whose date falls back to the day its
// target was recorded (dayOf).
func (b *batch) addTx(index uint64, s *ledger.Stored, at time.Time, sign int64, tx *txRow, dayOf time.Time, loaded map[string]uint64) {
	date, month := b.cache.businessDate(tx.businessDate, dayOf)
	kind, method, amount := kindName(tx.kind), b.cache.methodName(tx.method), sign*tx.amount
	if index > loaded["transactions"] {
		t := b.table("transactions")
		if c := t.transactions(); c != nil {
			*c.raft = append(*c.raft, index)
			*c.origin = append(*c.origin, s.Origin)
			*c.seq = append(*c.seq, s.Seq)
			*c.kind = append(*c.kind, int32(tx.kind))
			*c.sign = append(*c.sign, int8(sign))
			*c.amount = append(*c.amount, amount)
			*c.method = append(*c.method, int32(tx.method))
			*c.category = append(*c.category, tx.category)
			*c.budgetLine = append(*c.budgetLine, tx.budgetLine)
			*c.party = append(*c.party, tx.party)
			*c.partyID = append(*c.partyID, tx.partyID)
			*c.date = append(*c.date, date)
			*c.month = append(*c.month, month)
			*c.at = append(*c.at, at.Unix())
			t.n++
			b.rows++
		}
	}
	b.sum(index, loaded, ordered{origin: s.Origin, at: at, month: month, kind: kind, method: method, sign: sign, amount: amount, party: tx.party})
}

// addTransaction adds entry s, a transaction loaded at Raft index index,
// whose payload read into tx (or failed with err), as add does a decoded
// one.
func (b *batch) addTransaction(index uint64, s *ledger.Stored, tx *txRow, err error, loaded map[string]uint64) {
	at := s.RecordedAt.UTC()
	b.addEntry(index, s, at, loaded)
	if err != nil {
		b.undecodable++
		return
	}
	b.addTx(index, s, at, 1, tx, at, loaded)
}
