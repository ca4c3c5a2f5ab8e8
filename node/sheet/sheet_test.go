package sheet

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const org = "110101001001"

const (
	income   = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	expense  = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	transfer = sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER
	loanOut  = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT
	loanIn   = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN
	cash     = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	bank     = sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	card     = sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD
	other    = sanziv1.PaymentMethod_PAYMENT_METHOD_OTHER
)

// tx builds the usual expected transaction; edit adjusts the rest.
func tx(date string, kind sanziv1.TransactionKind, fen int64, summary string, edit ...func(*sanziv1.Transaction)) *sanziv1.Transaction {
	t := &sanziv1.Transaction{Org: org, BusinessDate: date, Kind: kind, AmountFen: fen, Summary: summary}
	for _, e := range edit {
		e(t)
	}
	return t
}

func checkRows(t *testing.T, got []Row, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d rows, want %d:\n%s", len(got), len(want), dump(got))
		return
	}
	for i := range want {
		if got[i].Line != want[i].Line || !proto.Equal(got[i].Transaction, want[i].Transaction) {
			t.Errorf("row %d:\n got line %d %v\nwant line %d %v", i, got[i].Line,
				prototext.Format(got[i].Transaction), want[i].Line, prototext.Format(want[i].Transaction))
		}
	}
}

func dump(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "line %d: %v\n", r.Line, prototext.Format(r.Transaction))
	}
	return b.String()
}

