package books

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The collective's books (issue 19): vouchers numbered per org and month,
// the vouchers transactions, contract payments, asset appraisals and
// disposals book, month-end close
// and reopening. Every check that depends on what is already recorded runs
// in the ledger's write transaction (indexer.Check), so that two recorders
// at once never get the same number or both slip into a month being closed.

var (
	bucketVoucherSeq   = []byte("idx_voucher_seq")   // org/YYYY-MM → last number given (uint32 text)
	bucketVoucherOf    = []byte("idx_voucher_of")    // key(record) → id of the voucher that books it
	bucketMonths       = []byte("idx_months")        // org/YYYY-MM → id of the close in force
	bucketOpening      = []byte("idx_opening")       // org → id of the opening voucher, a space, its date
	bucketFirstVoucher = []byte("idx_voucher_first") // org → earliest date of its other vouchers
)

var voucherBuckets = [][]byte{bucketVoucherSeq, bucketVoucherOf, bucketMonths, bucketOpening, bucketFirstVoucher}

// ChartSource is the chart of accounts in force (the live catalog's; nil:
// the national chart) and the version of the catalog that carries it. A
// chart it has returned is never changed in place: another chart is
// another message (the books keep the chart they built from it, see
// Chart).
type ChartSource func() (*sanziv1.ChartOfAccounts, string)

// SetChart makes the books book vouchers on the chart src gives. Call it
// once, at start; without it the books use the national chart.
func (b *Books) SetChart(src ChartSource) { b.chartSrc = src }

// builtChart is a chart built (validated and indexed) from the message
// src of catalog version.
type builtChart struct {
	src     *sanziv1.ChartOfAccounts
	version string
	chart   *chart.Chart
}

// Chart is the chart in force and the catalog version that carries it.
// Every record with a voucher asks for it, so the chart built from one
// message of one version is kept and built again only when the source
// gives another message or version: validating and indexing the chart
// was a tenth of a recording's CPU and a third of its allocations.
func (b *Books) Chart() (*chart.Chart, string, error) {
	var c *sanziv1.ChartOfAccounts
	version := ""
	if b.chartSrc != nil {
		c, version = b.chartSrc()
	}
	if k := b.chart.Load(); k != nil && k.src == c && k.version == version {
		return k.chart, version, nil
	}
	ch, err := chart.New(c)
	if err != nil {
		return nil, "", fmt.Errorf("chart of accounts of catalog %s: %w", version, err)
	}
	b.chart.Store(&builtChart{src: c, version: version, chart: ch})
	return ch, version, nil
}

func monthKey(org, month string) []byte { return []byte(org + "/" + month) }

// asInvalid turns the voucher package's field error into the books'.
func asInvalid(err error) error {
	var fe *voucher.FieldError
	if errors.As(err, &fe) {
		return Invalid(fe.Field, "%s", fe.Reason)
	}
	return err
}

func get(tx *bolt.Tx, bucket, k []byte) []byte {
	bk := tx.Bucket(bucket)
	if bk == nil {
		return nil
	}
	return bk.Get(k)
}

func lastNumber(tx *bolt.Tx, org, month string) int32 {
	var n int32
	if v := get(tx, bucketVoucherSeq, monthKey(org, month)); v != nil {
		fmt.Sscan(string(v), &n)
	}
	return n
}

// shut refuses a voucher dated in org's month when the month is closed,
// or when it was never closed and a later month is: closing that later
// month took the month's (then empty) books as final, so a voucher slipped
// in before it would change a closed month's balances unseen. A month the
// town approved reopening takes vouchers whatever follows it.
func shut(tx *bolt.Tx, org, month string) error {
	if id := closedBy(tx, org, month); id != "" {
		return Conflict("voucher.businessDate", "month %s of %s is closed (entry %s): date the voucher in an open month, or reopen the month with the town's approval", month, org, id)
	}
	later, id := closedAfter(tx, org, month)
	if later == "" || reopened(tx, org, month) {
		return nil
	}
	return Conflict("voucher.businessDate", "month %s of %s is closed (entry %s) and %s before it was never closed: a voucher dated %s would change the closed month's balances; date it after %s, or reopen %s with the town's approval", later, org, id, month, month, later, later)
}

// closedAfter is the first month after month closed at org, and its close.
func closedAfter(tx *bolt.Tx, org, month string) (string, string) {
	bk := tx.Bucket(bucketMonths)
	if bk == nil {
		return "", ""
	}
	prefix := org + "/"
	c := bk.Cursor()
	for k, v := c.Seek(monthKey(org, month)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
		if m := strings.TrimPrefix(string(k), prefix); m > month {
			return m, string(v)
		}
	}
	return "", ""
}

// reopened says whether org's month was ever reopened.
func reopened(tx *bolt.Tx, org, month string) bool {
	return get(tx, bucketReopened, monthKey(org, month)) != nil
}

// closedBy is the id of the close in force of org's month, empty if open.
func closedBy(tx *bolt.Tx, org, month string) string {
	return string(get(tx, bucketMonths, monthKey(org, month)))
}

// bookedBy is the voucher in force that books the record at k, if any.
func bookedBy(tx *bolt.Tx, k []byte) string {
	id := get(tx, bucketVoucherOf, k)
	if id == nil {
		return ""
	}
	vk, err := keyOf(string(id))
	if err != nil || get(tx, bucketReversed, vk) != nil {
		return ""
	}
	return string(id)
}

// batch is what the vouchers of one append checked so far add to the
// indexes, which are only written once every record is checked: the
// numbers they take by org/month, and per org the date of their opening
// voucher and the earliest date of the others.
type batch struct {
	taken          map[string]int32
	opening, first map[string]string
}

