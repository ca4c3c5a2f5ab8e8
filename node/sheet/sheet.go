// Package sheet reads the spreadsheets village accountants already keep
// (CSV or XLSX, Chinese or English headers, UTF-8 or GBK): fund-transaction
// sheets into Transaction messages, so `sanzi import` can send them to the
// node without anyone retyping them, and the books their bookkeeping
// software exports (opening balances and vouchers, one row per line) into
// Voucher messages, for BooksService.ImportBooks. A cell that cannot be
// read becomes a Problem naming its line and column so the sheet can be
// fixed. Transaction rows are only parsed, their business rules left to
// the node's validation; vouchers are also judged as wholes against the
// chart of accounts (balanced, leaf accounts, subsidiary detail), since a
// voucher's rows can only be checked together and the accountant needs
// every bad row of the file listed at once.
package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Row is one data row of a sheet turned into a transaction; Line lets the
// import report point back at the row the accountant has to look at.
type Row struct {
	// Line is the 1-based line (CSV) or row (XLSX) number in the source file,
	// counting the header and anything above it, so a sheet whose header is
	// its first line has its first data row at line 2. A quoted multi-line CSV
	// cell counts all its lines.
	Line        int
	Transaction *sanziv1.Transaction
}

// Problem is a cell that could not be read, reported so the accountant can fix
// the sheet before anything is sent to the node.
type Problem struct {
	Line   int
	Column string // the header text as written in the file
	Reason string
}

// Options carries what a sheet usually leaves out, and the limits of
// reading one on a server.
type Options struct {
	// Org is the 12-digit org code used when the sheet has no org column or
	// the cell is empty; most village sheets keep one collective's books.
	Org string
	// MaxRows, when > 0, is the most data rows taken: a sheet with more is
	// refused with ErrTooManyRows, and reading stops soon after the limit
	// instead of holding the rest.
	MaxRows int
	// MaxUnzipped, when > 0, bounds what an XLSX may unpack to (its parts'
	// uncompressed size), so that a small file cannot expand without end
	// (a zip bomb); 0 leaves excelize's default.
	MaxUnzipped int64
	// MaxBytes, when > 0, is the largest file read: a longer one is refused
	// with ErrTooLarge after reading one byte past it.
	MaxBytes int64
}

// ErrTooLarge is a file longer than Options.MaxBytes.
var ErrTooLarge = errors.New("sheet: file too large")

// ErrTooManyRows is a sheet with more data rows than Options.MaxRows.
var ErrTooManyRows = errors.New("sheet: too many rows")

// tooMany is the refusal of a sheet past opt.MaxRows.
func (opt Options) tooMany() error {
	return fmt.Errorf("%w: more than %d data rows; split the sheet", ErrTooManyRows, opt.MaxRows)
}

// readCap says whether a reader that has seen n non-blank rows may stop:
// past the data rows allowed, the header and the title lines above it.
func (opt Options) readCap(n int) bool {
	return opt.MaxRows > 0 && n > opt.MaxRows+maxTitleRows
}

// aliases maps each field, by its English name, to the header names that
// mean it (compared after norm). income and expense are the amount columns of
// a 现金日记账, used instead of kind + amount.
var aliases = map[string][]string{
	"org":            {"org", "组织代码", "单位代码"},
	"date":           {"date", "business_date", "日期", "记账日期", "业务日期"},
	"kind":           {"kind", "type", "类型", "收支", "收支类型"},
	"amount":         {"amount", "amount_yuan", "金额", "金额(元)", "金额（元）"},
	"income":         {"收入", "收入金额"},
	"expense":        {"支出", "支出金额"},
	"method":         {"method", "payment_method", "支付方式", "结算方式"},
	"counterparty":   {"counterparty", "对方", "对方单位", "往来单位", "收款人", "付款人"},
	"id_number":      {"id_number", "证件号", "身份证号", "统一社会信用代码"},
	"bank_account":   {"bank_account", "银行账号", "账号"},
	"summary":        {"summary", "摘要"},
	"voucher":        {"voucher", "voucher_number", "凭证号"},
	"invoice_code":   {"invoice_code", "发票代码"},
	"invoice_number": {"invoice_number", "发票号码"},
	"budget_line":    {"budget_line", "预算科目"},
	"category":       {"category", "科目"},
	"attachments":    {"attachments", "附件"},
}

var byHeader = headerIndex(aliases)

// headerIndex maps each normalised header name to its field.
func headerIndex(aliases map[string][]string) map[string]string {
	m := map[string]string{}
	for f, names := range aliases {
		for _, n := range names {
			m[norm(n)] = f
		}
	}
	return m
}

