package sheet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// bookAliases maps each field of a voucher-line sheet to the headers the
// usual Chinese bookkeeping software exports it under (compared after
// norm). account is a single 科目 column holding a code, a name, or both
// as "10201 农商行".
var bookAliases = map[string][]string{
	"date":         {"日期", "凭证日期", "记账日期", "制单日期", "业务日期", "date"},
	"voucher":      {"凭证字号", "凭证号", "凭证编号", "凭证号码", "voucher"},
	"voucher_word": {"凭证字", "凭证类别", "凭证类型"},
	"summary":      {"摘要", "summary"},
	"account_code": {"科目编码", "科目代码", "科目编号", "会计科目编码", "account_code"},
	"account_name": {"科目名称", "会计科目名称", "科目全名", "account_name"},
	"account":      {"科目", "会计科目", "account"},
	"debit":        {"借方金额", "借方", "借方本币", "借方金额(元)", "借方金额（元）", "debit"},
	"credit":       {"贷方金额", "贷方", "贷方本币", "贷方金额(元)", "贷方金额（元）", "credit"},
	"counterparty": {"往来单位", "往来单位名称", "往来", "往来个人", "对方单位", "counterparty"},
	"project":      {"项目", "项目名称", "project"},
	"asset":        {"资产编号", "资产编码", "卡片编号", "asset_code"},
}

var bookHeader = headerIndex(bookAliases)

// openingMarks are the 凭证号 values that mark an opening-balance row,
// besides any voucher number 0 (记-0, 0).
var openingMarks = []string{"期初", "期初余额", "opening"}

// voucherNumber is a 凭证字号 as exported: 记-12, 记字第12号, 记12, 收-3, 12.
var voucherNumber = regexp.MustCompile(`^([\p{Han}A-Za-z]*?)字?[-－—_.]?第?0*(\d+)号?$`)

// ReadVouchers reads a collective's books as accountants export them from
// their bookkeeping software, one row per voucher line, into the opening
// balances and vouchers to record for opt.Org, all checked against ch.
//
// The file is an XLSX workbook (its first sheet) when its content is a zip
// or name ends in .xlsx, else a CSV in UTF-8 or GBK; name is only for that
// and for messages. The header is found as ReadCSV finds it, by a date and
// a 借方 column. Columns: 日期 (2025-01-05, 2025/1/5, 2025年1月5日, 20250105
// or an Excel date serial); 凭证字号 (记-12, 记字第12号, 12), or 凭证字 and
// 凭证号 as two columns; 摘要; 科目编码 and/or 科目名称 (when both are
// filled they must name the same account), or one 科目 column with a code,
// a name or "code name"; 借方金额 and 贷方金额 in yuan, thousands separators
// allowed, exactly one of them non-zero; 往来单位, 项目 and 资产编号 where
// the account keeps that subsidiary detail. Other columns are ignored.
//
// Opening balances (期初余额) are rows whose 凭证字号 is 期初 (or 期初余额,
// or the number 0, e.g. 记-0): each gives a leaf account's balance in 借方
// or 贷方, rows of a zero balance are skipped, and together they must
// balance. Their 日期 may be left empty: the opening is then dated the
// first day of the earliest voucher's month; it may not be later than any
// voucher. They become the one voucher with opening set, returned first.
//
// Rows of the same month and voucher number form one voucher (numbers
// restart each month); they must be contiguous and share one date. The
// voucher's 摘要 is its first non-empty one; a line keeps its own only
// when it differs. Every voucher must balance and have two lines; a
// negative amount is red ink and is allowed only in a voucher whose lines
// are all negative. Vouchers are returned in date order (the sheet's order
// within a date), their numbers left for the node to assign.
//
// Every problem is reported, in line order, with the line as the sheet
// shows it and the column's header (a voucher's own problems, such as a
// difference, on its first row); when there is any, no voucher is returned, since the
// books import all or nothing. The error is for a file that cannot be read
// at all, missing headers, or one past opt's limits (ErrTooLarge,
// ErrTooManyRows).
func ReadVouchers(r io.Reader, name string, ch *chart.Chart, opt Options) ([]*sanziv1.Voucher, []Problem, error) {
	if ch == nil {
		return nil, nil, errors.New("sheet: read vouchers: no chart of accounts")
	}
	if opt.Org == "" {
		return nil, nil, errors.New("sheet: read vouchers: no org")
	}
	data, err := opt.readAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	var rows []rawRow
	src := source{serials: true}
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0")) || ext == ".xls":
		return nil, nil, fmt.Errorf("sheet %s: an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV", name)
	case bytes.HasPrefix(data, []byte("PK\x03\x04")) || ext == ".xlsx":
		rows, src, err = xlsxRows(data, opt)
		src.serials = true
	default:
		rows, err = csvRows(data, opt)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	t, h, err := newTable(rows, src, bookHeader, "date", "debit")
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	b := &bookReader{table: t, ch: ch, opt: opt}
	if err := b.checkHeaders(); err != nil {
		return nil, nil, fmt.Errorf("sheet %s: line %d: %w", name, rows[h].line, err)
	}
	var lines []*bookLine
	n := 0
	for _, r := range rows[h+1:] {
		if blank(r.cells) {
			continue
		}
		if n++; opt.MaxRows > 0 && n > opt.MaxRows {
			return nil, nil, opt.tooMany()
		}
		if l := b.line(r); l != nil {
			lines = append(lines, l)
		}
	}
	vouchers := b.vouchers(lines)
	if len(b.problems) > 0 {
		// Cells were read row by row, vouchers checked after: list by line.
		slices.SortStableFunc(b.problems, func(x, y Problem) int { return x.Line - y.Line })
		return nil, b.problems, nil
	}
	if len(vouchers) == 0 {
		return nil, nil, fmt.Errorf("sheet %s: no voucher rows under the header at line %d", name, rows[h].line)
	}
	return vouchers, nil, nil
}