func newBatch() *batch {
	return &batch{taken: map[string]int32{}, opening: map[string]string{}, first: map[string]string{}}
}

// checkVoucher checks v, the idx-th of recs, against what is recorded and
// what the vouchers of recs before it add (in): its month open, the voucher
// it reverses not reversed yet, the opening balances one and first. It
// completes what only the write transaction knows: the voucher's number
// (the next of its month) and, for a voucher appended with the record it
// books, that record's id; recs[idx] then carries the completed payload,
// which is what the ledger writes and signs. Recorders foresee both, so
// this changes them only when concurrent appends took them first; it
// never makes a recorder try again.
func checkVoucher(tx *bolt.Tx, recs []ledger.Record, idx int, v *sanziv1.Voucher, in *batch) error {
	origin := recs[idx].Origin
	month := voucher.Month(v.GetBusinessDate())
	if err := shut(tx, origin, month); err != nil {
		return err
	}
	mk := string(monthKey(origin, month))
	completed := false
	if want := lastNumber(tx, origin, month) + in.taken[mk] + 1; v.GetNumber() != want {
		v.Number, completed = want, true
	}
	in.taken[mk]++
	if about := recs[idx].About; about > 0 {
		if id := foreseenID(tx, recs, about); v.GetSourceEntryId() != id {
			v.SourceEntryId, completed = id, true
		}
	} else if id := v.GetSourceEntryId(); id != "" {
		s, err := target(tx, "voucher.sourceEntryId", origin, id, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT,
			sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL)
		if err != nil {
			return err
		}
		if by := bookedBy(tx, key(s.Origin, s.Seq)); by != "" {
			return Conflict("voucher.sourceEntryId", "%s is booked by voucher %s already: reverse that one first", id, by)
		}
	}
	if completed {
		payload, err := proto.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode voucher: %w", err)
		}
		recs[idx].Payload = payload
	}
	if id := v.GetReversesVoucherId(); id != "" {
		s, err := target(tx, "voucher.reversesVoucherId", origin, id, sanziv1.EntryType_ENTRY_TYPE_VOUCHER)
		if err != nil {
			return err
		}
		var orig sanziv1.Voucher
		if err := proto.Unmarshal(s.Payload, &orig); err != nil {
			return fmt.Errorf("decode voucher %s: %w", id, err)
		}
		if orig.GetReversesVoucherId() != "" {
			return Conflict("voucher.reversesVoucherId", "%s is itself a red-ink reversal: enter a new voucher instead", id)
		}
		if !mirrors(&orig, v) {
			return Invalid("voucher.lines", "a red-ink reversal has the lines of voucher %s (accounts and subsidiary detail) with every amount negated", id)
		}
	}
	opening := strings.Fields(string(get(tx, bucketOpening, []byte(origin))))
	if d, ok := in.opening[origin]; ok {
		opening = []string{"of this batch", d}
	}
	first := string(get(tx, bucketFirstVoucher, []byte(origin)))
	if f := in.first[origin]; f != "" && (first == "" || f < first) {
		first = f
	}
	date := v.GetBusinessDate()
	if v.GetOpening() {
		if len(opening) == 2 {
			return Conflict("voucher.opening", "%s has opening balances already (voucher %s)", origin, opening[0])
		}
		if first != "" && first < date {
			return Conflict("voucher.businessDate", "the opening balances are dated on or before every other voucher: %s has one dated %s", origin, first)
		}
		in.opening[origin] = date
	} else {
		if len(opening) == 2 && date < opening[1] {
			// The opening balances are those at the start of their day, as
			// the statements and an imported sheet read them: the first
			// day's business is dated on that day.
			return Conflict("voucher.businessDate", "%s opened its books on %s (voucher %s): a voucher may not be dated before that", origin, opening[1], opening[0])
		}
		if f := in.first[origin]; f == "" || date < f {
			in.first[origin] = date
		}
	}
	return nil
}

// foreseenID is the id the about-th record of recs (1-based) gets.
func foreseenID(tx *bolt.Tx, recs []ledger.Record, about int) string {
	o := recs[about-1].Origin
	seq := ledger.HeadSeqTx(tx, o)
	for _, r := range recs[:about] {
		if r.Origin == o {
			seq++
		}
	}
	return ledger.EntryID(o, seq)
}

// mirrors says red has orig's lines negated, on the same accounts and
// subsidiary detail (so the subsidiary ledgers are reversed too).
func mirrors(orig, red *sanziv1.Voucher) bool {
	if len(orig.GetLines()) != len(red.GetLines()) {
		return false
	}
	for i, l := range orig.GetLines() {
		r := red.GetLines()[i]
		if r.GetAccount() != l.GetAccount() || r.GetDebitFen() != -l.GetDebitFen() || r.GetCreditFen() != -l.GetCreditFen() ||
			r.GetCounterparty() != l.GetCounterparty() || r.GetProject() != l.GetProject() || r.GetAssetCode() != l.GetAssetCode() {
			return false
		}
	}
	return true
}

