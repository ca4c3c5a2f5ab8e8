package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rest"
	"github.com/sanzi/sanzi/node/sheet"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A sheet imported from the console (TransactionService.ImportSheet): the
// node reads the file itself, with the parser `sanzi import` uses, and
// imports its rows through books.Import, all or none, sending its progress
// as it goes. The upload is written to a file in the data folder first
// (never held whole), its size is the route's body limit, its rows are
// bounded, and its type is checked from its first bytes.

// Limits of an imported sheet.
const (
	// DefaultSheetMaxBytes: a year of a busy village's cash journal is a
	// few thousand rows, well under a megabyte; 8 MiB is a town's history.
	DefaultSheetMaxBytes = 8 << 20
	// DefaultSheetMaxRows: far beyond a village's year, and within what
	// books.Import takes at once.
	DefaultSheetMaxRows = 50_000
	// DefaultSheetImports: sheets imported at once by one node; each holds
	// its rows in memory while it is checked.
	DefaultSheetImports = 2
	// sheetUnzipFactor bounds what an XLSX may unpack to, as a multiple of
	// the byte limit: spreadsheet XML compresses about tenfold.
	sheetUnzipFactor = 32
)

// SheetLimits bound sheet imports; zero fields take the defaults.
type SheetLimits struct {
	MaxBytes   int64
	MaxRows    int
	Concurrent int
}

func (l SheetLimits) withDefaults() SheetLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultSheetMaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultSheetMaxRows
	}
	if l.Concurrent <= 0 {
		l.Concurrent = DefaultSheetImports
	}
	return l
}

// SetSheetLimits sets the limits of sheet imports (New sets the
// defaults); call before serving.
func (s *Service) SetSheetLimits(l SheetLimits) {
	s.sheetLim = l.withDefaults()
	s.sheetSlots = make(chan struct{}, s.sheetLim.Concurrent)
}

// ImportSheet implements TransactionService over gRPC: the content is in
// the request, bounded by the node's gRPC message size and then by the
// sheet limit.
func (s *Service) ImportSheet(r *sanziv1.ImportSheetRequest, stream grpc.ServerStreamingServer[sanziv1.ImportSheetResponse]) error {
	if lim := s.sheetLim.MaxBytes; int64(len(r.GetContent())) > lim {
		return sheetRefusal(rest.ReasonTooLarge, "content", fmt.Sprintf("the sheet is %d bytes, more than the limit of %d", len(r.GetContent()), lim))
	}
	return s.ImportSheetFrom(stream.Context(), r, bytes.NewReader(r.GetContent()), stream.Send)
}

// ImportSheetFrom is ImportSheet with the file read from body (the REST
// route streams the request body here) and each progress message given to
// send. r's author and org are the interceptor's: the signed-in account,
// and an org it covers.
func (s *Service) ImportSheetFrom(ctx context.Context, r *sanziv1.ImportSheetRequest, body io.Reader, send func(*sanziv1.ImportSheetResponse) error) error {
	lim := s.sheetLim
	select {
	case s.sheetSlots <- struct{}{}:
		defer func() { <-s.sheetSlots }()
	default:
		return withDetails(codes.ResourceExhausted, fmt.Sprintf("%d sheets are being imported on this node; try again in a moment", lim.Concurrent),
			&errdetails.RetryInfo{RetryDelay: durationpb.New(10 * time.Second)})
	}
	author, err := authz.Author(ctx)
	if err != nil {
		return toStatus(err)
	}
	org, err := authz.ScopeOrg(ctx, r.GetOrg())
	if err != nil {
		return toStatus(err)
	}
	covers, err := coverage(ctx)
	if err != nil {
		return err
	}
	format, err := sheetFormat(r)
	if err != nil {
		return err
	}

	// The upload to a file, then checked for its type by its first bytes.
	f, err := s.b.SpoolFile()
	if err != nil {
		return toStatus(err)
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	n, err := io.Copy(f, io.LimitReader(body, lim.MaxBytes+1))
	if err != nil {
		return toStatus(fmt.Errorf("receive the sheet: %w", err))
	}
	if n > lim.MaxBytes {
		return sheetRefusal(rest.ReasonTooLarge, "content", fmt.Sprintf("the sheet is more than the limit of %d bytes", lim.MaxBytes))
	}
	if n == 0 {
		return invalidField("content", "the sheet is empty")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return toStatus(err)
	}
	head := make([]byte, 4096)
	hn, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return toStatus(fmt.Errorf("read the sheet back: %w", err))
	}
	if err := sniffSheet(format, head[:hn]); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return toStatus(err)
	}
	opt := sheet.Options{Org: org, MaxRows: lim.MaxRows, MaxUnzipped: lim.MaxBytes * sheetUnzipFactor}
	read := sheet.ReadCSV
	if format == sanziv1.SheetFormat_SHEET_FORMAT_XLSX {
		read = sheet.ReadXLSX
	}
	rows, problems, err := read(bufio.NewReader(f), opt)
	switch {
	case errors.Is(err, sheet.ErrTooManyRows):
		return sheetRefusal(rest.ReasonTooLarge, "content", err.Error())
	case err != nil:
		return invalidField("content", err.Error())
	}
	return s.importRows(ctx, author, r.GetDryRun(), rows, problems, covers, send)
}

