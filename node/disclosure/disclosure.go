// Package disclosure computes a collective's monthly finance disclosure
// (财务公开; the catalog's matter GOV-DISCLOSE, DOMAIN.md) from the entries
// of its chain: income and expense by category, the transactions over a
// threshold, contracts signed and payments received, assets acquired and
// disposed of, and the month's cash and bank balances.
//
// It is one pure function of a chain's entries, so every tier computes the
// same figures from the same entries: the village node for its committees
// (node/api's DisclosureService), its town for the town's check. It is the
// committee's working statement of the books (by business date, names
// unmasked); what is published, and what an approval names for the
// district's public pages, is node/disclosed's content (issue 15). Compute
// reads the chain through Source up to a seq (Options.AsOfSeq), so what a
// committee approved can be computed again from the entries that were there
// when it approved; Encode gives the canonical bytes whose SHA-256 a
// decision names (DisclosureService keeps those bytes as an attachment of
// the decision, so the approved content itself travels up the chain too).
//
// Which month an entry counts in is its business date (a transaction's or a
// payment's business_date, a contract's signed_date, an asset's acquired or
// disposal date; the recorded time, in Options.Location, when the date is
// missing). An entry reversed by any later entry read is left out of every
// figure and listed under reversed: nothing is edited in the books, and the
// disclosure shows the books as they stand.
package disclosure

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Source is where Compute reads a chain: a node's ledger (ledger.Ledger)
// and the district's replicated state (federation/fsm.FSM) both serve it.
type Source interface {
	// Range calls fn for origin's entries from seq from on, in order, until
	// fn returns false or limit entries were read (limit <= 0: no limit);
	// fn must not call back into the source.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
}

// Options tune Compute. Zero fields take the defaults.
type Options struct {
	// LargeFromFen lists the month's transactions from this amount
	// (default DefaultLargeFromFen).
	LargeFromFen int64
	// AsOfSeq reads the chain up to this seq (0: its whole length).
	AsOfSeq uint64
	// Location is the zone of the recorded times used when an entry has no
	// business date (default China Standard Time).
	Location *time.Location
}

// DefaultLargeFromFen is 5,000 yuan: the transactions a disclosure lists one
// by one when the request names no threshold.
const DefaultLargeFromFen = 500_000

// maxItems caps each list of a disclosure, so that one month of a large
// collective still gives a bounded answer; Disclosure.omitted counts the rest.
const maxItems = 500

// pageSize is how many entries one read of the source takes.
const pageSize = 1024

// Errors of Compute.
var (
	// ErrPeriod: the month is not YYYY-MM.
	ErrPeriod = errors.New("disclosure: period must be a month, YYYY-MM")
	// ErrOrg: the org is not a 12-digit division code.
	ErrOrg = errors.New("disclosure: org must be a 12-digit division code")
)

// Account names of DisclosureBalance.
const (
	AccountCash  = "cash"
	AccountBank  = "bank"
	AccountOther = "other"
)

// account is the account a payment method moves: the village card draws on
// the collective's bank account.
func account(m sanziv1.PaymentMethod) string {
	switch m {
	case sanziv1.PaymentMethod_PAYMENT_METHOD_CASH:
		return AccountCash
	case sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD:
		return AccountBank
	}
	return AccountOther
}

// moved is an amount into (+) or out of (-) one account on one date.
type moved struct {
	id, date, account string
	fen               int64
}

// Compute is org's disclosure for period (YYYY-MM), read from org's chain
// in src. It reads the whole chain (balances need every movement since the
// first entry) a page at a time, checking ctx between pages.
func Compute(ctx context.Context, src Source, org, period string, opt Options) (*sanziv1.Disclosure, error) {
	if _, err := idcode.OrgCode(org); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrOrg, org, err)
	}
	start, err := time.Parse("2006-01", period)
	if err != nil || start.Format("2006-01") != period {
		return nil, fmt.Errorf("%w: %q", ErrPeriod, period)
	}
	if opt.LargeFromFen <= 0 {
		opt.LargeFromFen = DefaultLargeFromFen
	}
	if opt.Location == nil {
		opt.Location = time.FixedZone("CST", 8*60*60)
	}
	c := &computer{opt: opt, period: period, first: start.Format(time.DateOnly), reversed: map[string]bool{}, names: map[string]contractName{}, assets: map[string]*sanziv1.AssetRegistration{}}
	c.out = &sanziv1.Disclosure{Org: org, Period: period, LargeFromFen: opt.LargeFromFen}
	from := uint64(1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, stop := 0, false
		var bad error
		err := src.Range(org, from, pageSize, func(s *ledger.Stored) bool {
			if opt.AsOfSeq > 0 && s.Seq > opt.AsOfSeq {
				stop = true
				return false
			}
			n++
			from = s.Seq + 1
			c.out.AsOfSeq = s.Seq
			bad = c.take(s)
			return bad == nil
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return nil, fmt.Errorf("disclosure of %s for %s: %w", org, period, err)
		}
		if stop || n < pageSize {
			break
		}
	}
	c.finish()
	return c.out, nil
}