// checkMonthEntry checks a close (the month open, no voucher recorded in
// it since its figures) or a reopening (the month closed, its procedure
// not used by an earlier reopening).
func checkMonthEntry(tx *bolt.Tx, origin string, m proto.Message) error {
	switch m := m.(type) {
	case *sanziv1.MonthClose:
		if id := closedBy(tx, origin, m.GetMonth()); id != "" {
			return Conflict("month", "%s of %s is closed already (entry %s)", m.GetMonth(), origin, id)
		}
		if n := lastNumber(tx, origin, m.GetMonth()); n != m.GetVouchers() {
			return Conflict("month", "%d vouchers were recorded in %s while it was being closed: close it again", n-m.GetVouchers(), m.GetMonth())
		}
	case *sanziv1.MonthReopen:
		if closedBy(tx, origin, m.GetMonth()) == "" {
			return Conflict("month", "%s of %s is not closed", m.GetMonth(), origin)
		}
		// The town approves one reopening: a month closed again needs a
		// new procedure, or one approval would reopen it at will.
		return eachOf(tx, sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN, origin, func(s *ledger.Stored, prev proto.Message) error {
			if prev.(*sanziv1.MonthReopen).GetProcedureId() == m.GetProcedureId() {
				return Conflict("procedureId", "procedure %s reopened %s already (entry %s): the town approves each reopening", m.GetProcedureId(), prev.(*sanziv1.MonthReopen).GetMonth(), s.ID())
			}
			return nil
		})
	}
	return nil
}

// indexBooks keeps the voucher and month indexes of entry s.
func indexBooks(tx *bolt.Tx, s *ledger.Stored, m proto.Message) error {
	bk := func(name []byte) (*bolt.Bucket, error) { return tx.CreateBucketIfNotExists(name) }
	switch m := m.(type) {
	case *sanziv1.Voucher:
		month := voucher.Month(m.GetBusinessDate())
		seq, err := bk(bucketVoucherSeq)
		if err != nil {
			return err
		}
		if m.GetNumber() > lastNumber(tx, s.Origin, month) {
			if err := seq.Put(monthKey(s.Origin, month), fmt.Appendf(nil, "%d", m.GetNumber())); err != nil {
				return err
			}
		}
		if id := m.GetSourceEntryId(); id != "" {
			if sk, err := keyOf(id); err == nil {
				of, err := bk(bucketVoucherOf)
				if err != nil {
					return err
				}
				if err := of.Put(sk, []byte(s.ID())); err != nil {
					return err
				}
			}
		}
		if id := m.GetReversesVoucherId(); id != "" {
			if tk, err := keyOf(id); err == nil {
				if err := tx.Bucket(bucketReversed).Put(tk, []byte(s.ID())); err != nil {
					return err
				}
			}
		}
		if m.GetOpening() {
			op, err := bk(bucketOpening)
			if err != nil {
				return err
			}
			return op.Put([]byte(s.Origin), []byte(s.ID()+" "+m.GetBusinessDate()))
		}
		first, err := bk(bucketFirstVoucher)
		if err != nil {
			return err
		}
		if cur := first.Get([]byte(s.Origin)); cur == nil || m.GetBusinessDate() < string(cur) {
			return first.Put([]byte(s.Origin), []byte(m.GetBusinessDate()))
		}
	case *sanziv1.MonthClose:
		months, err := bk(bucketMonths)
		if err != nil {
			return err
		}
		return months.Put(monthKey(s.Origin, m.GetMonth()), []byte(s.ID()))
	case *sanziv1.MonthReopen:
		months, err := bk(bucketMonths)
		if err != nil {
			return err
		}
		return months.Delete(monthKey(s.Origin, m.GetMonth()))
	}
	return nil
}

// prepareVoucher is v as the node records it: number and chart version
// cleared (the node sets them), validated on the chart in force.
func (b *Books) prepareVoucher(v *sanziv1.Voucher) (*sanziv1.Voucher, error) {
	v = proto.Clone(v).(*sanziv1.Voucher)
	v.Number = 0
	ch, version, err := b.Chart()
	if err != nil {
		return nil, err
	}
	v.ChartVersion = version
	if err := voucher.Validate(ch, v); err != nil {
		return nil, asInvalid(err)
	}
	return v, nil
}

// CheckVoucher is RecordVoucher's dry run (validate_only): the voucher as
// it would be recorded now, its number included, the rules' warnings, and
// nothing recorded.
func (b *Books) CheckVoucher(v *sanziv1.Voucher) (*sanziv1.Voucher, []rules.Hit, error) {
	v, err := b.prepareVoucher(v)
	if err != nil {
		return nil, nil, err
	}
	hits, err := b.screenVoucher(v)
	if err != nil {
		return nil, nil, err
	}
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		v.Number = lastNumber(tx, v.GetOrg(), voucher.Month(v.GetBusinessDate())) + 1
		payload, err := proto.Marshal(v)
		if err != nil {
			return err
		}
		recs := []ledger.Record{{Origin: v.GetOrg(), Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: payload}}
		if err := checkRefs(tx, v.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_VOUCHER, v); err != nil {
			return err
		}
		return checkVoucher(tx, recs, 0, v, newBatch())
	})
	if err != nil {
		return nil, nil, err
	}
	return v, hits, nil
}

// screenVoucher checks a voucher entered by hand (or the opening
// balances, or a red-ink reversal) against the rules: a blocking hit
// refuses it, the others are returned to be recorded as its alerts.
func (b *Books) screenVoucher(v *sanziv1.Voucher) ([]rules.Hit, error) {
	ch, _, err := b.Chart()
	if err != nil {
		return nil, err
	}
	return b.screen(v, func(e *rules.Engine) ([]rules.Hit, error) {
		return e.CheckVoucher(v, rules.VoucherFacts{Chart: ch})
	})
}

