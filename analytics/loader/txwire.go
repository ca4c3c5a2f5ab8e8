package loader

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Transactions are most of a district's entries, and proto.Unmarshal of
// their payload into a new Transaction (a message, its Counterparty, a
// string for every field, the summary and the attachments included) was
// the largest line of the decoders' profile. txRow holds only what a
// transactions row takes, and readTx reads it from the encoded payload
// with protowire, keeping the strings the rows share (a category, a
// counterparty) as one string per decoder (cache).

// txRow is what a transactions row (and the summaries) take from a
// Transaction.
type txRow struct {
	kind                 sanziv1.TransactionKind
	amount               int64
	method               sanziv1.PaymentMethod
	category, budgetLine string
	party, partyID       string
	businessDate         string
}

// txRowOf is m's row fields, for the entries read with ledger.Decode (a
// reversal's target).
func txRowOf(m *sanziv1.Transaction) txRow {
	return txRow{kind: m.GetKind(), amount: m.GetAmountFen(), method: m.GetPaymentMethod(), category: m.GetCategory(), budgetLine: m.GetBudgetLine(),
		party: m.GetCounterparty().GetName(), partyID: m.GetCounterparty().GetIdNumber(), businessDate: m.GetBusinessDate()}
}

// errUTF8 is proto.Unmarshal's refusal of a string field that is not
// UTF-8, which readTx repeats: such a payload is undecodable either way.
var errUTF8 = errors.New("string field contains invalid UTF-8")

// readTx reads Transaction payload p into out as proto.Unmarshal would
// (the last of a repeated scalar field wins, a repeated counterparty is
// merged, a field of another wire type than its schema's is unknown and
// skipped) and fails where it would (a malformed payload, a string field
// that is not UTF-8, in the message or its counterparty).
func (c *cache) readTx(p []byte, out *txRow) error {
	*out = txRow{}
	var bad, badNumber bool
	party := c.party[:0] // each counterparty field, merged in order
	f := ledger.FieldsOf(p)
	for f.Next() {
		badNumber = badNumber || f.N > protowire.MaxValidNumber
		switch f.Typ {
		case protowire.VarintType:
			switch f.N {
			case 2:
				out.kind = sanziv1.TransactionKind(int32(f.U))
			case 3:
				out.amount = int64(f.U)
			case 4:
				out.method = sanziv1.PaymentMethod(int32(f.U))
			}
		case protowire.BytesType:
			switch f.N {
			case 1, 7, 8, 9, 10, 12, 14: // org, summary, voucher and invoice numbers, attachments, procedure: checked, not loaded
				bad = bad || !utf8.Valid(f.V)
			case 5:
				party = append(party, f.V)
			case 6:
				out.businessDate, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			case 11:
				out.budgetLine, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			case 13:
				out.category, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			}
		}
	}
	c.party = party[:0] // its next use overwrites what it refers to
	if f.Err() != nil {
		return fmt.Errorf("decode %s payload: %w", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, f.Err())
	}
	for _, cp := range party {
		f := ledger.FieldsOf(cp)
		for f.Next() {
			badNumber = badNumber || f.N > protowire.MaxValidNumber
			if f.Typ != protowire.BytesType || f.N < 1 || f.N > 5 {
				continue
			}
			bad = bad || !utf8.Valid(f.V)
			switch f.N {
			case 1:
				out.party = c.str(f.V)
			case 2:
				out.partyID = c.str(f.V)
			}
		}
		if f.Err() != nil {
			return fmt.Errorf("decode %s payload: counterparty: %w", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, f.Err())
		}
	}
	return wireRefusal(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, badNumber, bad)
}

// wireRefusal is what proto.Unmarshal says of a payload of type what
// whose fields parsed: a field number out of range (badNumber), or a
// string field that is not UTF-8 (bad); nil when neither.
func wireRefusal(what sanziv1.EntryType, badNumber, bad bool) error {
	switch {
	case badNumber:
		return fmt.Errorf("decode %s payload: a field number is out of range", what)
	case bad:
		return fmt.Errorf("decode %s payload: %w", what, errUTF8)
	}
	return nil
}

// cache is a decoder goroutine's own memory of what rows repeat: strings
// read from payloads (a category, a counterparty, a date), the business
// dates parsed, and the payment methods' names (whose String goes through
// the proto registry). Each is bounded: past its limit it starts again.
type cache struct {
	strs    map[string]string
	dates   map[string]dated
	methods []string // PaymentMethod names by number (the summaries')
	// lastDate is the date string looked up last, and what it parsed to:
	// the rows of a range mostly share their business date, and the
	// strings come from strs, so the same date is the same string.
	lastDate string
	last     dated
	// party is readTx's list of a payload's counterparty fields, reused
	// (a slice grown per transaction was an allocation per row).
	party [][]byte
}

// dated is a business date parsed, with its month (YYYYMM).
type dated struct {
	d     time.Time
	month uint32
}

// cacheLimit bounds each map of a cache.
const cacheLimit = 1 << 14