// norm folds case and drops all white space, so "摘  要" (spaced out to line
// up in Chinese forms) and " Date " both match.
func norm(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
}

type choice[T any] struct {
	v     T
	names []string // names[0] is what WriteXLSX writes
}

var kinds = []choice[sanziv1.TransactionKind]{
	{sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, []string{"收入", "income"}},
	{sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, []string{"支出", "expense"}},
	{sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, []string{"转账", "划转", "transfer"}},
	{sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, []string{"借出", "loan_out"}},
	{sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN, []string{"借入", "loan_in"}},
}

var methods = []choice[sanziv1.PaymentMethod]{
	{sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, []string{"现金", "cash"}},
	{sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, []string{"银行转账", "转账支付", "银行", "bank", "bank_transfer"}},
	{sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD, []string{"村务卡", "公务卡", "card", "village_card"}},
	{sanziv1.PaymentMethod_PAYMENT_METHOD_OTHER, []string{"其他", "other"}},
}

func pick[T any](s string, cs []choice[T]) (T, error) {
	var all []string
	for _, c := range cs {
		for _, n := range c.names {
			if norm(s) == n {
				return c.v, nil
			}
			all = append(all, n)
		}
	}
	var zero T
	if s == "" {
		return zero, fmt.Errorf("empty; accepted: %s", strings.Join(all, ", "))
	}
	return zero, fmt.Errorf("unknown value %q; accepted: %s", s, strings.Join(all, ", "))
}

func label[T comparable](v T, cs []choice[T]) string {
	for _, c := range cs {
		if c.v == v {
			return c.names[0]
		}
	}
	return ""
}

type rawRow struct {
	line  int
	cells []string
}

func blank(cells []string) bool { return strings.TrimSpace(strings.Join(cells, "")) == "" }

// ReadCSV reads a CSV sheet. The header is the first line naming a date and
// a summary column, looked for among the first ten non-blank lines so a title
// line above it is fine. It accepts UTF-8 with or without the BOM Excel
// writes, and also GBK/GB18030, which is what Excel's plain "CSV" saves on
// Chinese Windows. The error is only for an unreadable file or missing
// required headers; cell-level trouble is returned as Problems.
func ReadCSV(r io.Reader, opt Options) ([]Row, []Problem, error) {
	data, err := opt.readAll(r)
	if err != nil {
		return nil, nil, err
	}
	rows, err := csvRows(data, opt)
	if err != nil {
		return nil, nil, err
	}
	return parse(rows, opt, source{})
}

// ReadXLSX reads the first sheet of an XLSX workbook, finding the header as
// ReadCSV does. Dates may be real date cells (Excel serial numbers, 1900 or
// 1904 system) or text; numeric amount cells are taken to the fen. Errors and
// Problems are as for ReadCSV.
func ReadXLSX(r io.Reader, opt Options) ([]Row, []Problem, error) {
	data, err := opt.readAll(r)
	if err != nil {
		return nil, nil, err
	}
	rows, src, err := xlsxRows(data, opt)
	if err != nil {
		return nil, nil, err
	}
	return parse(rows, opt, src)
}

// readAll reads the whole file, refusing one past opt.MaxBytes.
func (opt Options) readAll(r io.Reader) ([]byte, error) {
	if opt.MaxBytes > 0 {
		r = io.LimitReader(r, opt.MaxBytes+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("sheet: read: %w", err)
	}
	if opt.MaxBytes > 0 && int64(len(data)) > opt.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes; split the sheet", ErrTooLarge, opt.MaxBytes)
	}
	return data, nil
}

// csvRows decodes a CSV file (UTF-8 with or without BOM, else GBK/GB18030)
// into its rows, numbered by the line each starts on.
func csvRows(data []byte, opt Options) ([]rawRow, error) {
	if !utf8.Valid(data) {
		var err error
		if data, err = simplifiedchinese.GB18030.NewDecoder().Bytes(data); err != nil {
			return nil, fmt.Errorf("sheet: csv is neither UTF-8 nor GBK: %w", err)
		}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var rows []rawRow
	filled := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sheet: csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, rawRow{line, rec})
		if !blank(rec) {
			if filled++; opt.readCap(filled) {
				return nil, opt.tooMany()
			}
		}
	}
	return rows, nil
}

