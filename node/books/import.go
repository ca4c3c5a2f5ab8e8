package books

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// An import is two passes over rows that are never all in memory at once.
// The first pass validates each row as it arrives (fields, rules, references
// against the committed books) and appends its encoded records (the
// transaction, the procedure it opens, its alerts) to a staging file under
// the data folder; a refused row only adds to the rejections. The second
// pass, only when no row was refused, streams the staging file into one
// ledger transaction (ledger.AppendStream): all rows are recorded together
// or none, also across a crash, because nothing but that one bbolt commit
// ever writes to the chain. A crash during the first pass leaves only a
// staging file, removed when the books open again.
//
// What the node holds is bounded by the limits: the first pass holds one
// row and at most MaxRejectionsListed rejections; the second what bbolt
// keeps for one transaction, about the encoded size of the import, which
// MaxBytes caps.

// Limits of one import, and how many rejections a reply lists.
const (
	// DefaultImportMaxRows: a year of a busy village's cash journal is a
	// few thousand rows; 100,000 leaves room for a town's whole history.
	DefaultImportMaxRows = 100_000
	// DefaultImportMaxBytes caps the encoded transactions of one import
	// (32 MiB), and so what the recording transaction holds in memory:
	// measured, the heap peaks at about four times the encoded rows while
	// they are sealed and committed, and half as much again with the
	// voucher each row books (TestImportBoundedMemory).
	DefaultImportMaxBytes = 32 << 20
	// MaxRejectionsListed: more rejections are counted, not listed; a
	// sheet with more problems than this is fixed from the first ones.
	MaxRejectionsListed = 1000
)

// ImportLimits bound one import; zero fields take the defaults.
type ImportLimits struct {
	MaxRows  int
	MaxBytes int64
}

func (l ImportLimits) withDefaults() ImportLimits {
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultImportMaxRows
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultImportMaxBytes
	}
	return l
}

// SetImportLimits sets the limits of later imports.
func (b *Books) SetImportLimits(l ImportLimits) { b.importLimits = l.withDefaults() }

// stagingDir is where imports stage their rows: beside the ledger file,
// so on the same disk as what they will be recorded into.
func (b *Books) stagingDir() string {
	return filepath.Join(filepath.Dir(b.l.DB().Path()), "import-staging")
}

// clearStaging removes what imports left when the node stopped in their
// middle: nothing of them was recorded, and nobody waits for them.
func (b *Books) clearStaging() error {
	if err := os.RemoveAll(b.stagingDir()); err != nil {
		return fmt.Errorf("clear import staging: %w", err)
	}
	return nil
}

// SpoolFile creates an empty file in the import staging folder (on the
// ledger's disk, cleared when the books open) for an uploaded sheet to be
// written to before it is read: the upload is never held in memory whole.
// The caller closes and removes it.
func (b *Books) SpoolFile() (*os.File, error) {
	if err := os.MkdirAll(b.stagingDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create import staging: %w", err)
	}
	f, err := os.CreateTemp(b.stagingDir(), "sheet-*")
	if err != nil {
		return nil, fmt.Errorf("create a file for the uploaded sheet: %w", err)
	}
	return f, nil
}

// ImportRow is one row of an imported sheet.
type ImportRow struct {
	Row         int
	Transaction *sanziv1.Transaction
}

// Rejection is why one imported row was refused.
type Rejection struct {
	Row    int
	Field  string
	Reason string
}

// ImportResult reports an import: rows recorded, or the rejections.
type ImportResult struct {
	Rows int
	// Recorded counts the transactions recorded (0 on a dry run or when a
	// row was refused), FirstID and LastID name the first and last.
	Recorded        int
	FirstID, LastID string
	// Rejections lists at most MaxRejectionsListed, RejectedTotal counts
	// them all.
	Rejections    []Rejection
	RejectedTotal int
}

// Import is one import under way; Add its rows, then Finish, and Close in
// every case.
type Import struct {
	b      *Books
	author string
	dryRun bool
	lim    ImportLimits

	f       *os.File
	w       *bufio.Writer
	enc     *gob.Encoder
	records int // records staged, for Record.About
	bytes   int64
	res     ImportResult
	// months holds monthKey(org, month) of every transaction staged: the
	// months whose voucher numbers Finish reads before the stream.
	months map[string]bool
}

