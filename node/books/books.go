// Package books is the village node's view of its collective's books: it
// validates what accountants record, turns it into ledger records, keeps the
// indexes that lists and cross-references need (by type, reversals,
// contract payments, asset history, asset codes, attachment locks) inside the
// ledger's own write transactions, and answers the queries of the API.
//
// The accounting books (issue 19) are vouchers.go, bookimport.go and the
// packages they use; the design decisions are where they are enforced:
//   - the chart of accounts is data in the district's catalog (field
//     chart, node/chart: the national chart, sub-accounts a district adds,
//     the mappings from a record to its voucher), versioned and four-eyed
//     with it; a catalog without one means the national chart;
//   - a transaction, contract payment or reversal books its voucher in the
//     same append as the record (withDerivedVoucher), so the two are never
//     apart; a record the chart maps to nothing, or dated in a closed month,
//     is still recorded, and its month cannot close until a hand voucher
//     names it;
//   - numbers, closed months and the opening balances are checked inside
//     the ledger's write transaction (checkVoucher, checkMonthEntry);
//     what blocks a close is listed by month(), and reopening needs a
//     BOOKS-REOPEN procedure the town approved (node/supervise);
//   - corrections are red-ink vouchers mirroring the original (voucher.
//     Reverse, mirrors); an imported sheet's all-negative voucher is taken
//     as the source system's red-ink correction (voucher.ValidateImported);
//   - statements are made from the vouchers by node/statement, whose
//     totals.go defines every figure; the district computes the same
//     figures in ClickHouse (analytics/stats/books.go).
package books

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ErrNotFound: no entry of the asked kind with that id.
var ErrNotFound = errors.New("books: not found")

// ErrPermissionDenied: the node does not take this decision from its own
// callers (a town's step at a village comes only in the town's chain).
var ErrPermissionDenied = errors.New("books: permission denied")

var (
	bucketByType      = []byte("idx_type")     // type byte → key(entry) → nil
	bucketReversed    = []byte("idx_reversed") // key(target) → reversal id
	bucketLinks       = []byte("idx_links")    // key(parent)+key(child) → type byte + amount
	bucketDisposed    = []byte("idx_disposed") // key(asset) → disposal id
	bucketAssetCodes  = []byte("idx_asset_codes")
	bucketAlertStatus = []byte("idx_alert_status") // key(alert) → status byte
)

// Books is the domain layer over one ledger and attachment store.
type Books struct {
	l     *ledger.Ledger
	att   *attach.Store
	val   *Validator
	rules atomic.Pointer[rules.Engine]
	feed  alertFeed
	sup   Supervisor

	importLimits ImportLimits
	// chartSrc is the chart of accounts in force (SetChart).
	chartSrc ChartSource
	// chart is the chart last built from chartSrc (Chart).
	chart atomic.Pointer[builtChart]
}

// BlockedError refuses an entry because a supervision rule whose action is
// block fired on it; the API maps it to FailedPrecondition with each rule's
// code and reason.
type BlockedError struct {
	Hits []rules.Hit
}

func (e *BlockedError) Error() string {
	parts := make([]string, len(e.Hits))
	for i, h := range e.Hits {
		parts[i] = h.Code + ": " + h.Reason
	}
	return "blocked by rule " + strings.Join(parts, "; ")
}

// SetRules makes the books check every transaction, contract and disposal
// against the engine's rules as it is recorded (nil turns the check off).
func (b *Books) SetRules(e *rules.Engine) { b.rules.Store(e) }

// Rules is the rule engine in force, nil when rules are off.
func (b *Books) Rules() *rules.Engine { return b.rules.Load() }

// screen runs check when rules are set, and the supervisor's list rules
// (RELATIVE, OUTSIDER) on m: a blocking hit refuses the entry, the other
// hits are returned to be shown.
func (b *Books) screen(m proto.Message, check func(*rules.Engine) ([]rules.Hit, error)) ([]rules.Hit, error) {
	e := b.rules.Load()
	if e == nil {
		return nil, nil
	}
	hits, err := check(e)
	if err != nil {
		return nil, fmt.Errorf("check rules: %w", err)
	}
	hits = append(hits, b.sup.CheckLists(m)...)
	if blocking := rules.Blocking(hits); len(blocking) > 0 {
		return nil, &BlockedError{Hits: blocking}
	}
	return hits, nil
}

// Indexer returns the ledger.Indexer that keeps the books' indexes. The
// ledger needs it at open, before Books exists, so it is separate.
func Indexer() ledger.Indexer { return indexer{} }