// xlsxRows reads the rows of an XLSX workbook's first sheet with their raw
// cell values (dates as serial numbers, amounts as stored).
func xlsxRows(data []byte, opt Options) ([]rawRow, source, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: opt.MaxUnzipped, UnzipXMLSizeLimit: min(opt.MaxUnzipped, excelize.StreamChunkSize)})
	if err != nil {
		return nil, source{}, fmt.Errorf("sheet: open xlsx: %w", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, source{}, errors.New("sheet: xlsx has no sheets")
	}
	props, _ := f.GetWorkbookProps() // only for Date1904; GetRows reports a broken workbook
	// Row by row rather than GetRows, so that reading stops at the limit.
	it, err := f.Rows(sheets[0])
	if err != nil {
		return nil, source{}, fmt.Errorf("sheet: xlsx sheet %q: %w", sheets[0], err)
	}
	defer it.Close()
	var rows []rawRow
	filled := 0
	for line := 1; it.Next(); line++ {
		cells, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, source{}, fmt.Errorf("sheet: xlsx sheet %q row %d: %w", sheets[0], line, err)
		}
		rows = append(rows, rawRow{line, cells})
		if !blank(cells) {
			if filled++; opt.readCap(filled) {
				return nil, source{}, opt.tooMany()
			}
		}
	}
	if err := it.Error(); err != nil {
		return nil, source{}, fmt.Errorf("sheet: xlsx sheet %q: %w", sheets[0], err)
	}
	return rows, source{xlsx: true, date1904: props.Date1904 != nil && *props.Date1904}, nil
}

// source is where rows came from, which decides how raw cells read: an
// XLSX cell holds dates as serial numbers and amounts as binary floats.
// serials also takes a bare five-digit number in a CSV as an Excel date
// serial (a date column saved as General), for sheets where no other
// reading of such a number makes sense.
type source struct{ xlsx, date1904, serials bool }

// table is a sheet's header and the cells under it, read field by field
// through an alias map, collecting the Problems of every cell that cannot
// be read. The transaction and the voucher readers both build on it.
type table struct {
	src      source
	header   []string
	cols     map[string][]int
	problems []Problem
}

type parser struct {
	*table
	opt   Options
	split bool // 收入/支出 columns instead of kind + amount
}

// maxTitleRows is how far down the header is looked for, since journals often
// carry a title such as "某村现金日记账" above it.
const maxTitleRows = 10

// newTable finds the header of rows (see findHeader) and indexes its
// columns by field; it returns the table and the header's index in rows.
func newTable(rows []rawRow, src source, byHeader map[string]string, marks ...string) (*table, int, error) {
	h := findHeader(rows, byHeader, marks)
	if h < 0 {
		return nil, 0, errors.New("sheet: empty file, no header line")
	}
	t := &table{src: src, cols: map[string][]int{}}
	for i, text := range rows[h].cells {
		t.header = append(t.header, strings.TrimSpace(text))
		if f, ok := byHeader[norm(text)]; ok {
			t.cols[f] = append(t.cols[f], i)
		}
	}
	return t, h, nil
}

func (t *table) has(f string) bool { return len(t.cols[f]) > 0 }

func parse(rows []rawRow, opt Options, src source) ([]Row, []Problem, error) {
	t, h, err := newTable(rows, src, byHeader, "date", "summary")
	if err != nil {
		return nil, nil, err
	}
	p := &parser{table: t, opt: opt}
	if err := p.checkHeaders(); err != nil {
		return nil, nil, fmt.Errorf("sheet: line %d: %w", rows[h].line, err)
	}
	var out []Row
	data := 0
	for _, r := range rows[h+1:] {
		if blank(r.cells) {
			continue
		}
		if data++; opt.MaxRows > 0 && data > opt.MaxRows {
			return nil, nil, opt.tooMany()
		}
		n := len(p.problems)
		tx := p.row(r)
		if len(p.problems) == n {
			out = append(out, Row{Line: r.line, Transaction: tx})
		}
	}
	return out, p.problems, nil
}

// findHeader returns the first row among the first few non-blank ones naming
// every field of marks, else the first non-blank row (so the missing-header
// error speaks about it), else -1.
func findHeader(rows []rawRow, byHeader map[string]string, marks []string) int {
	first := -1
	for i, r := range rows {
		if blank(r.cells) {
			continue
		}
		if first < 0 {
			first = i
		}
		if i >= first+maxTitleRows {
			break
		}
		seen := map[string]bool{}
		for _, c := range r.cells {
			seen[byHeader[norm(c)]] = true
		}
		all := true
		for _, m := range marks {
			all = all && seen[m]
		}
		if all {
			return i
		}
	}
	return first
}