// checkProblems compares line and column exactly and requires Reason to
// contain the wanted text.
func checkProblems(t *testing.T, got, want []Problem) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = got[i].Line == want[i].Line && got[i].Column == want[i].Column && strings.Contains(got[i].Reason, want[i].Reason)
	}
	if !ok {
		t.Errorf("problems:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name     string
		csv      string
		opt      Options
		want     []Row
		problems []Problem
		err      string
	}{{
		name: "chinese headers with BOM",
		csv: "\ufeff日期,类型,金额（元）,支付方式,对方单位,证件号,银行账号,摘  要,凭证号,发票代码,发票号码,预算科目,科目,附件\n" +
			"2026/3/5,支出,\"1,234.50\",现金,张三,11010119900307803X,6222020200112233445,购买办公用品,记-001,011002300111,12345678,办公费,管理费用,aa;bb\n" +
			"2026年3月6日, 收入 ,¥800,银行转账,,,,\"上级补助\",,,,,经营收入,\n",
		opt: Options{Org: org},
		want: []Row{
			{2, tx("2026-03-05", expense, 123450, "购买办公用品", func(t *sanziv1.Transaction) {
				t.PaymentMethod = cash
				t.Counterparty = &sanziv1.Counterparty{Name: "张三", IdNumber: "11010119900307803X", BankAccount: "6222020200112233445"}
				t.VoucherNumber, t.InvoiceCode, t.InvoiceNumber = "记-001", "011002300111", "12345678"
				t.BudgetLine, t.Category, t.Attachments = "办公费", "管理费用", []string{"aa", "bb"}
			})},
			{3, tx("2026-03-06", income, 80000, "上级补助", func(t *sanziv1.Transaction) {
				t.PaymentMethod, t.Category = bank, "经营收入"
			})},
		},
	}, {
		name: "english headers, org column, every kind and date form",
		csv: "Org,Date,Kind,Amount,Method,Counterparty,ID_Number,Bank_Account,Summary,Voucher_Number,Invoice_Code,Invoice_Number,Budget_Line,Category,Attachments\n" +
			"330102001002,20260305,income,100,cash,,,,rent,,,,,,\n" +
			",2026.3.5,EXPENSE,0.5,village_card,,,,fuel,,,,,,\n" +
			",2026-03-05 00:00:00,transfer,1000,bank,,,,bank the cash,,,,,, \n" +
			",2026-3-5,loan_out,20,other,Li Si,,,loan,,,,,,x ； y\n" +
			",2026/03/05,借入,20,公务卡,,,,borrow,,,,,,\n",
		opt: Options{Org: org},
		want: []Row{
			{2, tx("2026-03-05", income, 10000, "rent", func(t *sanziv1.Transaction) { t.Org, t.PaymentMethod = "330102001002", cash })},
			{3, tx("2026-03-05", expense, 50, "fuel", func(t *sanziv1.Transaction) { t.PaymentMethod = card })},
			{4, tx("2026-03-05", transfer, 100000, "bank the cash", func(t *sanziv1.Transaction) { t.PaymentMethod = bank })},
			{5, tx("2026-03-05", loanOut, 2000, "loan", func(t *sanziv1.Transaction) {
				t.PaymentMethod, t.Counterparty, t.Attachments = other, &sanziv1.Counterparty{Name: "Li Si"}, []string{"x", "y"}
			})},
			{6, tx("2026-03-05", loanIn, 2000, "borrow", func(t *sanziv1.Transaction) { t.PaymentMethod = card })},
		},
	}, {
		name: "收入/支出 journal with a title line, balance column and blank lines",
		csv: "红星村现金日记账,,,,\n" +
			"\n" +
			"日期,摘要,收入,支出,余额\n" +
			"2026-03-01,收卫生费,300.00,,300.00\n" +
			",,,,\n" +
			"\n" +
			"2026-03-02,买扫帚,0.00,45.5,254.50\n" +
			"2026-03-03,\"两行\n摘要\",,10,244.50\n" +
			"2026-03-04,期初余额,,,244.50\n",
		opt: Options{Org: org},
		want: []Row{
			{4, tx("2026-03-01", income, 30000, "收卫生费")},
			{7, tx("2026-03-02", expense, 4550, "买扫帚")},
			{8, tx("2026-03-03", expense, 1000, "两行\n摘要")},
		},
		problems: []Problem{{10, "收入/支出", "no amount"}},
	}, {
		name: "收入/支出 with a kind column",
		csv:  "日期,摘要,收支类型,收入,支出\n2026-03-01,借款,借入,5000,\n2026-03-02,还款,,,100\n",
		opt:  Options{Org: org},
		want: []Row{
			{2, tx("2026-03-01", loanIn, 500000, "借款")},
			{3, tx("2026-03-02", expense, 10000, "还款")},
		},
	}, {
		name: "bad cells",
		csv: "日期,类型,金额,支付方式,摘要,身份证号,收款人,付款人\n" +
			"2026-02-30,支出,10,现金,a,,,\n" +
			"2026-03-01,收款,abc,,b,,,\n" +
			"2026-03-01,支出,-5,刷脸,c,,,\n" +
			"2026-03-01,支出,0,,d,,,\n" +
			"2026-03-01,支出,1.234,,e,,,\n" +
			"2026-03-01,支出,1,,f,1.10101E+17,,\n" +
			",支出,1,,g,,张三,李四\n" +
			"2026-03-02,支出,12,,fine,,张三,\n" +
			"2026-03-03,,12,,no kind,,,\n",
		opt:  Options{Org: org},
		want: []Row{{9, tx("2026-03-02", expense, 1200, "fine", func(t *sanziv1.Transaction) { t.Counterparty = &sanziv1.Counterparty{Name: "张三"} })}},
		problems: []Problem{
			{2, "日期", `date "2026-02-30" does not exist`},
			{3, "类型", `unknown value "收款"; accepted: 收入, income, 支出`},
			{3, "金额", "not a number"},
			{4, "金额", "negative amount"},
			{4, "支付方式", "accepted: 现金, cash, 银行转账"},
			{5, "金额", "zero amount"},
			{6, "金额", "more than two decimals"},
			{7, "身份证号", "format the column as text"},
			{8, "日期", "empty"},
			{8, "付款人", `"李四" disagrees with "张三" in column 收款人`},
			{10, "类型", "empty; accepted"},
		},
	}, {
		name:     "both 收入 and 支出",
		csv:      "日期,摘要,收入,支出\n2026-03-01,x,1,2\n2026-03-01,y,-1,\n",
		problems: []Problem{{2, "收入/支出", "both"}, {3, "收入", "negative"}},
	}, {
		name: "missing summary and amount",
		csv:  "\n日期,类型\n2026-03-01,收入\n",
		err:  "line 2: missing header: summary (accepted: summary, 摘要); amount (accepted: amount,",
	}, {
		name: "no amount columns at all",
		csv:  "日期,摘要\n",
		err:  "kind and amount may instead be 收入/支出",
	}, {
		name: "empty file",
		csv:  "\ufeff",
		err:  "no header",
	}, {
		name: "broken quoting",
		csv:  "日期,摘要,收入\n2026-03-01,\"x\"y,1\n",
		err:  "line 2",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, problems, err := ReadCSV(strings.NewReader(tt.csv), tt.opt)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, rows, tt.want)
			checkProblems(t, problems, tt.problems)
		})
	}
}