// New wires books to an open ledger (opened with Indexer()) and store.
func New(l *ledger.Ledger, att *attach.Store, val *Validator) (*Books, error) {
	err := l.DB().Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{bucketByType, bucketReversed, bucketLinks, bucketDisposed, bucketAssetCodes, bucketAlertStatus, bucketFacet, bucketCount, bucketMeta, bucketAlertDay, bucketAlertDayCount, bucketAlertDayMark}, append(voucherBuckets, monthBuckets...)...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create index buckets: %w", err)
	}
	b := &Books{l: l, att: att, val: val, sup: unsupervised{}, importLimits: ImportLimits{}.withDefaults()}
	if err := b.buildFacets(slog.Default()); err != nil {
		return nil, err
	}
	if err := b.buildMonthIndexes(slog.Default()); err != nil {
		return nil, err
	}
	if err := b.clearStaging(); err != nil {
		return nil, err
	}
	return b, nil
}

// Ledger is the ledger under the books.
func (b *Books) Ledger() *ledger.Ledger { return b.l }

// Attachments is the attachment store.
func (b *Books) Attachments() *attach.Store { return b.att }

// Validator is the request validator.
func (b *Books) Validator() *Validator { return b.val }

func key(origin string, seq uint64) []byte { return ledger.EntryKey(origin, seq) }

// EntryKey is the index key of the entry id names: origin then seq, so
// that keys sort in (origin, seq) order. A page token is its hex.
func EntryKey(id string) ([]byte, error) { return keyOf(id) }

func keyOf(id string) ([]byte, error) {
	o, s, err := ledger.ParseEntryID(id)
	if err != nil {
		return nil, err
	}
	return key(o, s), nil
}

func idOfKey(k []byte) string {
	if len(k) < 9 {
		return ""
	}
	return ledger.EntryID(string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:]))
}

// record validates nothing: callers validate first, then record. Each
// warning in hits becomes an alert entry about the recorded one, and a
// procedure it opens (workflow) a procedure entry about it, in the same
// atomic append, so an entry is never stored without them. It returns the
// hits of the stateful rules found once the entry is committed.
func (b *Books) record(ctx context.Context, author, origin string, t sanziv1.EntryType, m proto.Message, hits ...rules.Hit) (*ledger.Stored, []rules.Hit, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", t, err)
	}
	recs, err := b.entryRecords(ledger.Record{Origin: origin, Author: author, Type: t, Payload: payload}, m, hits)
	if err != nil {
		return nil, nil, err
	}
	// A transaction, contract payment, asset appraisal or disposal is
	// appended with the voucher that books it (withDerivedVoucher), which
	// the append numbers and points at it as the chain stands then.
	recs, err = b.withDerivedVoucher(recs, m)
	if err != nil {
		return nil, nil, err
	}
	out, err := b.appendPublished(ctx, recs...)
	if err != nil {
		return nil, nil, err
	}
	later, err := b.sup.Recorded(ctx, out[0].ID())
	if err != nil {
		return out[0], nil, fmt.Errorf("recorded %s, then supervise: %w", out[0].ID(), err)
	}
	return out[0], later, nil
}

// entryRecords is rec, the entry of m, followed by the procedure m opens
// (workflow) and an alert about rec for each hit: what is appended together.
func (b *Books) entryRecords(rec ledger.Record, m proto.Message, hits []rules.Hit) ([]ledger.Record, error) {
	recs := []ledger.Record{rec}
	amount, summary := procedureFigures(m)
	proc, err := b.procedureFor(rec.Author, rec.Origin, m, amount, summary)
	if err != nil {
		return nil, err
	}
	if proc != nil {
		recs = append(recs, *proc)
	}
	return appendAlerts(recs, 1, hits)
}

// procedureFigures are the amount and summary a procedure opened by m shows.
func procedureFigures(m proto.Message) (int64, string) {
	switch m := m.(type) {
	case *sanziv1.Transaction:
		return m.GetAmountFen(), m.GetSummary()
	case *sanziv1.Contract:
		return m.GetAnnualAmountFen(), m.GetContractNumber() + " " + m.GetSummary()
	case *sanziv1.AssetDisposal:
		return m.GetPriceFen(), "处置资产 " + m.GetAssetId()
	}
	return 0, ""
}

// appendAlerts adds an alert record for each hit, about the about-th record
// of recs (1-based: the entry that raised them).
func appendAlerts(recs []ledger.Record, about int, hits []rules.Hit) ([]ledger.Record, error) {
	origin := recs[about-1].Origin
	for _, h := range hits {
		a, err := proto.Marshal(alertOf(origin, h))
		if err != nil {
			return nil, fmt.Errorf("encode alert %s: %w", h.Code, err)
		}
		recs = append(recs, ledger.Record{Origin: origin, Author: alertAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_ALERT, Payload: a, About: about})
	}
	return recs, nil
}

