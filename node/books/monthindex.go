package books

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/statement"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The month indexes let a month's close, and the months' list, read what
// the month holds and not the village's whole history (issue 17): the
// month's vouchers and records by org and month, each month's movement of
// cash and bank, the month's bank reconciliation, its reopenings.
var (
	bucketMonthTotals  = []byte("idx_month_totals")  // org/YYYY-MM → vouchers, cash and bank movement (3 × int64)
	bucketMonthEntries = []byte("idx_month_entries") // org/YYYY-MM/ type byte seq → nil: the vouchers and records dated in the month
	bucketBankRec      = []byte("idx_month_bankrec") // org/YYYY-MM → id of the month's last bank reconciliation procedure
	bucketReopened     = []byte("idx_month_reopen")  // org/YYYY-MM → id of a reopening of the month
	// org/YYYY-MM/account → what the month's vouchers moved on the account
	// (statement.MonthMovement, 5 × int64), so statements read the months
	// up to their period and not every voucher.
	bucketMonthAccounts = []byte("idx_month_accounts")
	// org/YYYY/account → the same for the whole year, so a statement reads
	// a row per account and year before its period's, not per month.
	bucketYearAccounts = []byte("idx_year_accounts")
)

var monthBuckets = [][]byte{bucketMonthTotals, bucketMonthEntries, bucketBankRec, bucketReopened, bucketMonthAccounts, bucketYearAccounts}

// monthIndexVersion is what the month indexes hold; a ledger whose month
// indexes are older (or have none) is indexed again at open
// (buildMonthIndexes). 1: the indexes above but the accounts'; 2: the
// accounts' movements by month and year too.
const monthIndexVersion = 2

var keyMonthIndexVersion = []byte("months version")

// recordTypes are the records a month's close wants booked, in the order
// the close lists them.
var recordTypes = []sanziv1.EntryType{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT,
	sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL}

// monthTypes are the entry types the month indexes are made of.
var monthTypes = append([]sanziv1.EntryType{sanziv1.EntryType_ENTRY_TYPE_VOUCHER, sanziv1.EntryType_ENTRY_TYPE_PROCEDURE,
	sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN}, recordTypes...)

// monthEntryPrefix is where the entries of type t dated in org's month
// are in bucketMonthEntries.
func monthEntryPrefix(org, month string, t sanziv1.EntryType) []byte {
	return append(monthKey(org, month+"/"), byte(t))
}

// recordDate is the date that puts record m in a month, "" for an entry
// that is not a record a close wants booked.
func recordDate(m proto.Message) string {
	switch m := m.(type) {
	case *sanziv1.Transaction:
		return m.GetBusinessDate()
	case *sanziv1.ContractPayment:
		return m.GetBusinessDate()
	case *sanziv1.AssetDisposal:
		return m.GetDisposalDate()
	case *sanziv1.AssetAppraisal:
		return m.GetAppraisalDate()
	}
	return ""
}

// monthTotals is one month's row of bucketMonthTotals.
type monthTotals struct{ vouchers, cash, bank int64 }

func decodeTotals(v []byte) monthTotals {
	if len(v) != 24 {
		return monthTotals{}
	}
	return monthTotals{int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:])), int64(binary.BigEndian.Uint64(v[16:]))}
}

func (t monthTotals) encode() []byte {
	v := make([]byte, 24)
	binary.BigEndian.PutUint64(v, uint64(t.vouchers))
	binary.BigEndian.PutUint64(v[8:], uint64(t.cash))
	binary.BigEndian.PutUint64(v[16:], uint64(t.bank))
	return v
}