type bookReader struct {
	*table
	ch  *chart.Chart
	opt Options
}

// bookLine is one row read: its voucher's key and the line it adds.
type bookLine struct {
	row     rawRow
	number  string // as written, for messages
	key     string // word-number, e.g. 记-12; "" for an opening row
	opening bool
	date    string // "" when empty or unreadable
	dateCol string
	summary string
	line    *sanziv1.VoucherLine
	amounts bool // both amounts readable
}

func (b *bookReader) checkHeaders() error {
	var missing []string
	need := func(label string, fields ...string) {
		for _, f := range fields {
			if b.has(f) {
				return
			}
		}
		var names []string
		for _, f := range fields {
			names = append(names, bookAliases[f]...)
		}
		missing = append(missing, fmt.Sprintf("%s (accepted: %s)", label, strings.Join(names, ", ")))
	}
	need("date", "date")
	need("voucher number", "voucher")
	need("summary", "summary")
	need("account", "account_code", "account_name", "account")
	need("debit", "debit")
	need("credit", "credit")
	if missing != nil {
		return fmt.Errorf("missing header: %s", strings.Join(missing, "; "))
	}
	return nil
}

// colName is the header of field f, or its usual Chinese name when the
// sheet has no such column, for problems about a missing value.
func (b *bookReader) colName(f string) string {
	if cs := b.cols[f]; len(cs) > 0 {
		return b.header[cs[0]]
	}
	return bookAliases[f][0]
}

// line reads one row, recording the problems of its cells; nil for a row
// that belongs to no voucher (an unreadable number, a zero opening row).
func (b *bookReader) line(r rawRow) *bookLine {
	l := &bookLine{row: r, summary: b.text(r, "summary"), line: &sanziv1.VoucherLine{
		Counterparty: b.text(r, "counterparty"),
		Project:      b.text(r, "project"),
		AssetCode:    b.text(r, "asset"),
	}}
	num, numCol := b.cell(r, "voucher")
	l.number = num
	if word, _ := b.cell(r, "voucher_word"); !strings.HasPrefix(num, word) {
		l.number = word + num // 凭证字 记 and 凭证号 12 apart
	}
	grouped := false // the row has a voucher to go to
	switch m := voucherNumber.FindStringSubmatch(norm(l.number)); {
	case num == "":
		b.bad(r, numCol, errors.New("empty; a voucher number such as 记-12, or 期初 for an opening balance"))
	case slices.Contains(openingMarks, norm(num)):
		l.opening, grouped = true, true
	case m == nil:
		b.bad(r, numCol, fmt.Errorf("voucher number %q not understood; write it like 记-12, 记字第12号 or 12, or 期初 for an opening balance", l.number))
	case m[2] == "0":
		l.opening, grouped = true, true
	default:
		l.key, grouped = m[1]+"-"+m[2], true
	}
	v, col := b.cell(r, "date")
	l.dateCol = col
	if v != "" || !l.opening {
		var err error
		if l.date, err = b.date(v); err != nil {
			b.bad(r, col, err)
		}
	}
	var fens [2]int64
	var cols [2]string
	l.amounts = true
	for i, f := range []string{"debit", "credit"} {
		v, cols[i] = b.cell(r, f)
		if v == "" || v == "-" || v == "—" {
			continue // the empty side, as Excel's accounting format shows zero
		}
		fen, err := b.amount(v)
		if err == nil && l.opening && fen < 0 {
			err = fmt.Errorf("negative opening balance %s: put a balance on the other side in the other column", v)
		}
		if err != nil {
			b.bad(r, cols[i], err)
			l.amounts = false
		}
		fens[i] = fen
	}
	l.line.DebitFen, l.line.CreditFen = fens[0], fens[1]
	both := cols[0] + "/" + cols[1]
	switch {
	case !l.amounts:
	case fens[0] != 0 && fens[1] != 0:
		b.bad(r, both, errors.New("both debit and credit are filled; a line has one of them"))
		l.amounts = false
	case fens[0] == 0 && fens[1] == 0 && l.opening:
		return nil // a zero balance, as a trial balance lists every account
	case fens[0] == 0 && fens[1] == 0:
		b.bad(r, both, errors.New("no amount: fill debit or credit"))
		l.amounts = false
	}
	l.line.Account = b.account(r)
	if !grouped {
		return nil
	}
	return l
}

