package books

import (
	"context"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/statement"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// VouchersOf is every voucher recorded at org dated in or before the
// month upTo (YYYY-MM; empty: every one), in the order recorded, red-ink
// reversals included: what the statements of org are made from
// (statement.FromVouchers). A town node answers it for its villages from
// their replicated chains, which it indexes as it stores them.
func (b *Books) VouchersOf(org, upTo string) ([]*sanziv1.Voucher, error) {
	if upTo != "" && !monthRe.MatchString(upTo) {
		return nil, Invalid("period", "%q is not a month YYYY-MM", upTo)
	}
	var out []*sanziv1.Voucher
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		return eachOf(tx, sanziv1.EntryType_ENTRY_TYPE_VOUCHER, org, func(_ *ledger.Stored, m proto.Message) error {
			v := m.(*sanziv1.Voucher)
			if upTo == "" || voucher.Month(v.GetBusinessDate()) <= upTo {
				out = append(out, v)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vouchers of %s: %w", org, err)
	}
	return out, nil
}

// Movements lists what org's vouchers moved on each account in each year
// before upTo's (YYYY-MM), then in each month of upTo's year up to and
// including upTo, accounts in code order, from the month indexes: statement.FromMonths makes from them, and the
// vouchers of upTo's month (VouchersIn), the statement FromVouchers makes
// from VouchersOf, reading the org's months and not its vouchers.
func (b *Books) Movements(org, upTo string) ([]statement.MonthMovement, error) {
	if !monthRe.MatchString(upTo) {
		return nil, Invalid("period", "%q is not a month YYYY-MM", upTo)
	}
	var out []statement.MonthMovement
	if err := b.l.DB().View(func(tx *bolt.Tx) error {
		eachMovement(tx, org, upTo, func(m statement.MonthMovement) { out = append(out, m) })
		return nil
	}); err != nil {
		return nil, fmt.Errorf("movements of %s to %s: %w", org, upTo, err)
	}
	return out, nil
}

// VouchersIn lists org's vouchers dated in month (YYYY-MM), in the order
// they were recorded, from the month index: what the ledgers and journals
// of the month list.
func (b *Books) VouchersIn(org, month string) ([]*sanziv1.Voucher, error) {
	if !monthRe.MatchString(month) {
		return nil, Invalid("period", "%q is not a month YYYY-MM", month)
	}
	var out []*sanziv1.Voucher
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		return eachOfMonth(tx, org, month, sanziv1.EntryType_ENTRY_TYPE_VOUCHER, func(_ *ledger.Stored, m proto.Message) error {
			out = append(out, m.(*sanziv1.Voucher))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vouchers of %s in %s: %w", org, month, err)
	}
	return out, nil
}

// VoucherOrgs lists, sorted, the orgs whose code begins with prefix (a
// town's first nine digits) and whose vouchers this node holds: the
// villages a town's statements sum.
func (b *Books) VoucherOrgs(prefix string) ([]string, error) {
	var out []string
	err := b.l.DB().View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketByType).Bucket([]byte{byte(sanziv1.EntryType_ENTRY_TYPE_VOUCHER)})
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && len(k) > 8 && string(k[:min(len(prefix), len(k))]) == prefix; {
			org := string(k[:len(k)-8])
			out = append(out, org)
			// Past every key of org: its keys are org and 8 bytes of seq.
			k, _ = c.Seek(append([]byte(org), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// ImportedVoucher is a voucher of an import refused, and why.
type ImportedVoucher struct {
	// Index in the vouchers imported, from 0.
	Index  int
	Field  string
	Reason string
}

// ImportVouchers records the opening balances and vouchers read from a
// sheet (sheet.ReadVouchers: the opening first, then by date) for org, all
// in one ledger append, so that all are recorded or none: each is checked
// on the chart in force as RecordVoucher checks a hand voucher, except
// that a voucher whose lines are all negative is taken as a red-ink
// correction of the source system (voucher.ValidateImported), and numbered
// in its month after the vouchers already recorded there, in the order
// given. Refusals are returned, one per voucher at fault (a closed month,
// opening balances the org has already, an account not of the chart),
// and then nothing is recorded; so is nothing on dryRun. The vouchers are
// held in memory and appended in one bbolt transaction: the caller bounds
// their number (the API by its sheet limits).
func (b *Books) ImportVouchers(ctx context.Context, author, org string, vs []*sanziv1.Voucher, dryRun bool) ([]*ledger.Stored, []ImportedVoucher, error) {
	ch, version, err := b.Chart()
	if err != nil {
		return nil, nil, err
	}
	var bad []ImportedVoucher
	refuse := func(i int, err error) {
		var inv *InvalidError
		var conf *ConflictError
		var fe *voucher.FieldError
		switch {
		case errors.As(err, &fe):
			bad = append(bad, ImportedVoucher{i, fe.Field, fe.Reason})
		case errors.As(err, &inv):
			for _, v := range inv.Violations {
				bad = append(bad, ImportedVoucher{i, v.Field, v.Reason})
			}
		case errors.As(err, &conf):
			bad = append(bad, ImportedVoucher{i, conf.Field, conf.Reason})
		default:
			bad = append(bad, ImportedVoucher{i, "", err.Error()})
		}
	}
	prepared := make([]*sanziv1.Voucher, len(vs))
	for i, v := range vs {
		v = proto.Clone(v).(*sanziv1.Voucher)
		v.Org, v.Number, v.ChartVersion, v.SourceEntryId, v.ReversesVoucherId = org, 0, version, "", ""
		if err := voucher.ValidateImported(ch, v); err != nil {
			refuse(i, err)
		}
		prepared[i] = v
	}
	if len(bad) > 0 {
		return nil, bad, nil
	}
	// build numbers every voucher after its month's last, as the chain
	// stands; checkVoucher (in the append) numbers it on if it moved.
	build := func() ([]ledger.Record, error) {
		recs := make([]ledger.Record, len(prepared))
		err := b.l.DB().View(func(tx *bolt.Tx) error {
			next := map[string]int32{}
			for i, v := range prepared {
				m := voucher.Month(v.GetBusinessDate())
				if _, ok := next[m]; !ok {
					next[m] = lastNumber(tx, org, m)
				}
				next[m]++
				v.Number = next[m]
				payload, err := proto.Marshal(v)
				if err != nil {
					return fmt.Errorf("encode voucher %d: %w", i, err)
				}
				recs[i] = ledger.Record{Origin: org, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: payload}
			}
			return nil
		})
		return recs, err
	}
	// Each voucher against the books as they stand, one by one, so that
	// every refusal is listed (the append stops at the first).
	recs, err := build()
	if err != nil {
		return nil, nil, err
	}
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		in := newBatch()
		for i, v := range prepared {
			if err := checkRefs(tx, org, sanziv1.EntryType_ENTRY_TYPE_VOUCHER, v); err != nil {
				refuse(i, err)
				continue
			}
			if err := checkVoucher(tx, recs, i, v, in); err != nil {
				refuse(i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(bad) > 0 || dryRun {
		return nil, bad, nil
	}
	out, err := b.appendPublished(ctx, recs...)
	if err != nil {
		return nil, nil, fmt.Errorf("record %d imported vouchers: %w", len(prepared), err)
	}
	if _, err := b.sup.Recorded(ctx, ""); err != nil {
		return out, nil, fmt.Errorf("recorded %d vouchers, then supervise: %w", len(out), err)
	}
	return out, nil, nil
}