// indexMonth keeps the month indexes of entry s (decoded as m).
func indexMonth(tx *bolt.Tx, s *ledger.Stored, m proto.Message) error {
	bk := func(name []byte) (*bolt.Bucket, error) { return tx.CreateBucketIfNotExists(name) }
	seq := make([]byte, 8)
	binary.BigEndian.PutUint64(seq, s.Seq)
	switch m := m.(type) {
	case *sanziv1.Voucher:
		month := voucher.Month(m.GetBusinessDate())
		totals, err := bk(bucketMonthTotals)
		if err != nil {
			return err
		}
		t := decodeTotals(totals.Get(monthKey(s.Origin, month)))
		t.vouchers++
		for _, l := range m.GetLines() {
			switch {
			case strings.HasPrefix(l.GetAccount(), chart.Cash):
				t.cash += l.GetDebitFen() - l.GetCreditFen()
			case strings.HasPrefix(l.GetAccount(), chart.Bank):
				t.bank += l.GetDebitFen() - l.GetCreditFen()
			}
		}
		if err := totals.Put(monthKey(s.Origin, month), t.encode()); err != nil {
			return err
		}
		if err := indexMovements(tx, s.Origin, month, m); err != nil {
			return err
		}
		of, err := bk(bucketMonthEntries)
		if err != nil {
			return err
		}
		return of.Put(append(monthEntryPrefix(s.Origin, month, s.Type), seq...), nil)
	case *sanziv1.Procedure:
		if m.GetMatterCode() != catalog.BankRec {
			return nil
		}
		rec, err := bk(bucketBankRec)
		if err != nil {
			return err
		}
		return rec.Put(monthKey(s.Origin, m.GetPeriod()), []byte(s.ID()))
	case *sanziv1.MonthReopen:
		re, err := bk(bucketReopened)
		if err != nil {
			return err
		}
		return re.Put(monthKey(s.Origin, m.GetMonth()), []byte(s.ID()))
	}
	if date := recordDate(m); date != "" {
		of, err := bk(bucketMonthEntries)
		if err != nil {
			return err
		}
		return of.Put(append(monthEntryPrefix(s.Origin, voucher.Month(date), s.Type), seq...), nil)
	}
	return nil
}

// movementKey is where account's movement in org's month is in
// bucketMonthAccounts.
func movementKey(org, month, account string) []byte {
	return []byte(org + "/" + month + "/" + account)
}

func decodeMovement(v []byte) statement.MonthMovement {
	var m statement.MonthMovement
	if len(v) != 40 {
		return m
	}
	for i, f := range []*int64{&m.OpeningNetFen, &m.DebitFen, &m.CreditFen, &m.CarryDebitFen, &m.CarryCreditFen} {
		*f = int64(binary.BigEndian.Uint64(v[8*i:]))
	}
	return m
}

func encodeMovement(m statement.MonthMovement) []byte {
	v := make([]byte, 40)
	for i, f := range []int64{m.OpeningNetFen, m.DebitFen, m.CreditFen, m.CarryDebitFen, m.CarryCreditFen} {
		binary.BigEndian.PutUint64(v[8*i:], uint64(f))
	}
	return v
}

// indexMovements adds voucher v's lines to the movements of org's month,
// and of its year, on their accounts. Every account a line names has its
// rows, even for lines of zero, as TotalsOf has its key.
func indexMovements(tx *bolt.Tx, org, month string, v *sanziv1.Voucher) error {
	carry := statement.Carries(v)
	for _, r := range []struct {
		bucket []byte
		period string
	}{{bucketMonthAccounts, month}, {bucketYearAccounts, month[:4]}} {
		bk, err := tx.CreateBucketIfNotExists(r.bucket)
		if err != nil {
			return err
		}
		for _, l := range v.GetLines() {
			k := movementKey(org, r.period, l.GetAccount())
			m := decodeMovement(bk.Get(k))
			m.Add(v.GetOpening(), carry, l.GetDebitFen(), l.GetCreditFen())
			if err := bk.Put(k, encodeMovement(m)); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachMovement calls fn with the movement of every account of org in
// every year before upTo's (YYYY-MM) and every month of upTo's year up to
// and including upTo that has vouchers, in that order, accounts in code
// order: a short row per account and year of the books' life, none of
// their vouchers.
func eachMovement(tx *bolt.Tx, org, upTo string, fn func(statement.MonthMovement)) {
	each := func(bucket []byte, from string, past func(period string) bool) {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return
		}
		prefix := []byte(org + "/")
		c := bk.Cursor()
		for k, v := c.Seek(append(prefix, from...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			period, account, ok := strings.Cut(string(k[len(prefix):]), "/")
			if !ok {
				continue
			}
			if past(period) {
				return
			}
			m := decodeMovement(v)
			m.Month, m.Account = period, account
			fn(m)
		}
	}
	year := upTo[:4]
	each(bucketYearAccounts, "", func(y string) bool { return y >= year })
	each(bucketMonthAccounts, year+"-01", func(m string) bool { return m > upTo })
}

// eachOfMonth calls fn with every entry of type t of org dated in month,
// decoded, in seq order.
func eachOfMonth(tx *bolt.Tx, org, month string, t sanziv1.EntryType, fn func(*ledger.Stored, proto.Message) error) error {
	idx := tx.Bucket(bucketMonthEntries)
	if idx == nil {
		return nil
	}
	prefix := monthEntryPrefix(org, month, t)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			continue
		}
		if err := decoded(tx, org, binary.BigEndian.Uint64(k[len(prefix):]), fn); err != nil {
			return err
		}
	}
	return nil
}

// eachMonthTotals calls fn with each month of org up to and including
// month that has vouchers, in order, with its totals. It reads a short row
// per month of the books' life, none of their vouchers.
func eachMonthTotals(tx *bolt.Tx, org, month string, fn func(m string, t monthTotals)) {
	bk := tx.Bucket(bucketMonthTotals)
	if bk == nil {
		return
	}
	prefix := org + "/"
	c := bk.Cursor()
	for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
		m := strings.TrimPrefix(string(k), prefix)
		if m > month {
			return
		}
		fn(m, decodeTotals(v))
	}
}