// importRows checks and records rows read from a sheet, sending progress:
// READ with the count, CHECK every hundredth of the rows, RECORD before
// the one commit, DONE with the result. Cells the sheet could not read and
// rows of an org the account does not cover are rejections like the
// node's own; with any, the rows are checked but none recorded.
func (s *Service) importRows(ctx context.Context, author string, dryRun bool, rows []sheet.Row, problems []sheet.Problem, covers func(string) bool, send func(*sanziv1.ImportSheetResponse) error) error {
	var early []books.Rejection
	for _, p := range problems {
		early = append(early, books.Rejection{Row: p.Line, Field: p.Column, Reason: p.Reason})
	}
	lines := map[int]bool{}
	for _, p := range problems {
		lines[p.Line] = true
	}
	for _, r := range rows {
		if o := r.Transaction.GetOrg(); !covers(o) {
			early = append(early, books.Rejection{Row: r.Line, Field: "transaction.org", Reason: fmt.Sprintf("org %s is not in the scope of the signed-in account", o)})
		}
	}
	total := len(rows) + len(lines)
	progress := &sanziv1.ImportSheetResponse{Phase: sanziv1.ImportPhase_IMPORT_PHASE_READ, RowsTotal: int32(total), RowsChecked: int32(len(lines))}
	if err := send(progress); err != nil {
		return err
	}
	im, err := s.b.StartImport(author, dryRun || len(early) > 0)
	if err != nil {
		return toStatus(err)
	}
	defer im.Close()
	step := max(len(rows)/100, 1)
	for i, r := range rows {
		if err := ctx.Err(); err != nil {
			return toStatus(err)
		}
		if !covers(r.Transaction.GetOrg()) {
			continue // rejected above; never checked against the books
		}
		if err := im.Add(books.ImportRow{Row: r.Line, Transaction: r.Transaction}); err != nil {
			return toStatus(err)
		}
		if (i+1)%step == 0 && i+1 < len(rows) {
			progress.Phase, progress.RowsChecked = sanziv1.ImportPhase_IMPORT_PHASE_CHECK, int32(len(lines)+i+1)
			if err := send(progress); err != nil {
				return err
			}
		}
	}
	progress.Phase, progress.RowsChecked = sanziv1.ImportPhase_IMPORT_PHASE_CHECK, int32(total)
	if !dryRun && len(early) == 0 {
		progress.Phase = sanziv1.ImportPhase_IMPORT_PHASE_RECORD
	}
	if err := send(progress); err != nil {
		return err
	}
	res, err := im.Finish(ctx)
	if err != nil {
		return toStatus(err)
	}
	all := append(early, res.Rejections...)
	slices.SortStableFunc(all, func(a, b books.Rejection) int { return a.Row - b.Row })
	out := &sanziv1.ImportTransactionsResponse{RowsReceived: int32(total), RowsRecorded: int32(res.Recorded),
		FirstId: res.FirstID, LastId: res.LastID, RejectedTotal: int32(len(early) + res.RejectedTotal)}
	for _, r := range all[:min(len(all), books.MaxRejectionsListed)] {
		out.Rejections = append(out.Rejections, &sanziv1.ImportRejection{Row: int32(r.Row), Field: r.Field, Reason: r.Reason})
	}
	progress.Phase, progress.Result = sanziv1.ImportPhase_IMPORT_PHASE_DONE, out
	return send(progress)
}

// sheetFormat is the request's format, else its file name's extension's.
func sheetFormat(r *sanziv1.ImportSheetRequest) (sanziv1.SheetFormat, error) {
	if f := r.GetFormat(); f != sanziv1.SheetFormat_SHEET_FORMAT_UNSPECIFIED {
		if _, ok := sanziv1.SheetFormat_name[int32(f)]; !ok {
			return 0, sheetRefusal(rest.ReasonUnsupportedMediaType, "format", fmt.Sprintf("format %d is not a sheet format this node reads (CSV, XLSX)", f))
		}
		return f, nil
	}
	switch strings.ToLower(filepath.Ext(r.GetFileName())) {
	case ".csv":
		return sanziv1.SheetFormat_SHEET_FORMAT_CSV, nil
	case ".xlsx":
		return sanziv1.SheetFormat_SHEET_FORMAT_XLSX, nil
	}
	return 0, sheetRefusal(rest.ReasonUnsupportedMediaType, "fileName",
		fmt.Sprintf("%q is not a .csv or .xlsx file; save the sheet as CSV or as an Excel workbook (.xlsx)", r.GetFileName()))
}

// zipMagic opens every XLSX (a zip archive).
var zipMagic = []byte("PK\x03\x04")

// sniffSheet checks the first bytes of the file against its format: an
// XLSX is a zip archive; a CSV is text (no NUL byte, not a zip, not the
// old binary .xls Excel also saves).
func sniffSheet(format sanziv1.SheetFormat, head []byte) error {
	isZip := bytes.HasPrefix(head, zipMagic)
	switch {
	case format == sanziv1.SheetFormat_SHEET_FORMAT_XLSX && !isZip:
		return sheetRefusal(rest.ReasonUnsupportedMediaType, "content", "the file is not an Excel workbook (.xlsx): it is not a zip archive")
	case format == sanziv1.SheetFormat_SHEET_FORMAT_CSV && (isZip || bytes.IndexByte(head, 0) >= 0):
		return sheetRefusal(rest.ReasonUnsupportedMediaType, "content", "the file is not CSV text; save the sheet as CSV (comma separated) or upload the .xlsx")
	}
	return nil
}

// sheetRefusal is an InvalidArgument naming field, whose ErrorInfo gives
// REST its status (415 or 413).
func sheetRefusal(reason, field, msg string) error {
	st, err := status.New(codes.InvalidArgument, field+": "+msg).WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}},
		&errdetails.ErrorInfo{Domain: rest.ErrorDomain, Reason: reason})
	if err != nil {
		return status.Error(codes.InvalidArgument, field+": "+msg)
	}
	return st.Err()
}