type contractName struct{ number, counterparty string }

// computer holds what one Compute has read so far. Everything reversed is
// only known at the end, so entries are kept until finish.
type computer struct {
	opt      Options
	period   string
	first    string // the month's first day, YYYY-MM-DD
	out      *sanziv1.Disclosure
	reversed map[string]bool
	names    map[string]contractName
	assets   map[string]*sanziv1.AssetRegistration

	txs       []*sanziv1.DisclosureItem // the month's transactions
	contracts []*sanziv1.DisclosureContract
	payments  []*sanziv1.DisclosurePayment
	acquired  []*sanziv1.DisclosureAsset
	disposed  []*sanziv1.DisclosureAsset
	moves     []moved // every movement of money, any month
}

// date is d when it is a date, else the day s was recorded.
func (c *computer) date(d string, s *ledger.Stored) string {
	if _, err := time.Parse(time.DateOnly, d); err == nil {
		return d
	}
	return s.RecordedAt.In(c.opt.Location).Format(time.DateOnly)
}

func (c *computer) inMonth(d string) bool { return strings.HasPrefix(d, c.period+"-") }

func (c *computer) take(s *ledger.Stored) error {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return fmt.Errorf("decode %s: %w", s.ID(), err)
	}
	id := s.ID()
	switch m := m.(type) {
	case *sanziv1.Reversal:
		c.reversed[m.GetTargetId()] = true
	case *sanziv1.Transaction:
		d := c.date(m.GetBusinessDate(), s)
		c.transaction(id, d, m)
		if c.inMonth(d) {
			c.txs = append(c.txs, &sanziv1.DisclosureItem{EntryId: id, BusinessDate: d, Kind: m.GetKind(), Category: m.GetCategory(),
				Summary: m.GetSummary(), Counterparty: m.GetCounterparty().GetName(), AmountFen: m.GetAmountFen(),
				PaymentMethod: m.GetPaymentMethod(), VoucherNumber: m.GetVoucherNumber()})
		}
	case *sanziv1.Contract:
		c.names[id] = contractName{m.GetContractNumber(), m.GetCounterparty().GetName()}
		if d := c.date(m.GetSignedDate(), s); c.inMonth(d) {
			c.contracts = append(c.contracts, &sanziv1.DisclosureContract{EntryId: id, ContractNumber: m.GetContractNumber(), Kind: m.GetKind(),
				Counterparty: m.GetCounterparty().GetName(), ObjectKind: m.GetObject().GetKind(), AreaMu: m.GetObject().GetAreaMu(),
				TermStart: m.GetTermStart(), TermEnd: m.GetTermEnd(), AnnualAmountFen: m.GetAnnualAmountFen(), AwardMethod: m.GetAwardMethod(), SignedDate: d})
		}
	case *sanziv1.ContractPayment:
		d := c.date(m.GetBusinessDate(), s)
		c.moves = append(c.moves, moved{id, d, account(m.GetPaymentMethod()), m.GetAmountFen()})
		if c.inMonth(d) {
			n := c.names[m.GetContractId()]
			c.payments = append(c.payments, &sanziv1.DisclosurePayment{EntryId: id, ContractId: m.GetContractId(), ContractNumber: n.number,
				Counterparty: n.counterparty, AmountFen: m.GetAmountFen(), BusinessDate: d, Period: m.GetPeriod(), PaymentMethod: m.GetPaymentMethod()})
		}
	case *sanziv1.AssetRegistration:
		c.assets[id] = m
		if d := c.date(m.GetAcquiredDate(), s); c.inMonth(d) {
			c.acquired = append(c.acquired, &sanziv1.DisclosureAsset{EntryId: id, AssetId: id, AssetCode: m.GetAssetCode(), Name: m.GetName(),
				Category: m.GetCategory(), ValueFen: m.GetOriginalValueFen(), Date: d})
		}
	case *sanziv1.AssetDisposal:
		if d := c.date(m.GetDisposalDate(), s); c.inMonth(d) {
			a := c.assets[m.GetAssetId()]
			c.disposed = append(c.disposed, &sanziv1.DisclosureAsset{EntryId: id, AssetId: m.GetAssetId(), AssetCode: a.GetAssetCode(), Name: a.GetName(),
				Category: a.GetCategory(), ValueFen: m.GetPriceFen(), Date: d, Method: m.GetMethod(), Counterparty: m.GetCounterparty().GetName()})
		}
	}
	return nil
}

// transaction adds the money t moves. Income and borrowing come in, expense
// and lending go out; a transfer moves money between the collective's own
// accounts: in cash it is cash paid into the bank, by bank or card it is
// cash drawn from the bank (as package watch counts cash on hand).
func (c *computer) transaction(id, d string, t *sanziv1.Transaction) {
	a, fen := account(t.GetPaymentMethod()), t.GetAmountFen()
	switch t.GetKind() {
	case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
		c.moves = append(c.moves, moved{id, d, a, fen})
	case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
		c.moves = append(c.moves, moved{id, d, a, -fen})
	case sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
		if a == AccountCash {
			c.moves = append(c.moves, moved{id, d, AccountCash, -fen}, moved{id, d, AccountBank, fen})
		} else {
			c.moves = append(c.moves, moved{id, d, a, -fen}, moved{id, d, AccountCash, fen})
		}
	}
}