// alertAuthor is who records alerts: the rules, not a person.
const alertAuthor = "rules"

// RecordTransaction validates a transaction, checks it against the rules
// and records it; it returns the rules that warned.
func (b *Books) RecordTransaction(ctx context.Context, author string, t *sanziv1.Transaction) (*ledger.Stored, []rules.Hit, error) {
	hits, err := b.CheckTransaction(author, t)
	if err != nil {
		return nil, nil, err
	}
	s, later, err := b.record(ctx, author, t.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, t, hits...)
	return s, append(hits, later...), err
}

// CheckTransaction is RecordTransaction's dry run (validate_only): the
// same validation and rules, the same refusals, and nothing recorded. The
// hits of rules that look at the chain after a commit (the supervisor's
// Recorded) are not among those it returns.
func (b *Books) CheckTransaction(author string, t *sanziv1.Transaction) ([]rules.Hit, error) {
	if err := b.val.Transaction(author, t); err != nil {
		return nil, err
	}
	return b.screenTransaction(t)
}

// CheckContract is RecordContract's dry run: validated and screened,
// nothing recorded.
func (b *Books) CheckContract(author string, c *sanziv1.Contract) ([]rules.Hit, error) {
	if err := b.val.Contract(author, c); err != nil {
		return nil, err
	}
	return b.screen(c, func(e *rules.Engine) ([]rules.Hit, error) { return e.CheckContract(c) })
}

// RecordContract validates a contract, checks it against the rules and
// records it; it returns the rules that warned.
func (b *Books) RecordContract(ctx context.Context, author string, c *sanziv1.Contract) (*ledger.Stored, []rules.Hit, error) {
	hits, err := b.CheckContract(author, c)
	if err != nil {
		return nil, nil, err
	}
	s, later, err := b.record(ctx, author, c.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_CONTRACT, c, hits...)
	return s, append(hits, later...), err
}

// RecordContractPayment validates and records a contract payment.
func (b *Books) RecordContractPayment(ctx context.Context, author string, p *sanziv1.ContractPayment) (*ledger.Stored, error) {
	if err := b.val.ContractPayment(author, p); err != nil {
		return nil, err
	}
	st, _, err := b.record(ctx, author, p.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, p)
	return st, err
}

// RegisterAsset validates and records an asset registration.
func (b *Books) RegisterAsset(ctx context.Context, author string, a *sanziv1.AssetRegistration) (*ledger.Stored, error) {
	if err := b.val.AssetRegistration(author, a); err != nil {
		return nil, err
	}
	st, _, err := b.record(ctx, author, a.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, a)
	return st, err
}

// AppraiseAsset validates and records an appraisal.
func (b *Books) AppraiseAsset(ctx context.Context, author string, a *sanziv1.AssetAppraisal) (*ledger.Stored, error) {
	if err := b.val.AssetAppraisal(author, a); err != nil {
		return nil, err
	}
	st, _, err := b.record(ctx, author, a.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, a)
	return st, err
}

// DisposeAsset validates a disposal, checks it against the rules with the
// asset's latest appraisal, and records it; it returns the rules that warned.
func (b *Books) DisposeAsset(ctx context.Context, author string, d *sanziv1.AssetDisposal) (*ledger.Stored, []rules.Hit, error) {
	hits, err := b.CheckAssetDisposal(author, d)
	if err != nil {
		return nil, nil, err
	}
	s, later, err := b.record(ctx, author, d.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, d, hits...)
	return s, append(hits, later...), err
}

// CheckAssetDisposal validates a disposal and checks it against the rules
// with the asset's latest appraisal, recording nothing: DisposeAsset's first
// half and its dry run (validate_only).
func (b *Books) CheckAssetDisposal(author string, d *sanziv1.AssetDisposal) ([]rules.Hit, error) {
	if err := b.val.AssetDisposal(author, d); err != nil {
		return nil, err
	}
	var appraised int64
	if b.rules.Load() != nil {
		a, err := b.GetAsset(d.GetAssetId())
		if errors.Is(err, ErrNotFound) {
			return nil, &InvalidError{Violations: []Violation{{Field: "disposal.assetId", Reason: fmt.Sprintf("no asset %s on this node", d.GetAssetId())}}}
		}
		if err != nil {
			return nil, err
		}
		appraised = a.GetAppraisedValueFen()
	}
	return b.screen(d, func(e *rules.Engine) ([]rules.Hit, error) { return e.CheckAssetDisposal(d, appraised) })
}

// RecordReversal validates and records a reversal.
func (b *Books) RecordReversal(ctx context.Context, author string, r *sanziv1.Reversal) (*ledger.Stored, error) {
	if err := b.val.Reversal(author, r); err != nil {
		return nil, err
	}
	st, _, err := b.record(ctx, author, r.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_REVERSAL, r)
	return st, err
}