// RecordVoucher records a voucher entered by hand (or the opening
// balances, or a red-ink reversal) with the next number of its month, and
// an alert about it for each rule that warned; it returns those rules.
func (b *Books) RecordVoucher(ctx context.Context, author string, v *sanziv1.Voucher) (*ledger.Stored, *sanziv1.Voucher, []rules.Hit, error) {
	v, err := b.prepareVoucher(v)
	if err != nil {
		return nil, nil, nil, err
	}
	hits, err := b.screenVoucher(v)
	if err != nil {
		return nil, nil, nil, err
	}
	subject := v.GetReversesVoucherId()
	if subject == "" {
		subject = v.GetSourceEntryId()
	}
	n, err := b.nextNumber(v.GetOrg(), v.GetBusinessDate())
	if err != nil {
		return nil, nil, nil, err
	}
	v.Number = n
	payload, err := proto.Marshal(v)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode voucher: %w", err)
	}
	recs, err := appendAlerts([]ledger.Record{{Origin: v.GetOrg(), Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: payload, Subject: subject}}, 1, hits)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := b.appendPublished(ctx, recs...)
	if err != nil {
		return nil, nil, nil, err
	}
	// The voucher as written: its number is the one the write found free.
	if err := proto.Unmarshal(out[0].Payload, v); err != nil {
		return nil, nil, nil, fmt.Errorf("decode voucher %s as recorded: %w", out[0].ID(), err)
	}
	later, err := b.sup.Recorded(ctx, out[0].ID())
	if err != nil {
		return out[0], v, hits, fmt.Errorf("recorded %s, then supervise: %w", out[0].ID(), err)
	}
	return out[0], v, append(hits, later...), nil
}

// appendPublished appends recs and hands what was written to the alert
// feed. The vouchers among them are numbered, and a derived one names its
// record, as the write transaction finds the chain (checkVoucher).
func (b *Books) appendPublished(ctx context.Context, recs ...ledger.Record) ([]*ledger.Stored, error) {
	handed := b.sup.Appending()
	out, err := b.l.Append(ctx, recs...)
	handed(out)
	if err != nil {
		return nil, err
	}
	b.published(out)
	return out, nil
}

func (b *Books) nextNumber(org, date string) (int32, error) {
	var n int32
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		n = lastNumber(tx, org, voucher.Month(date)) + 1
		return nil
	})
	return n, err
}

// ReverseVoucher records the red-ink voucher that reverses id on date
// (YYYY-MM-DD, in an open month; empty: today).
func (b *Books) ReverseVoucher(ctx context.Context, author, id, date, reason string) (*ledger.Stored, *sanziv1.Voucher, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, nil, Invalid("reason", "required: why the voucher is reversed")
	}
	if len(reason) > maxReason {
		return nil, nil, Invalid("reason", "longer than %d bytes", maxReason)
	}
	orig, err := b.GetVoucher(id)
	if err != nil {
		return nil, nil, err
	}
	if orig.GetReversedBy() != "" {
		return nil, nil, Conflict("id", "voucher %s was reversed by %s already", id, orig.GetReversedBy())
	}
	if date == "" {
		date = b.today()
	}
	st, v, _, err := b.RecordVoucher(ctx, author, voucher.Reverse(orig, date, reason))
	return st, v, err
}

// GetVoucher reads the voucher id names, with the voucher reversing it.
func (b *Books) GetVoucher(id string) (*sanziv1.VoucherRecord, error) {
	var rec *sanziv1.VoucherRecord
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		o, seq, err := ledger.ParseEntryID(id)
		if err != nil {
			return Invalid("id", "%v", err)
		}
		s, err := ledger.GetTx(tx, o, seq)
		if errors.Is(err, ledger.ErrNotFound) || (err == nil && s.Type != sanziv1.EntryType_ENTRY_TYPE_VOUCHER) {
			return fmt.Errorf("voucher %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		rec, err = voucherRecord(tx, s)
		return err
	})
	return rec, err
}

func voucherRecord(tx *bolt.Tx, s *ledger.Stored) (*sanziv1.VoucherRecord, error) {
	var v sanziv1.Voucher
	if err := proto.Unmarshal(s.Payload, &v); err != nil {
		return nil, fmt.Errorf("decode voucher %s: %w", s.ID(), err)
	}
	return &sanziv1.VoucherRecord{Entry: s.Meta(), Voucher: &v, ReversedBy: string(get(tx, bucketReversed, key(s.Origin, s.Seq)))}, nil
}

// ListVouchers lists org's vouchers in the order recorded, of one month
// (YYYY-MM) or all (empty).
func (b *Books) ListVouchers(org, month string, p Page) ([]*sanziv1.VoucherRecord, string, int64, error) {
	if month != "" && !monthRe.MatchString(month) {
		return nil, "", 0, Invalid("month", "%q is not a month YYYY-MM", month)
	}
	return listRecords(b, sanziv1.EntryType_ENTRY_TYPE_VOUCHER, p, org, nil, month != "", voucherRecord,
		func(r *sanziv1.VoucherRecord) bool { return voucher.Month(r.GetVoucher().GetBusinessDate()) == month })
}