// capped appends items to *dst up to maxItems, counting the rest omitted.
func capped[T any](out *sanziv1.Disclosure, dst *[]T, items []T) {
	n := min(len(items), maxItems)
	*dst = append(*dst, items[:n]...)
	out.Omitted += int32(len(items) - n)
}

// finish sums and lists what was read, leaving out what was reversed.
func (c *computer) finish() {
	out := c.out
	live := func(id string) bool { return !c.reversed[id] }
	type catKey struct {
		kind     sanziv1.TransactionKind
		category string
	}
	cats := map[catKey]*sanziv1.DisclosureCategory{}
	var large, reversed []*sanziv1.DisclosureItem
	for _, it := range c.txs {
		if !live(it.GetEntryId()) {
			reversed = append(reversed, it)
			continue
		}
		switch it.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME:
			out.IncomeFen += it.GetAmountFen()
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			out.ExpenseFen += it.GetAmountFen()
		}
		k := catKey{it.GetKind(), it.GetCategory()}
		if cats[k] == nil {
			cats[k] = &sanziv1.DisclosureCategory{Kind: k.kind, Category: k.category}
		}
		cats[k].AmountFen += it.GetAmountFen()
		cats[k].Count++
		if it.GetAmountFen() >= c.opt.LargeFromFen {
			large = append(large, it)
		}
	}
	for _, v := range cats {
		out.Categories = append(out.Categories, v)
	}
	slices.SortFunc(out.Categories, func(a, b *sanziv1.DisclosureCategory) int {
		return cmp.Or(cmp.Compare(a.GetKind(), b.GetKind()), cmp.Compare(b.GetAmountFen(), a.GetAmountFen()), strings.Compare(a.GetCategory(), b.GetCategory()))
	})
	byDate := func(a, b *sanziv1.DisclosureItem) int {
		return cmp.Or(strings.Compare(a.GetBusinessDate(), b.GetBusinessDate()), strings.Compare(a.GetEntryId(), b.GetEntryId()))
	}
	slices.SortStableFunc(large, byDate)
	capped(out, &out.Large, large)
	capped(out, &out.Reversed, reversed)
	capped(out, &out.Contracts, slices.DeleteFunc(c.contracts, func(x *sanziv1.DisclosureContract) bool { return !live(x.GetEntryId()) }))
	payments := slices.DeleteFunc(c.payments, func(x *sanziv1.DisclosurePayment) bool { return !live(x.GetEntryId()) })
	for _, p := range payments {
		out.PaymentsFen += p.GetAmountFen()
	}
	capped(out, &out.Payments, payments)
	capped(out, &out.AssetsAcquired, slices.DeleteFunc(c.acquired, func(x *sanziv1.DisclosureAsset) bool { return !live(x.GetEntryId()) }))
	capped(out, &out.AssetsDisposed, slices.DeleteFunc(c.disposed, func(x *sanziv1.DisclosureAsset) bool { return !live(x.GetEntryId()) }))

	// Balances: before the month is opening, in the month in or out.
	bal := map[string]*sanziv1.DisclosureBalance{}
	for _, a := range []string{AccountCash, AccountBank} {
		bal[a] = &sanziv1.DisclosureBalance{Account: a}
	}
	for _, mv := range c.moves {
		if !live(mv.id) || mv.date > c.period+"-99" {
			continue
		}
		b := bal[mv.account]
		if b == nil {
			b = &sanziv1.DisclosureBalance{Account: mv.account}
			bal[mv.account] = b
		}
		switch {
		case mv.date < c.first:
			b.OpeningFen += mv.fen
		case mv.fen >= 0:
			b.InFen += mv.fen
		default:
			b.OutFen -= mv.fen
		}
	}
	for _, a := range []string{AccountCash, AccountBank, AccountOther} {
		if b := bal[a]; b != nil {
			b.ClosingFen = b.OpeningFen + b.InFen - b.OutFen
			out.Balances = append(out.Balances, b)
		}
	}
}

// Encode is the disclosure's canonical bytes, compact JSON with the API's
// field names, and their SHA-256 in hex: what a decision on it names and
// keeps. The bytes are what is hashed and stored; nobody re-encodes them to
// check a hash.
func Encode(d *sanziv1.Disclosure) ([]byte, string, error) {
	raw, err := protojson.MarshalOptions{}.Marshal(d)
	if err != nil {
		return nil, "", fmt.Errorf("encode the disclosure: %w", err)
	}
	// protojson varies its whitespace on purpose; compact JSON has none.
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, "", fmt.Errorf("encode the disclosure: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:]), nil
}