// UpdateAlertStatus records one step of the review of one of the node's own
// alerts; a step the review does not allow from the alert's current status
// is a ConflictError. (A town's review of a village's alert is the town's
// decision: node/supervise.)
func (b *Books) UpdateAlertStatus(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error) {
	if err := b.val.AlertTransition(author, tr); err != nil {
		return nil, err
	}
	st, _, err := b.record(ctx, author, tr.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr)
	return st, err
}

// Page is a position in a list: the index key after which to continue.
type Page struct {
	Size  int
	Token string
}

// Bounds is the page's size (100 by default, at most 1000) and the index
// key its token names (nil on the first page).
func (p Page) Bounds() (int, []byte, error) { return p.bounds() }

func (p Page) bounds() (int, []byte, error) {
	size := p.Size
	if size <= 0 {
		size = 100
	}
	if size > 1000 {
		size = 1000
	}
	if p.Token == "" {
		return size, nil, nil
	}
	k, err := hex.DecodeString(p.Token)
	if err != nil || len(k) < 9 {
		return 0, nil, &InvalidError{Violations: []Violation{{Field: "pageToken", Reason: "not a token from an earlier page"}}}
	}
	return size, k, nil
}

// scan is how one list walks: the index (the type's, or one of its
// facets), the org, what else an entry must match, and where its total
// comes from.
type scan struct {
	t sanziv1.EntryType
	// facet, when set, walks that facet's index (idx_facet) instead of
	// the type's.
	facet []byte
	// org, when set, walks only that origin's range of keys: a page of a
	// village with a million entries costs its size, not the village's.
	org string
	// matchKey, when set, keeps the keys of the range it accepts, from
	// the key alone (another facet's index), before any entry is read.
	matchKey func(tx *bolt.Tx, k []byte) bool
	// matchRow, when set, keeps the keys whose value in the index walked
	// it accepts (a transaction's row), before any entry is read.
	matchRow func(v []byte) bool
	// match, when set, reads each entry of the range and keeps those it
	// accepts; without it every key of the range is a match, and only
	// the page's entries are read.
	match func(tx *bolt.Tx, s *ledger.Stored) (bool, error)
	// total, when set, is the number of matches in all (the counters of
	// idx_count); without it the walk goes to the end of the range and
	// counts them (a filter no counter holds).
	total func(tx *bolt.Tx) int64
}

// walk returns one page of sc's matches in (origin, seq) order, built by
// build, the token of the next page (empty on the last) and the number of
// matches in all pages.
func (b *Books) walk(sc scan, p Page, build func(tx *bolt.Tx, s *ledger.Stored) error) (next string, total int64, err error) {
	size, after, err := p.bounds()
	if err != nil {
		return "", 0, err
	}
	var lastKey []byte
	n := 0
	more := false
	err = b.l.DB().View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketByType).Bucket([]byte{byte(sc.t)})
		if sc.facet != nil {
			idx = facetBucket(tx, sc.facet)
		}
		if sc.total != nil {
			total = sc.total(tx)
		}
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		// A later page starts after the token's key when the total comes
		// from the counters; without them the walk counts the earlier
		// pages' matches too, so it starts at the org and skips them.
		k, v := c.Seek([]byte(sc.org))
		if after != nil && sc.total != nil && bytes.Compare(after, k) >= 0 {
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if sc.org != "" && !bytes.HasPrefix(k, []byte(sc.org)) {
				break
			}
			if len(k) < 9 || (sc.org != "" && len(k) != len(sc.org)+8) {
				continue
			}
			if sc.matchKey != nil && !sc.matchKey(tx, k) {
				continue
			}
			if sc.matchRow != nil && !sc.matchRow(v) {
				continue
			}
			origin, seq := string(k[:len(k)-8]), binary.BigEndian.Uint64(k[len(k)-8:])
			var s *ledger.Stored
			if sc.match != nil {
				if s, err = ledger.GetTx(tx, origin, seq); err != nil {
					return err
				}
				ok, err := sc.match(tx, s)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			if sc.total == nil {
				total++
			}
			if after != nil && bytes.Compare(k, after) <= 0 {
				continue
			}
			if n == size {
				more = true
				if sc.total != nil {
					break
				}
				continue
			}
			if s == nil {
				if s, err = ledger.GetTx(tx, origin, seq); err != nil {
					return err
				}
			}
			if err := build(tx, s); err != nil {
				return err
			}
			n++
			lastKey = append(lastKey[:0], k...)
		}
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("list %s: %w", sc.t, err)
	}
	if more {
		next = hex.EncodeToString(lastKey)
	}
	return next, total, nil
}