func TestReadCSVGBK(t *testing.T) {
	text := "日期,类型,金额,摘要\r\n2026-03-05,支出,12.30,买茶叶\r\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	rows, problems, err := ReadCSV(strings.NewReader(gbk), Options{Org: org})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	checkRows(t, rows, []Row{{2, tx("2026-03-05", expense, 1230, "买茶叶")}})
}

func TestReadXLSX(t *testing.T) {
	f := excelize.NewFile()
	sh := f.GetSheetName(0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetCellValue(sh, "A1", "某村2026年3月收支明细"))
	must(f.SetSheetRow(sh, "A2", &[]any{"记账日期", "收支", "金额(元)", "结算方式", "往来单位", "统一社会信用代码", "摘要", "凭证号", "发票号码"}))
	// A real date cell (excelize stores the serial number with a date format).
	must(f.SetSheetRow(sh, "A3", &[]any{time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), "支出", 1234.5, "村务卡",
		"某某建材有限公司", "91350100M000100Y43", "买水泥", "记-7", 20260305}))
	// Row 4 left empty on purpose.
	tenth := 0.1 // at run time 0.1+0.2 is 0.30000000000000004, as Excel stores it
	must(f.SetSheetRow(sh, "A5", &[]any{"2026年3月6日", "收入", tenth + 0.2, "现金", "", "", "收租", 8, ""}))
	must(f.SetSheetRow(sh, "A6", &[]any{46086, "转账", 100, "银行", "", "", "存现", "", ""}))
	must(f.SetSheetRow(sh, "A7", &[]any{46086.75, "支出", 0.001, "", "", "", "bad amount", "", ""}))
	must(f.SetSheetRow(sh, "A8", &[]any{"next tuesday", "支出", 1, "", "", "", "bad date", "", ""}))
	var buf bytes.Buffer
	_, err := f.WriteTo(&buf)
	must(err)

	rows, problems, err := ReadXLSX(&buf, Options{Org: org})
	must(err)
	checkRows(t, rows, []Row{
		{3, tx("2026-03-05", expense, 123450, "买水泥", func(t *sanziv1.Transaction) {
			t.PaymentMethod = card
			t.Counterparty = &sanziv1.Counterparty{Name: "某某建材有限公司", IdNumber: "91350100M000100Y43"}
			t.VoucherNumber, t.InvoiceNumber = "记-7", "20260305"
		})},
		{5, tx("2026-03-06", income, 30, "收租", func(t *sanziv1.Transaction) { t.PaymentMethod, t.VoucherNumber = cash, "8" })},
		{6, tx("2026-03-05", transfer, 10000, "存现", func(t *sanziv1.Transaction) { t.PaymentMethod = bank })},
	})
	checkProblems(t, problems, []Problem{
		{7, "金额(元)", "more than two decimals"},
		{8, "记账日期", `date "next tuesday" not understood`},
	})
}