// StartImport opens an import by author; with dryRun it only checks.
func (b *Books) StartImport(author string, dryRun bool) (*Import, error) {
	if err := os.MkdirAll(b.stagingDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create import staging: %w", err)
	}
	f, err := os.CreateTemp(b.stagingDir(), "import-*.gob")
	if err != nil {
		return nil, fmt.Errorf("create import staging file: %w", err)
	}
	w := bufio.NewWriter(f)
	return &Import{b: b, author: author, dryRun: dryRun, lim: b.importLimits.withDefaults(), f: f, w: w, enc: gob.NewEncoder(w), months: map[string]bool{}}, nil
}

// Close removes the staging file.
func (im *Import) Close() error {
	err := im.f.Close()
	if rerr := os.Remove(im.f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

func (im *Import) reject(row int, err error) {
	add := func(field, reason string) {
		im.res.RejectedTotal++
		if len(im.res.Rejections) < MaxRejectionsListed {
			im.res.Rejections = append(im.res.Rejections, Rejection{Row: row, Field: field, Reason: reason})
		}
	}
	var inv *InvalidError
	var conf *ConflictError
	var blocked *BlockedError
	switch {
	case errors.As(err, &inv):
		for _, v := range inv.Violations {
			add(v.Field, v.Reason)
		}
	case errors.As(err, &conf):
		add(conf.Field, conf.Reason)
	case errors.As(err, &blocked):
		for _, h := range blocked.Hits {
			add("transaction", "rule "+h.Code+": "+h.Reason)
		}
	default:
		add("", err.Error())
	}
}

// Add checks one row and stages it. A refused row is a rejection, not an
// error; an error (a limit passed, the disk) ends the import.
func (im *Import) Add(r ImportRow) error {
	im.res.Rows++
	if im.res.Rows > im.lim.MaxRows {
		return &InvalidError{Violations: []Violation{{Field: "rows", Reason: fmt.Sprintf(
			"an import takes at most %d rows; split the sheet", im.lim.MaxRows)}}}
	}
	im.bytes += int64(proto.Size(r.Transaction))
	if im.bytes > im.lim.MaxBytes {
		return &InvalidError{Violations: []Violation{{Field: "rows", Reason: fmt.Sprintf(
			"an import takes at most %d bytes of transactions, and the first %d rows are already %d bytes; split the sheet",
			im.lim.MaxBytes, im.res.Rows, im.bytes)}}}
	}
	b, t := im.b, r.Transaction
	if err := b.val.Transaction(im.author, t); err != nil {
		im.reject(r.Row, err)
		return nil
	}
	hits, err := b.screenTransaction(t)
	if err != nil {
		im.reject(r.Row, err)
		return nil
	}
	payload, err := proto.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode row %d: %w", r.Row, err)
	}
	rec := ledger.Record{Origin: t.GetOrg(), Author: im.author, Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload}
	if err := b.l.DB().View(func(tx *bolt.Tx) error { return (indexer{}).Check(tx, []ledger.Record{rec}) }); err != nil {
		im.reject(r.Row, err)
		return nil
	}
	if im.res.RejectedTotal > 0 || im.dryRun {
		return nil // nothing will be recorded: staging would be wasted
	}
	recs, err := b.entryRecords(rec, t, hits)
	if err != nil {
		return err
	}
	for _, rc := range recs {
		if rc.About > 0 {
			rc.About += im.records // About counts from the first record staged
		}
		if err := im.enc.Encode(&rc); err != nil {
			return fmt.Errorf("stage row %d: %w", r.Row, err)
		}
	}
	im.records += len(recs)
	im.months[string(monthKey(t.GetOrg(), voucher.Month(t.GetBusinessDate())))] = true
	return nil
}

// Finish records every staged row in one atomic append, or none when any
// row was refused or on a dry run.
//
// Each transaction books its voucher in the same append, as
// RecordTransaction does: the chart maps it, and the voucher follows it in
// the stream, naming the id it was just written under and numbered after
// its month's last voucher as read before the stream (a month closed
// then, or a transaction the chart maps to nothing, books none: its month
// lists it unbooked, as for a transaction recorded by hand). A voucher
// recorded meanwhile takes a number first: the stream's vouchers are
// numbered on from it as they are written (checkVoucher).
func (im *Import) Finish(ctx context.Context) (ImportResult, error) {
	if im.res.RejectedTotal > 0 || im.dryRun || im.records == 0 {
		return im.res, nil
	}
	if err := im.w.Flush(); err != nil {
		return ImportResult{}, fmt.Errorf("stage the import: %w", err)
	}
	ch, version, err := im.b.Chart()
	if err != nil {
		return ImportResult{}, err
	}
	if _, err := im.f.Seek(0, io.SeekStart); err != nil {
		return ImportResult{}, fmt.Errorf("read the staged import: %w", err)
	}
	src := &derivingRecords{staged: &stagedRecords{dec: gob.NewDecoder(bufio.NewReader(im.f))}, ch: ch, version: version,
		last: map[string]int32{}, closed: map[string]bool{}}
	if err := im.b.l.DB().View(func(tx *bolt.Tx) error {
		for k := range im.months {
			org, month, _ := strings.Cut(k, "/")
			src.last[k] = lastNumber(tx, org, month)
			src.closed[k] = closedBy(tx, org, month) != ""
		}
		return nil
	}); err != nil {
		return ImportResult{}, fmt.Errorf("voucher numbers of the import's months: %w", err)
	}
	var kept []*ledger.Stored
	res := im.res
	_, err = im.b.l.AppendStream(ctx, src, func(s *ledger.Stored) {
		src.written(s)
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_TRANSACTION {
			kept = append(kept, s) // alerts, procedures and vouchers, for the feed
			return
		}
		if res.Recorded == 0 {
			res.FirstID = s.ID()
		}
		res.LastID = s.ID()
		res.Recorded++
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("record the import: %w", err)
	}
	im.b.published(kept)
	if _, err := im.b.sup.Recorded(ctx, ""); err != nil {
		return res, fmt.Errorf("recorded %d rows, then supervise: %w", res.Recorded, err)
	}
	return res, nil
}

// derivingRecords streams the staged records with, after each
// transaction, the voucher it books. Record.About of a staged record
// counts staged records only; it is moved past the vouchers inserted
// before its transaction (every staged record's About names the
// transaction of its own row).
type derivingRecords struct {
	staged  *stagedRecords
	ch      *chart.Chart
	version string
	last    map[string]int32 // monthKey → last voucher number
	closed  map[string]bool  // monthKey → closed before the stream

	pending  *ledger.Record // the voucher of the transaction just written
	inserted int            // vouchers streamed so far
	shift    int            // vouchers streamed before the current row's transaction
}

func (d *derivingRecords) Next() (ledger.Record, error) {
	if d.pending != nil {
		r := *d.pending
		d.pending = nil
		d.inserted++
		return r, nil
	}
	r, err := d.staged.Next()
	if err != nil {
		return r, err
	}
	if r.Type == sanziv1.EntryType_ENTRY_TYPE_TRANSACTION {
		d.shift = d.inserted
	} else if r.About > 0 {
		r.About += d.shift
	}
	return r, nil
}

// written takes note of an entry the stream wrote: for a transaction, the
// voucher to stream next.
func (d *derivingRecords) written(s *ledger.Stored) {
	if s.Type != sanziv1.EntryType_ENTRY_TYPE_TRANSACTION {
		return
	}
	var t sanziv1.Transaction
	if proto.Unmarshal(s.Payload, &t) != nil {
		return
	}
	v, err := voucher.FromTransaction(d.ch, &t, s.ID())
	if err != nil || voucher.Validate(d.ch, v) != nil {
		return // books none: the month lists the transaction unbooked
	}
	k := string(monthKey(s.Origin, voucher.Month(v.GetBusinessDate())))
	if d.closed[k] {
		return
	}
	d.last[k]++
	v.Number, v.ChartVersion = d.last[k], d.version
	payload, err := proto.Marshal(v)
	if err != nil {
		return
	}
	d.pending = &ledger.Record{Origin: s.Origin, Author: voucherAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: payload, Subject: s.ID()}
}

// stagedRecords reads back what Add staged.
type stagedRecords struct{ dec *gob.Decoder }

func (s *stagedRecords) Next() (ledger.Record, error) {
	var r ledger.Record
	err := s.dec.Decode(&r)
	return r, err
}

// ImportTransactions imports rows held by the caller in one go: the same
// checks, staging and all-or-nothing recording as StartImport.
func (b *Books) ImportTransactions(ctx context.Context, author string, rows []ImportRow, dryRun bool) (ImportResult, error) {
	im, err := b.StartImport(author, dryRun)
	if err != nil {
		return ImportResult{}, err
	}
	defer im.Close()
	for _, r := range rows {
		if err := im.Add(r); err != nil {
			return ImportResult{}, err
		}
	}
	return im.Finish(ctx)
}