// account resolves the row's account against the chart and checks it
// is a leaf with the subsidiary detail it needs; "" when it cannot.
func (b *bookReader) account(r rawRow) string {
	code, codeCol := b.cell(r, "account_code")
	name, nameCol := b.cell(r, "account_name")
	if v, col := b.cell(r, "account"); v != "" {
		c, n := v, ""
		if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
			c, n = v[:i], strings.TrimSpace(v[i:])
		} else if i == 0 {
			c, n = "", v
		}
		if code == "" && c != "" {
			code, codeCol = c, col
		}
		if name == "" && n != "" {
			name, nameCol = n, col
		}
	}
	var a *sanziv1.LedgerAccount
	switch {
	case code == "" && name == "":
		b.bad(r, b.colName(firstOf(b, "account_code", "account_name", "account")), errors.New("empty; the account's code or name is needed"))
		return ""
	case code != "":
		var ok bool
		if a, ok = b.ch.Account(code); !ok {
			b.bad(r, codeCol, fmt.Errorf("%q is no account code of the chart", code))
			return ""
		}
		if name != "" {
			if n, ok := b.byName(name); !ok || n.GetCode() != a.GetCode() {
				b.bad(r, nameCol, fmt.Errorf("%q is not the name of account %s, which is %s", name, code, a.GetName()))
				return ""
			}
		}
	default:
		var ok bool
		if a, ok = b.byName(name); !ok {
			b.bad(r, nameCol, fmt.Errorf("%q names no account of the chart", name))
			return ""
		}
		codeCol = nameCol
	}
	if !b.ch.Leaf(a.GetCode()) {
		var subs []string
		for _, s := range b.ch.Accounts() {
			if s.GetParent() == a.GetCode() {
				subs = append(subs, s.GetCode()+" "+s.GetName())
			}
		}
		b.bad(r, codeCol, fmt.Errorf("%s %s has sub-accounts (%s): post to one of them", a.GetCode(), a.GetName(), strings.Join(subs, ", ")))
		return ""
	}
	for _, k := range a.GetSubsidiary() {
		f, what := "", ""
		switch k {
		case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_COUNTERPARTY:
			f, what = "counterparty", "counterparty"
		case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_PROJECT:
			f, what = "project", "project"
		case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_ASSET:
			f, what = "asset", "asset register code"
		default:
			continue
		}
		if v, _ := b.cell(r, f); v == "" {
			b.bad(r, b.colName(f), fmt.Errorf("empty; account %s %s is kept by %s, so each of its lines names one", a.GetCode(), a.GetName(), what))
		}
	}
	return a.GetCode()
}

// byName resolves an account name as exported: the chart's own name, or
// a full name such as 银行存款/农商行 by its last part.
func (b *bookReader) byName(name string) (*sanziv1.LedgerAccount, bool) {
	if a, ok := b.ch.Resolve(name); ok {
		return a, true
	}
	parts := strings.FieldsFunc(name, func(r rune) bool { return strings.ContainsRune(`/\-_—:：`, r) })
	if len(parts) > 1 {
		return b.ch.Resolve(strings.TrimSpace(parts[len(parts)-1]))
	}
	return nil, false
}

func firstOf(b *bookReader, fields ...string) string {
	for _, f := range fields {
		if b.has(f) {
			return f
		}
	}
	return fields[0]
}

// group is the rows of one voucher, in sheet order.
type group struct {
	key   string // month|word-number, or "opening"
	lines []*bookLine
}