var monthRe = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// withDerivedVoucher is recs, the records of business record m (m first),
// followed by the voucher that books m as the chart maps it (for a
// reversal of a booked record, the red-ink voucher of its voucher, dated
// today), numbered from the chain as it is now, and by an alert about the
// voucher for each rule that warned on it. recs alone when the chart maps
// m to nothing or its month takes no voucher (shut): the business record
// is never refused for its voucher, and its month cannot close (or,
// closed, is shown unbooked when reopened) until a hand voucher names it.
func (b *Books) withDerivedVoucher(recs []ledger.Record, m proto.Message) ([]ledger.Record, error) {
	switch m.(type) {
	case *sanziv1.Transaction, *sanziv1.ContractPayment, *sanziv1.Reversal, *sanziv1.AssetAppraisal, *sanziv1.AssetDisposal:
	default:
		return recs, nil // books no voucher (nor asks the chart, under whatever lock)
	}
	origin := recs[0].Origin
	ch, version, err := b.Chart()
	if err != nil {
		return nil, err
	}
	var v *sanziv1.Voucher
	today := b.today()
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		id := ledger.EntryID(origin, ledger.HeadSeqTx(tx, origin)+1)
		if r, ok := m.(*sanziv1.Reversal); ok {
			v, err = reversalVoucher(tx, r, today)
		} else {
			v, err = fromRecord(tx, ch, m, id)
		}
		var unknown *InvalidError
		if errors.Is(err, voucher.ErrNoVoucher) || errors.As(err, &unknown) {
			// An asset not on the node: the record's own check refuses it.
			v, err = nil, nil
		}
		if err != nil || v == nil {
			return err
		}
		if voucher.Validate(ch, v) != nil || shut(tx, origin, voucher.Month(v.GetBusinessDate())) != nil {
			v = nil
			return nil
		}
		v.ChartVersion = version
		v.Number = lastNumber(tx, origin, voucher.Month(v.GetBusinessDate())) + 1
		return nil
	})
	if err != nil || v == nil {
		return recs, err
	}
	payload, err := proto.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode voucher: %w", err)
	}
	rec := ledger.Record{Origin: origin, Author: voucherAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: payload, About: 1}
	if v.GetReversesVoucherId() != "" {
		rec.About, rec.Subject = 0, v.GetReversesVoucherId()
	}
	out := append(slices.Clone(recs), rec)
	// The rules on the voucher, with what its source was (a payment
	// booked to an income account): a blocking hit refuses the record with
	// it, and each warning is an alert about the voucher, appended too.
	e := b.rules.Load()
	if e == nil {
		return out, nil
	}
	hits, err := e.CheckVoucher(v, rules.DerivedFacts(ch, m))
	if err != nil {
		return nil, fmt.Errorf("check rules on the derived voucher: %w", err)
	}
	if blocking := rules.Blocking(hits); len(blocking) > 0 {
		return nil, &BlockedError{Hits: blocking}
	}
	return appendAlerts(out, len(out), hits)
}

// fromRecord is the voucher business record m, to be recorded as id,
// books under ch as the chain stands in tx: an appraisal or a disposal
// books the asset's value as its registration and the appraisals booked
// before it set it (bookValue). An error wrapping voucher.ErrNoVoucher
// means it books none; an InvalidError, that the asset it names is not
// on the node.
func fromRecord(tx *bolt.Tx, ch *chart.Chart, m proto.Message, id string) (*sanziv1.Voucher, error) {
	switch m := m.(type) {
	case *sanziv1.Transaction:
		return voucher.FromTransaction(ch, m, id)
	case *sanziv1.ContractPayment:
		return voucher.FromContractPayment(ch, m, contractParty(tx, m.GetContractId()), id)
	case *sanziv1.AssetAppraisal:
		s, a, err := assetOf(tx, m.GetAssetId())
		if err != nil {
			return nil, err
		}
		return voucher.FromAssetAppraisal(ch, m, a, bookValue(tx, s, a, nil), id)
	case *sanziv1.AssetDisposal:
		s, a, err := assetOf(tx, m.GetAssetId())
		if err != nil {
			return nil, err
		}
		return voucher.FromAssetDisposal(ch, m, a, bookValue(tx, s, a, nil), id)
	}
	return nil, fmt.Errorf("%w: a %T is no business record a voucher books", voucher.ErrNoVoucher, m)
}

// assetOf reads the registration of asset id; an InvalidError (assetId)
// when the node holds none.
func assetOf(tx *bolt.Tx, id string) (*ledger.Stored, *sanziv1.AssetRegistration, error) {
	s, m, err := child(tx, id)
	if err != nil || s.Type != sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION {
		return nil, nil, Invalid("assetId", "no asset %s on this node", id)
	}
	return s, m.(*sanziv1.AssetRegistration), nil
}

// bookValue is the value the books carry asset s (registered as a) at
// before the entry at key before (nil: now): its original value, then the
// value of each appraisal in force that a voucher in force booked, or that
// left the value as it was (it needed none). An appraisal the chart mapped
// to nothing and no hand voucher booked has not changed the books, so a
// disposal after it takes the asset off at the value before it.
//
// TODO(issue 19): withDerivedVoucher reads the book value before the append,
// and checkVoucher completes only a derived voucher's number and source
// id in the write transaction: two appraisals of one asset recorded at the
// same instant (or an appraisal racing its asset's disposal) would both
// book from the value before either. Recomputing the lines there needs
// the chart in the indexer.
func bookValue(tx *bolt.Tx, s *ledger.Stored, a *sanziv1.AssetRegistration, before []byte) int64 {
	value := a.GetOriginalValueFen()
	children(tx, s, func(id string, t sanziv1.EntryType, amount int64, reversed bool) {
		if reversed || t != sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL {
			return
		}
		k, err := keyOf(id)
		if err != nil || (before != nil && bytes.Compare(k, before) >= 0) {
			return
		}
		if amount == value || bookedBy(tx, k) != "" {
			value = amount
		}
	})
	return value
}