func newCache() *cache {
	return &cache{strs: map[string]string{}, dates: map[string]dated{}}
}

// str is v as a string, the same string for the same bytes while cached.
func (c *cache) str(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if s, ok := c.strs[string(v)]; ok {
		return s
	}
	s := string(v)
	if len(c.strs) >= cacheLimit {
		clear(c.strs)
	}
	c.strs[s] = s
	return s
}

// businessDate is businessDate(s, recorded), the date's parse cached; a
// nil cache parses.
func (c *cache) businessDate(s string, recorded time.Time) (time.Time, uint32) {
	if c == nil {
		return businessDate(s, recorded)
	}
	if s == c.lastDate && s != "" {
		return c.last.d, c.last.month
	}
	d, ok := c.dates[s]
	if !ok {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return businessDate(s, recorded)
		}
		if len(c.dates) >= cacheLimit {
			clear(c.dates)
		}
		d = dated{t, uint32(t.Year()*100 + int(t.Month()))}
		c.dates[s] = d
	}
	c.lastDate, c.last = s, d
	return d.d, d.month
}

// methodName is m.String(), cached by number.
func (c *cache) methodName(m sanziv1.PaymentMethod) string {
	if c == nil {
		return m.String()
	}
	return enumName(&c.methods, m)
}

// enumName is v.String(), kept in names by number for the numbers a
// schema uses (small, not negative); others are not cached.
func enumName[E interface {
	~int32
	String() string
}](names *[]string, v E) string {
	if v < 0 || v >= 256 {
		return v.String()
	}
	if int(v) >= len(*names) {
		*names = append(*names, make([]string, int(v)+1-len(*names))...)
	}
	if (*names)[v] == "" {
		(*names)[v] = v.String()
	}
	return (*names)[v]
}

// voucherRow is what voucher_lines rows take from a Voucher (with books,
// a district holds a voucher for every transaction: its lines are as many
// rows as the transactions).
type voucherRow struct {
	org, businessDate, reverses string
	number                      int32
	opening                     bool
	lines                       []voucherLine
}

type voucherLine struct {
	account       string
	debit, credit int64
}

// voucherRowOf is m's row fields, for a voucher decoded with proto.
func voucherRowOf(m *sanziv1.Voucher) voucherRow {
	v := voucherRow{org: m.GetOrg(), businessDate: m.GetBusinessDate(), reverses: m.GetReversesVoucherId(), number: m.GetNumber(), opening: m.GetOpening()}
	for _, l := range m.GetLines() {
		v.lines = append(v.lines, voucherLine{account: l.GetAccount(), debit: l.GetDebitFen(), credit: l.GetCreditFen()})
	}
	return v
}

// readVoucher reads Voucher payload p into out (its lines' slice reused)
// as proto.Unmarshal would, and fails where it would: see readTx.
func (c *cache) readVoucher(p []byte, out *voucherRow) error {
	lines := out.lines[:0]
	*out = voucherRow{}
	var bad, badNumber bool
	var lineErr error
	f := ledger.FieldsOf(p)
	for f.Next() {
		badNumber = badNumber || f.N > protowire.MaxValidNumber
		switch f.Typ {
		case protowire.VarintType:
			switch f.N {
			case 3:
				out.number = int32(f.U)
			case 10:
				out.opening = f.U != 0
			}
		case protowire.BytesType:
			switch f.N {
			case 1:
				out.org, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			case 2:
				out.businessDate, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			case 4, 6, 7, 9: // summary, attachments, source entry, chart version: checked, not loaded
				bad = bad || !utf8.Valid(f.V)
			case 8:
				out.reverses, bad = c.str(f.V), bad || !utf8.Valid(f.V)
			case 5:
				var l voucherLine
				lf := ledger.FieldsOf(f.V)
				for lf.Next() {
					badNumber = badNumber || lf.N > protowire.MaxValidNumber
					switch {
					case lf.Typ == protowire.VarintType && lf.N == 2:
						l.debit = int64(lf.U)
					case lf.Typ == protowire.VarintType && lf.N == 3:
						l.credit = int64(lf.U)
					case lf.Typ == protowire.BytesType && lf.N == 1:
						l.account, bad = c.str(lf.V), bad || !utf8.Valid(lf.V)
					case lf.Typ == protowire.BytesType && lf.N >= 4 && lf.N <= 7:
						bad = bad || !utf8.Valid(lf.V)
					}
				}
				if lf.Err() != nil && lineErr == nil {
					lineErr = lf.Err()
				}
				lines = append(lines, l)
			}
		}
	}
	err := f.Err()
	out.lines = lines
	what := sanziv1.EntryType_ENTRY_TYPE_VOUCHER
	switch {
	case err != nil:
		return fmt.Errorf("decode %s payload: %w", what, err)
	case lineErr != nil:
		return fmt.Errorf("decode %s payload: line: %w", what, lineErr)
	}
	return wireRefusal(what, badNumber, bad)
}