// vouchers groups lines into vouchers and checks each as a whole.
func (b *bookReader) vouchers(lines []*bookLine) []*sanziv1.Voucher {
	var groups []*group
	where := map[string]*group{}
	var cur *group
	var pending *bookLine // a row whose date could not be read (a problem already)
	for _, l := range lines {
		key := "opening"
		if !l.opening {
			if l.date == "" {
				// Keep it with the voucher of its number above or below,
				// so the voucher is judged whole.
				switch {
				case cur != nil && strings.HasSuffix(cur.key, "|"+l.key):
					cur.lines = append(cur.lines, l)
				default:
					pending = l
				}
				continue
			}
			key = l.date[:7] + "|" + l.key
		}
		switch g := where[key]; {
		case g == cur && g != nil:
			g.lines = append(g.lines, l)
		case g != nil:
			b.bad(l.row, b.colName("voucher"), fmt.Errorf("voucher %s%s starts at line %d but other rows come between: keep a voucher's rows together", l.number, monthOf(l), g.lines[0].row.line))
		default:
			cur = &group{key: key, lines: []*bookLine{l}}
			if pending != nil && !l.opening && pending.key == l.key {
				cur.lines = []*bookLine{pending, l}
			}
			where[key] = cur
			groups = append(groups, cur)
		}
		pending = nil
	}
	var out []*sanziv1.Voucher
	var opening *sanziv1.Voucher
	first := ""
	for _, g := range groups {
		v := b.voucher(g)
		switch {
		case v == nil:
		case v.GetOpening():
			opening = v
		default:
			if first == "" || v.GetBusinessDate() < first {
				first = v.GetBusinessDate()
			}
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(x, y *sanziv1.Voucher) int { return strings.Compare(x.GetBusinessDate(), y.GetBusinessDate()) })
	if g := where["opening"]; opening != nil {
		switch {
		case opening.BusinessDate == "" && first == "":
			b.bad(g.lines[0].row, g.lines[0].dateCol, errors.New("empty; with no other voucher the opening balances need their date"))
		case opening.BusinessDate == "":
			opening.BusinessDate = first[:8] + "01"
		case first != "" && opening.BusinessDate > first:
			b.bad(g.lines[0].row, g.lines[0].dateCol, fmt.Errorf("opening balances dated %s, after the first voucher (%s): they are the balances before it", opening.BusinessDate, first))
		}
		out = append([]*sanziv1.Voucher{opening}, out...)
	}
	return out
}

func monthOf(l *bookLine) string {
	if l.opening || l.date == "" {
		return ""
	}
	return " of " + l.date[:7]
}

// voucher checks one group (one date, two lines, balanced, one sign) and
// builds its voucher; nil when a row of it had a problem already.
func (b *bookReader) voucher(g *group) *sanziv1.Voucher {
	head := g.lines[0]
	v := &sanziv1.Voucher{Org: b.opt.Org, Opening: head.opening}
	name := "voucher " + head.number + monthOf(head)
	if head.opening {
		name = "the opening balances"
	}
	ok := true
	var debit, credit int64
	neg, pos := 0, 0
	for _, l := range g.lines {
		switch {
		case l.date == "":
		case v.BusinessDate == "":
			v.BusinessDate = l.date
		case l.date != v.BusinessDate:
			b.bad(l.row, l.dateCol, fmt.Errorf("%s differs from %s, the date of %s at line %d: a voucher has one date", l.date, v.BusinessDate, name, head.row.line))
			ok = false
		}
		if v.Summary == "" {
			v.Summary = l.summary
		}
		ok = ok && l.amounts && l.line.GetAccount() != ""
		debit += l.line.GetDebitFen()
		credit += l.line.GetCreditFen()
		if l.line.GetDebitFen() < 0 || l.line.GetCreditFen() < 0 {
			neg++
		} else {
			pos++
		}
	}
	if v.Summary == "" {
		if head.opening {
			v.Summary = "期初余额"
		} else {
			b.bad(head.row, b.colName("summary"), fmt.Errorf("empty on every row of %s: a voucher needs its 摘要", name))
			ok = false
		}
	}
	amounts := b.colName("debit") + "/" + b.colName("credit")
	if len(g.lines) < 2 && !head.opening {
		b.bad(head.row, b.colName("voucher"), fmt.Errorf("%s has one line: a voucher has at least two", name))
		ok = false
	}
	if neg > 0 && pos > 0 {
		b.bad(head.row, amounts, fmt.Errorf("%s mixes negative and positive amounts: a red-ink voucher is negative on every line", name))
		ok = false
	}
	if ok && debit != credit {
		b.bad(head.row, amounts, fmt.Errorf("%s: debits %s, credits %s, out of balance by %s yuan", name, money.FormatFen(debit), money.FormatFen(credit), money.FormatFen(debit-credit)))
		ok = false
	}
	if !ok {
		return nil
	}
	for _, l := range g.lines {
		if l.summary != v.Summary {
			l.line.Summary = l.summary
		}
		v.Lines = append(v.Lines, l.line)
	}
	return v
}