func (p *parser) checkHeaders() error {
	has := p.has
	p.split = !(has("kind") && has("amount")) && (has("income") || has("expense"))
	need := []string{"date", "summary"}
	if !p.split {
		need = append(need, "kind", "amount")
	}
	var missing []string
	for _, f := range need {
		if !has(f) {
			missing = append(missing, fmt.Sprintf("%s (accepted: %s)", f, strings.Join(aliases[f], ", ")))
		}
	}
	if missing == nil {
		return nil
	}
	err := fmt.Errorf("missing header: %s", strings.Join(missing, "; "))
	if !p.split && !(has("kind") && has("amount")) {
		err = fmt.Errorf("%w; kind and amount may instead be 收入/支出 amount columns", err)
	}
	return err
}

// cell returns the trimmed value of string f in r and the header of the column
// it came from. Several columns may mean one field (收款人 and 付款人); their
// non-empty values must agree.
func (p *table) cell(r rawRow, f string) (val, col string) {
	for _, i := range p.cols[f] {
		if i >= len(r.cells) {
			continue
		}
		v := strings.TrimSpace(r.cells[i])
		switch {
		case v == "":
		case val == "":
			val, col = v, p.header[i]
		case v != val:
			p.bad(r, p.header[i], fmt.Errorf("%q disagrees with %q in column %s", v, val, col))
		}
	}
	if col == "" && len(p.cols[f]) > 0 {
		col = p.header[p.cols[f][0]]
	}
	return val, col
}

// text is cell for free-text fields, refusing long numbers Excel mangled.
func (p *table) text(r rawRow, f string) string {
	v, col := p.cell(r, f)
	if scientific.MatchString(v) {
		p.bad(r, col, fmt.Errorf("%q was stored as a number, so Excel kept only 15 digits; format the column as text and retype it", v))
	}
	return v
}

func (p *table) bad(r rawRow, col string, err error) {
	p.problems = append(p.problems, Problem{Line: r.line, Column: col, Reason: err.Error()})
}

// scientific is how Excel shows a long number typed into a number cell, after
// it has already dropped every digit past the fifteenth.
var scientific = regexp.MustCompile(`^\d(\.\d+)?[eE]\+\d+$`)

func (p *parser) row(r rawRow) *sanziv1.Transaction {
	get := func(f string) string { return p.text(r, f) }
	tx := &sanziv1.Transaction{
		Org:           p.opt.Org,
		Summary:       get("summary"),
		VoucherNumber: get("voucher"),
		InvoiceCode:   get("invoice_code"),
		InvoiceNumber: get("invoice_number"),
		BudgetLine:    get("budget_line"),
		Category:      get("category"),
	}
	if v := get("org"); v != "" {
		tx.Org = v
	}
	v, col := p.cell(r, "date")
	var err error
	if tx.BusinessDate, err = p.date(v); err != nil {
		p.bad(r, col, err)
	}
	if p.split {
		p.splitAmount(r, tx)
	} else {
		v, col = p.cell(r, "kind")
		if tx.Kind, err = pick(v, kinds); err != nil {
			p.bad(r, col, err)
		}
		v, col = p.cell(r, "amount")
		if tx.AmountFen, err = p.amount(v); err == nil {
			err = positive(tx.AmountFen)
		}
		if err != nil {
			p.bad(r, col, err)
		}
	}
	if v, col = p.cell(r, "method"); v != "" {
		if tx.PaymentMethod, err = pick(v, methods); err != nil {
			p.bad(r, col, err)
		}
	}
	cp := &sanziv1.Counterparty{Name: get("counterparty"), IdNumber: get("id_number"), BankAccount: get("bank_account")}
	if cp.Name != "" || cp.IdNumber != "" || cp.BankAccount != "" {
		tx.Counterparty = cp
	}
	for _, a := range strings.FieldsFunc(get("attachments"), func(r rune) bool { return r == ';' || r == '；' }) {
		if a = strings.TrimSpace(a); a != "" {
			tx.Attachments = append(tx.Attachments, a)
		}
	}
	return tx
}

// splitAmount reads a 现金日记账-style row: one amount in 收入 or 支出, the
// other empty or zero. A kind column, when present and filled, still decides
// the kind (e.g. 借入 money arriving in 收入).
func (p *parser) splitAmount(r rawRow, tx *sanziv1.Transaction) {
	var fens [2]int64
	var cols [2]string
	failed := false
	for j, f := range []string{"income", "expense"} {
		v, col := p.cell(r, f)
		cols[j] = col
		if v == "" {
			continue
		}
		fen, err := p.amount(v)
		if err == nil && fen < 0 {
			err = positive(fen)
		}
		if err != nil {
			p.bad(r, col, err)
			failed = true
		}
		fens[j] = fen
	}
	both := strings.Trim(cols[0]+"/"+cols[1], "/")
	switch {
	case failed:
	case fens[0] > 0 && fens[1] > 0:
		p.bad(r, both, errors.New("both income and expense are filled; put one movement per row"))
	case fens[0] > 0:
		tx.Kind, tx.AmountFen = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, fens[0]
	case fens[1] > 0:
		tx.Kind, tx.AmountFen = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, fens[1]
	default:
		p.bad(r, both, errors.New("no amount: fill income or expense"))
	}
	if v, col := p.cell(r, "kind"); v != "" {
		k, err := pick(v, kinds)
		if err != nil {
			p.bad(r, col, err)
		}
		tx.Kind = k
	}
}