// buildMonthIndexes makes the month indexes of every entry already in the
// ledger when they are older than monthIndexVersion (a ledger written
// before them), once, saying how far it is.
func (b *Books) buildMonthIndexes(log *slog.Logger) error {
	var have uint64
	if err := b.l.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyMonthIndexVersion); len(v) == 8 {
			have = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return err
	}
	if have >= monthIndexVersion {
		return nil
	}
	t0 := time.Now()
	var n uint64
	err := b.l.DB().Update(func(tx *bolt.Tx) error {
		for _, name := range monthBuckets {
			if err := tx.DeleteBucket(name); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := reindexMonths(tx, "", func() {
			if n++; n%200_000 == 0 {
				log.Info("indexing the books' entries by month", "entries", n)
			}
		}); err != nil {
			return err
		}
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, monthIndexVersion)
		return tx.Bucket(bucketMeta).Put(keyMonthIndexVersion, v)
	})
	if err != nil {
		return fmt.Errorf("index the books by month: %w", err)
	}
	if n > 0 {
		log.Info("indexed the books' entries by month", "entries", n, "took", time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// reindexMonths indexes by month every entry of the month types in the
// type index, of origin only when it is not "", in seq order within a
// type, calling each after each.
func reindexMonths(tx *bolt.Tx, origin string, each func()) error {
	byType := tx.Bucket(bucketByType)
	for _, t := range monthTypes {
		idx := byType.Bucket([]byte{byte(t)})
		if idx == nil {
			continue
		}
		c := idx.Cursor()
		for k, _ := c.Seek([]byte(origin)); k != nil && bytes.HasPrefix(k, []byte(origin)); k, _ = c.Next() {
			if len(k) < 9 || (origin != "" && len(k) != len(origin)+8) {
				continue
			}
			s, err := ledger.GetTx(tx, string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:]))
			if err != nil {
				return err
			}
			m, err := entries.Decode(s.Type, s.Payload)
			if err != nil || m == nil {
				continue
			}
			each()
			if err := indexMonth(tx, s, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// unindexMonths forgets origin's month indexes and makes them again from
// its entries left in the type index (after a chain restore removed some:
// a month's totals cannot be told apart by entry).
func unindexMonths(tx *bolt.Tx, origin string) error {
	prefix := []byte(origin + "/")
	for _, name := range monthBuckets {
		bk := tx.Bucket(name)
		if bk == nil {
			continue
		}
		var dead [][]byte
		c := bk.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			dead = append(dead, append([]byte(nil), k...))
		}
		for _, k := range dead {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
	}
	return reindexMonths(tx, origin, func() {})
}