// needsVoucher says whether business record m, stored as s, must be booked
// by a voucher before its month closes, with its date and amount for the
// reason shown: every transaction and contract payment; a disposal that
// moves a price or a book value; an appraisal that changes the book value
// (an appraisal at the value the books carry books nothing).
func needsVoucher(tx *bolt.Tx, s *ledger.Stored, m proto.Message) (date string, amount int64, needs bool) {
	switch m := m.(type) {
	case *sanziv1.Transaction:
		return m.GetBusinessDate(), m.GetAmountFen(), true
	case *sanziv1.ContractPayment:
		return m.GetBusinessDate(), m.GetAmountFen(), true
	case *sanziv1.AssetDisposal:
		as, a, err := assetOf(tx, m.GetAssetId())
		if err != nil {
			return m.GetDisposalDate(), m.GetPriceFen(), true
		}
		return m.GetDisposalDate(), m.GetPriceFen(), m.GetPriceFen() > 0 || bookValue(tx, as, a, key(s.Origin, s.Seq)) > 0
	case *sanziv1.AssetAppraisal:
		as, a, err := assetOf(tx, m.GetAssetId())
		if err != nil {
			return m.GetAppraisalDate(), m.GetAppraisedValueFen(), true
		}
		return m.GetAppraisalDate(), m.GetAppraisedValueFen(), m.GetAppraisedValueFen() != bookValue(tx, as, a, key(s.Origin, s.Seq))
	}
	return "", 0, false
}

// reversalVoucher is the red-ink voucher, dated today, that reverses the
// voucher in force of the record r reverses; nil when it has none.
func reversalVoucher(tx *bolt.Tx, r *sanziv1.Reversal, today string) (*sanziv1.Voucher, error) {
	tk, err := keyOf(r.GetTargetId())
	if err != nil {
		return nil, nil
	}
	vid := bookedBy(tx, tk)
	if vid == "" {
		return nil, nil
	}
	o, seq, err := ledger.ParseEntryID(vid)
	if err != nil {
		return nil, err
	}
	s, err := ledger.GetTx(tx, o, seq)
	if err != nil {
		return nil, err
	}
	orig, err := voucherRecord(tx, s)
	if err != nil {
		return nil, err
	}
	return voucher.Reverse(orig, today, "冲销 "+r.GetTargetId()+"："+r.GetReason()), nil
}

// voucherAuthor is who records the vouchers the node derives.
const voucherAuthor = "books"

func contractParty(tx *bolt.Tx, contractID string) string {
	o, seq, err := ledger.ParseEntryID(contractID)
	if err != nil {
		return ""
	}
	s, err := ledger.GetTx(tx, o, seq)
	if err != nil {
		return ""
	}
	var c sanziv1.Contract
	if proto.Unmarshal(s.Payload, &c) != nil {
		return ""
	}
	return c.GetCounterparty().GetName()
}