func TestReadXLSXErrors(t *testing.T) {
	if _, _, err := ReadXLSX(strings.NewReader("日期,摘要\n"), Options{}); err == nil {
		t.Error("a CSV passed as XLSX was accepted")
	}
	f := excelize.NewFile()
	if err := f.SetSheetRow("Sheet1", "A1", &[]any{"日期", "金额"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadXLSX(&buf, Options{}); err == nil || !strings.Contains(err.Error(), "summary (accepted") {
		t.Errorf("err = %v, want missing summary", err)
	}
}

func TestWriteXLSXRoundTrip(t *testing.T) {
	txs := []*sanziv1.Transaction{
		tx("2026-03-05", expense, 123456789, "修村道", func(t *sanziv1.Transaction) {
			t.PaymentMethod = bank
			t.Counterparty = &sanziv1.Counterparty{Name: "某某建筑公司", IdNumber: "91350100M000100Y43"}
			t.VoucherNumber, t.InvoiceCode, t.InvoiceNumber = "001", "011002300111", "00012345"
			t.BudgetLine, t.Category = "基础设施", "在建工程"
		}),
		tx("2026-12-31", income, 1, "利息", func(t *sanziv1.Transaction) { t.PaymentMethod = other }),
		tx("2026-01-01", loanIn, 70, "借款", func(t *sanziv1.Transaction) { t.PaymentMethod = card }),
		tx("2026-02-28", loanOut, 99, "借出", func(t *sanziv1.Transaction) { t.PaymentMethod = cash }),
		tx("2026-06-15", transfer, 30, "存现"),
	}
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, txs); err != nil {
		t.Fatal(err)
	}
	// The date column must hold real dates, not text.
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := f.GetCellType("Sheet1", "A2"); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("date cell type = %v, want a number", typ)
	}
	if v, _ := f.GetCellValue("Sheet1", "A2"); v != "2026-03-05" {
		t.Errorf("date cell shows %q", v)
	}
	if v, _ := f.GetCellValue("Sheet1", "C2"); v != "1,234,567.89" {
		t.Errorf("amount cell shows %q", v)
	}
	f.Close()

	rows, problems, err := ReadXLSX(&buf, Options{Org: org})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	want := make([]Row, len(txs))
	for i, tx := range txs {
		want[i] = Row{i + 2, tx}
	}
	checkRows(t, rows, want)
}

// TestMaxRows: a sheet past Options.MaxRows is refused as ErrTooManyRows,
// CSV and XLSX alike, and one at the limit is read whole; blank lines and
// the title above the header do not count.
func TestMaxRows(t *testing.T) {
	const max = 5
	lines := func(n int) []string {
		out := []string{"某村现金日记账", "", "日期,类型,金额,摘要"}
		for i := range n {
			out = append(out, fmt.Sprintf("2026-03-%02d,支出,%d.00,材料费", i+1, i+1), "")
		}
		return out
	}
	xlsx := func(t *testing.T, ls []string) *bytes.Buffer {
		f := excelize.NewFile()
		for i, l := range ls {
			cells := []any{}
			for _, c := range strings.Split(l, ",") {
				cells = append(cells, c)
			}
			if err := f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &cells); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return &buf
	}
	for _, tc := range []struct {
		name string
		read func(t *testing.T, ls []string) ([]Row, []Problem, error)
	}{
		{"csv", func(t *testing.T, ls []string) ([]Row, []Problem, error) {
			return ReadCSV(strings.NewReader(strings.Join(ls, "\n")), Options{Org: org, MaxRows: max})
		}},
		{"xlsx", func(t *testing.T, ls []string) ([]Row, []Problem, error) {
			return ReadXLSX(xlsx(t, ls), Options{Org: org, MaxRows: max, MaxUnzipped: 1 << 20})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, problems, err := tc.read(t, lines(max))
			if err != nil || len(rows) != max || len(problems) != 0 {
				t.Fatalf("%d rows: %d read, problems %v, err %v", max, len(rows), problems, err)
			}
			if _, _, err := tc.read(t, lines(max+1)); !errors.Is(err, ErrTooManyRows) {
				t.Fatalf("%d rows: err %v, want ErrTooManyRows", max+1, err)
			}
			if _, _, err := tc.read(t, lines(max*50)); !errors.Is(err, ErrTooManyRows) {
				t.Fatalf("%d rows: err %v, want ErrTooManyRows", max*50, err)
			}
		})
	}
}

// TestXLSXUnzipLimit: a workbook that unpacks past Options.MaxUnzipped is
// refused, however small the file.
func TestXLSXUnzipLimit(t *testing.T) {
	f := excelize.NewFile()
	long := strings.Repeat("材料费", 2000)
	for i := range 200 {
		if err := f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &[]any{"2026-03-05", "支出", 1, long}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadXLSX(bytes.NewReader(buf.Bytes()), Options{Org: org, MaxUnzipped: 64 << 10}); err == nil {
		t.Fatalf("a %d-byte workbook unpacking past 64 KiB was read", buf.Len())
	}
}