func positive(fen int64) error {
	switch {
	case fen < 0:
		return errors.New("negative amount: record a reversal instead")
	case fen == 0:
		return errors.New("zero amount")
	}
	return nil
}

func (p *table) amount(v string) (int64, error) {
	if v == "" {
		return 0, errors.New("empty; an amount in yuan such as 1234.56 is needed")
	}
	if p.src.xlsx && strings.Trim(v, "0123456789.-+eE") == "" {
		// A numeric cell holds a binary float, e.g. 0.30000000000000004;
		// take it to the fen when it is that within float noise.
		if x, err := strconv.ParseFloat(v, 64); err == nil && math.Abs(x) < 1e13 {
			if c := math.Round(x * 100); math.Abs(x*100-c) < 1e-6 {
				v = strconv.FormatFloat(c/100, 'f', 2, 64)
			}
		}
	}
	return money.ParseYuan(v)
}

var (
	dateRE    = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$`)
	compactRE = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$`)
	// serialRE is an Excel date serial from 1927 (10000) to 2173 (99999).
	serialRE = regexp.MustCompile(`^[1-9]\d{4}$`)
)

func (p *table) date(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty; a date such as 2026-03-05 is needed")
	}
	m := compactRE.FindStringSubmatch(v)
	if m == nil {
		m = dateRE.FindStringSubmatch(v)
	}
	if m == nil && (p.src.xlsx || p.src.serials && serialRE.MatchString(v)) {
		// A date cell's raw value is its serial number (days since 1900 or 1904).
		if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 1 && x < 2958466 {
			if t, err := excelize.ExcelDateToTime(x, p.src.date1904); err == nil {
				return t.Format(time.DateOnly), nil
			}
		}
	}
	if m == nil {
		return "", fmt.Errorf("date %q not understood; write it like 2026-03-05, 2026/3/5 or 2026年3月5日", v)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return "", fmt.Errorf("date %q does not exist", v)
	}
	return t.Format(time.DateOnly), nil
}

// writeHeaders are the columns WriteXLSX fills, all accepted by ReadXLSX.
var writeHeaders = []any{"日期", "类型", "金额", "支付方式", "对方单位", "证件号", "摘要", "凭证号", "发票代码", "发票号码", "预算科目", "科目"}

// WriteXLSX writes transactions as a workbook with the Chinese headers
// ReadXLSX accepts (日期, 类型, 金额, 支付方式, 对方单位, 证件号, 摘要, 凭证号,
// 发票代码, 发票号码, 预算科目, 科目), so tests and demos can produce the kind of
// sheet a village keeps. Dates become date cells, amounts numeric yuan shown
// with two decimals, everything else text. Org, bank account and attachments
// are not written; pass Options.Org when reading back.
func WriteXLSX(w io.Writer, txs []*sanziv1.Transaction) error {
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	dateFmt := "yyyy-mm-dd"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		return err
	}
	amountStyle, err := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
	if err != nil {
		return err
	}
	if err := f.SetColStyle(sh, "A", dateStyle); err != nil {
		return err
	}
	if err := f.SetColStyle(sh, "C", amountStyle); err != nil {
		return err
	}
	if err := f.SetSheetRow(sh, "A1", &writeHeaders); err != nil {
		return err
	}
	for i, tx := range txs {
		cp := tx.GetCounterparty()
		vals := []any{tx.GetBusinessDate(), label(tx.GetKind(), kinds), float64(tx.GetAmountFen()) / 100,
			label(tx.GetPaymentMethod(), methods), cp.GetName(), cp.GetIdNumber(), tx.GetSummary(),
			tx.GetVoucherNumber(), tx.GetInvoiceCode(), tx.GetInvoiceNumber(), tx.GetBudgetLine(), tx.GetCategory()}
		if t, err := time.Parse(time.DateOnly, tx.GetBusinessDate()); err == nil {
			vals[0] = t
		}
		if err := f.SetSheetRow(sh, fmt.Sprintf("A%d", i+2), &vals); err != nil {
			return err
		}
	}
	_, err = f.WriteTo(w)
	return err
}