// PreviewVoucher is the voucher m (a transaction, contract payment, asset
// appraisal or disposal) would book if recorded now, not recorded; an
// error wrapping voucher.ErrNoVoucher says it would book none.
func (b *Books) PreviewVoucher(m proto.Message) (*sanziv1.Voucher, error) {
	ch, version, err := b.Chart()
	if err != nil {
		return nil, err
	}
	var v *sanziv1.Voucher
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		var err error
		v, err = fromRecord(tx, ch, m, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	v.ChartVersion = version
	if err := voucher.Validate(ch, v); err != nil {
		return nil, asInvalid(err)
	}
	v.Number, err = b.nextNumber(v.GetOrg(), v.GetBusinessDate())
	return v, err
}

// monthState is what the books say of one month of an org.
type monthState struct {
	vouchers   int32
	debit      int64
	cash, bank int64
	bankRec    string
	closeID    string
	blockers   []string
	// fields names the request field each of blockers is about ("" for
	// none), so that a form shows the refusal next to its input.
	fields        []string
	hasBusiness   bool
	unbookedCount int
}

// month computes org's month: its vouchers and sums, the cash and bank
// balances at its end, and every reason it cannot close now.
func (b *Books) month(org, month string) (*monthState, error) {
	st := &monthState{}
	today := b.today()
	subjects := map[string]bool{}
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		st.closeID = closedBy(tx, org, month)
		if err := eachOfMonth(tx, org, month, sanziv1.EntryType_ENTRY_TYPE_VOUCHER, func(s *ledger.Stored, m proto.Message) error {
			v := m.(*sanziv1.Voucher)
			st.vouchers++
			d, c := voucher.Totals(v)
			st.debit += d
			if d != c {
				st.blockers = append(st.blockers, fmt.Sprintf("voucher %s (记字第%d号) does not balance: %s", s.ID(), v.GetNumber(), voucher.Imbalance(d, c)))
			}
			return nil
		}); err != nil {
			return err
		}
		// The balances at the month's end are each month's movement up to
		// it, read from a row per month; an earlier month with vouchers
		// must be closed.
		eachMonthTotals(tx, org, month, func(m string, t monthTotals) {
			st.cash += t.cash
			st.bank += t.bank
			if m < month && closedBy(tx, org, m) == "" {
				st.blockers = append(st.blockers, fmt.Sprintf("%s has vouchers and is not closed: close the earlier months first", m))
			}
		})
		for _, t := range recordTypes {
			if err := eachOfMonth(tx, org, month, t, func(s *ledger.Stored, m proto.Message) error {
				date, amount, needs := needsVoucher(tx, s, m)
				k := key(s.Origin, s.Seq)
				if !needs || voucher.Month(date) != month || get(tx, bucketReversed, k) != nil {
					return nil
				}
				st.hasBusiness = true
				subjects[s.ID()] = true
				if bookedBy(tx, k) == "" {
					st.blockers = append(st.blockers, fmt.Sprintf("%s %s of %s yuan on %s has no voucher: enter one naming it (sourceEntryId)", typeName(s.Type), s.ID(), money.FormatFen(amount), date))
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if st.cash < 0 {
			st.blockers = append(st.blockers, fmt.Sprintf("库存现金 (101) ends %s at %s yuan: cash cannot be negative", month, money.FormatFen(st.cash)))
		}
		st.bankRec = string(get(tx, bucketBankRec, monthKey(org, month)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("figures of %s %s: %w", org, month, err)
	}
	if month >= today[:7] {
		st.blockers = append(st.blockers, fmt.Sprintf("%s is not over yet (today is %s)", month, today))
	}
	// Asked of the supervision once the transaction is over: it takes its
	// own lock, and may be writing to the ledger.
	if st.closeID == "" && len(subjects) > 0 {
		for _, o := range b.sup.OverdueSteps(org, subjects, b.now()) {
			st.blockers = append(st.blockers, fmt.Sprintf("procedure %s (%s) about %s is overdue at step %s (%s, post %s, due %s): decide it (approve, return or reject) before closing, the month's books would otherwise take as final a record whose approval is stuck",
				o.ProcedureID, o.Matter, o.SubjectID, o.Step, o.StepName, o.Post, o.Deadline.UTC().Format("2006-01-02 15:04 UTC")))
		}
	}
	st.fields = make([]string, len(st.blockers))
	return st, nil
}

// now is the books' clock (the validator's, else the wall clock).
func (b *Books) now() time.Time {
	if b.val != nil && b.val.Now != nil {
		return b.val.Now()
	}
	return time.Now()
}

// eachOf calls fn with every entry of type t recorded at org, decoded.
func eachOf(tx *bolt.Tx, t sanziv1.EntryType, org string, fn func(*ledger.Stored, proto.Message) error) error {
	return eachOfType(tx, t, org, withMessage(fn))
}

// decoded calls fn with org's entry at seq, decoded.
func decoded(tx *bolt.Tx, org string, seq uint64, fn func(*ledger.Stored, proto.Message) error) error {
	s, err := ledger.GetTx(tx, org, seq)
	if err != nil {
		return err
	}
	return withMessage(fn)(s)
}

// withMessage hands fn each entry with its payload decoded: what the
// indexes' walks (by type, by month) give the books' checks.
func withMessage(fn func(*ledger.Stored, proto.Message) error) func(*ledger.Stored) error {
	return func(s *ledger.Stored) error {
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return err
		}
		return fn(s, m)
	}
}

func checkOrgMonth(org, month string) error {
	if len(org) != 12 || strings.Trim(org, "0123456789") != "" {
		return Invalid("org", "%q is not a 12-digit org code", org)
	}
	if !monthRe.MatchString(month) {
		return Invalid("month", "%q is not a month YYYY-MM", month)
	}
	return nil
}

// BlockedMonthError refuses to close a month, with every reason.
type BlockedMonthError struct {
	Org, Month string
	Blockers   []string
	// Fields names, for each of Blockers, the request field it is about
	// (bankStatementFen, cashCountedFen), "" for the others; nil: none.
	Fields []string
}

func (e *BlockedMonthError) Error() string {
	return fmt.Sprintf("month %s of %s cannot close: %s", e.Month, e.Org, strings.Join(e.Blockers, "; "))
}

// Counted is what the accountant checked the books against at the
// month's end, in fen: the bank statement's balance and the cash counted.
type Counted struct {
	BankStatementFen, CashCountedFen int64
}

// CloseMonth closes org's month (结账) when every check passes, recording
// the month's figures and those the accountant checked (c); a
// BlockedMonthError lists each check that failed.
//
// Besides the vouchers (each balanced, every record of the month booked,
// the earlier months closed, cash not negative, the month over), the
// close asks that the books agree with the world at the month's end:
//   - 库存现金 (101) equals the cash counted. Always: a cash difference is
//     a loss or a gain to be found and booked (待处理财产损溢), never
//     explained away.
//   - 银行存款 (102) equals the bank statement's balance, unless the
//     month's bank reconciliation (catalog.BankRec, its period the month)
//     has its reconciliation step approved: the 余额调节表 then explains the
//     difference by items in transit (未达账项), and the close names that
//     procedure (bank_reconciliation_id). The town approves that step, so
//     a village cannot explain a difference on its own word. The procedure
//     records no amounts: which difference it explains is the town's
//     reading of the statement attached to it, not checked here.
//   - No record of the month is held up at the village in its procedure:
//     a procedure about one of the month's transactions or contract
//     payments whose open step, held by a village post (the voucher's
//     capture with its invoice, the finance group's review, the head's
//     sign-off, the receipt, the cash deposit), is past its deadline (the
//     step the timers card) blocks until it is decided. A step still within
//     its time does not: the close comes in the first days of the next
//     month, when a reimbursement of the 30th is rightly still in its
//     chain, and a later rejection is corrected by a red-ink voucher in an
//     open month, as any correction is. A town's step does not either: the
//     village can neither take it nor hurry it but through the cards its
//     timers give, and a village whose town is slow, or not yet syncing,
//     would never close. Procedures not about a record of the month (a
//     disclosure, which follows the close; the reconciliation, checked
//     above) do not block.
func (b *Books) CloseMonth(ctx context.Context, author, org, month string, c Counted) (*ledger.Stored, *sanziv1.MonthClose, error) {
	if err := checkOrgMonth(org, month); err != nil {
		return nil, nil, err
	}
	st, err := b.month(org, month)
	if err != nil {
		return nil, nil, err
	}
	if st.closeID != "" {
		return nil, nil, Conflict("month", "%s of %s is closed already (entry %s)", month, org, st.closeID)
	}
	bankRec := st.bankRec
	if c.CashCountedFen != st.cash {
		st.blockers = append(st.blockers, fmt.Sprintf("库存现金 (101) ends %s at %s yuan in the books and %s yuan was counted: %s (账实不符); find the difference and book it before closing",
			month, money.FormatFen(st.cash), money.FormatFen(c.CashCountedFen), difference(c.CashCountedFen, st.cash, "counted")))
		st.fields = append(st.fields, "cashCountedFen")
	}
	if c.BankStatementFen != st.bank {
		if rec := b.sup.BankReconciled(org, month); rec != "" {
			bankRec = rec
		} else {
			why := fmt.Sprintf("no bank reconciliation (%s) was opened for %s", catalog.BankRec, month)
			if st.bankRec != "" {
				why = fmt.Sprintf("the bank reconciliation %s has not had its reconciliation step (%s) approved", st.bankRec, catalog.BankRecStep)
			}
			st.blockers = append(st.blockers, fmt.Sprintf("银行存款 (102) ends %s at %s yuan in the books and the bank statement says %s yuan: %s, and %s; book what is missing, or have the 余额调节表 explain it",
				month, money.FormatFen(st.bank), money.FormatFen(c.BankStatementFen), difference(c.BankStatementFen, st.bank, "on the statement"), why))
			st.fields = append(st.fields, "bankStatementFen")
		}
	}
	if len(st.blockers) > 0 {
		return nil, nil, &BlockedMonthError{Org: org, Month: month, Blockers: st.blockers, Fields: st.fields}
	}
	mc := &sanziv1.MonthClose{Org: org, Month: month, Vouchers: st.vouchers, DebitFen: st.debit, CashFen: st.cash, BankFen: st.bank, BankReconciliationId: bankRec,
		BankStatementFen: proto.Int64(c.BankStatementFen), CashCountedFen: proto.Int64(c.CashCountedFen)}
	out, err := b.appendMonthEntry(ctx, author, org, sanziv1.EntryType_ENTRY_TYPE_MONTH_CLOSE, mc, "")
	if err != nil {
		return nil, nil, err
	}
	return out, mc, nil
}

// difference says by how much checked differs from the books' figure.
func difference(checked, books int64, where string) string {
	if checked > books {
		return fmt.Sprintf("%s yuan more %s than in the books", money.FormatFen(checked-books), where)
	}
	return fmt.Sprintf("%s yuan less %s than in the books", money.FormatFen(books-checked), where)
}

// maxReason bounds the reason of a reopening as a voucher's summary is
// bounded (a reversal's reason goes into its summary).
const maxReason = 500

// ReopenApproval says whether procedure id approves reopening org's
// month: a BOOKS-REOPEN procedure for them whose town step was approved.
// The supervision that follows the procedures answers it (node/supervise).
type ReopenApproval func(procedureID, org, month string) error

// ReopenMonth reopens a closed month with the town's approval: approved
// must accept r's procedure.
func (b *Books) ReopenMonth(ctx context.Context, author string, r *sanziv1.MonthReopen, approved ReopenApproval) (*ledger.Stored, error) {
	if err := checkOrgMonth(r.GetOrg(), r.GetMonth()); err != nil {
		return nil, err
	}
	if strings.TrimSpace(r.GetReason()) == "" {
		return nil, Invalid("reason", "required: why the month is reopened")
	}
	if len(r.GetReason()) > maxReason {
		return nil, Invalid("reason", "longer than %d bytes", maxReason)
	}
	if r.GetProcedureId() == "" {
		return nil, Invalid("procedureId", "required: the BOOKS-REOPEN procedure whose town step approved reopening %s", r.GetMonth())
	}
	if approved == nil {
		return nil, Conflict("procedureId", "this node follows no procedures: the town's approval cannot be known")
	}
	if err := approved(r.GetProcedureId(), r.GetOrg(), r.GetMonth()); err != nil {
		return nil, err
	}
	return b.appendMonthEntry(ctx, author, r.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN, r, r.GetProcedureId())
}

func (b *Books) appendMonthEntry(ctx context.Context, author, org string, t sanziv1.EntryType, m proto.Message, subject string) (*ledger.Stored, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	out, err := b.l.Append(ctx, ledger.Record{Origin: org, Author: author, Type: t, Payload: payload, Subject: subject})
	if err != nil {
		return nil, err
	}
	b.published(out)
	return out[0], nil
}

// ListMonths is where each month of org's year stands, January to the
// current month (every month of a past year).
func (b *Books) ListMonths(org, year string) ([]*sanziv1.MonthStatus, error) {
	today := b.today()
	if year == "" {
		year = today[:4]
	}
	if len(year) != 4 || strings.Trim(year, "0123456789") != "" {
		return nil, Invalid("year", "%q is not a year YYYY", year)
	}
	var out []*sanziv1.MonthStatus
	for i := 1; i <= 12; i++ {
		month := fmt.Sprintf("%s-%02d", year, i)
		if month > today[:7] {
			break
		}
		st, err := b.month(org, month)
		if err != nil {
			return nil, err
		}
		ms := &sanziv1.MonthStatus{Org: org, Month: month, Closed: st.closeID != "", Vouchers: st.vouchers, CloseId: st.closeID}
		if st.closeID == "" {
			ms.Blockers = st.blockers
		}
		out = append(out, ms)
	}
	return out, nil
}
