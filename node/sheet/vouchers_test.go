package sheet

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/chart/charttest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// districtChart is the national chart with 银行存款 split into two bank
// accounts, so that 102 is no longer a leaf.
func districtChart(tb testing.TB) *chart.Chart {
	return charttest.Split(tb, "102", [2]string{"10201", "农商行"}, [2]string{"10202", "邮储银行"})
}

func vch(date, summary string, lines ...*sanziv1.VoucherLine) *sanziv1.Voucher {
	return &sanziv1.Voucher{Org: org, BusinessDate: date, Summary: summary, Lines: lines}
}

func dr(account string, fen int64, edit ...func(*sanziv1.VoucherLine)) *sanziv1.VoucherLine {
	l := &sanziv1.VoucherLine{Account: account, DebitFen: fen}
	for _, e := range edit {
		e(l)
	}
	return l
}

func cr(account string, fen int64, edit ...func(*sanziv1.VoucherLine)) *sanziv1.VoucherLine {
	l := &sanziv1.VoucherLine{Account: account, CreditFen: fen}
	for _, e := range edit {
		e(l)
	}
	return l
}

func party(name string) func(*sanziv1.VoucherLine) {
	return func(l *sanziv1.VoucherLine) { l.Counterparty = name }
}
func project(name string) func(*sanziv1.VoucherLine) {
	return func(l *sanziv1.VoucherLine) { l.Project = name }
}
func summary(s string) func(*sanziv1.VoucherLine) {
	return func(l *sanziv1.VoucherLine) { l.Summary = s }
}

func checkVouchers(t *testing.T, got, want []*sanziv1.Voucher) {
	t.Helper()
	if len(got) != len(want) {
		var b strings.Builder
		for _, v := range got {
			b.WriteString(prototext.Format(v) + "\n")
		}
		t.Fatalf("got %d vouchers, want %d:\n%s", len(got), len(want), b.String())
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("voucher %d:\n got %v\nwant %v", i, prototext.Format(got[i]), prototext.Format(want[i]))
		}
	}
}

func TestReadVouchersGood(t *testing.T) {
	opening := func(v *sanziv1.Voucher) *sanziv1.Voucher { v.Opening = true; return v }
	tests := []struct {
		name  string
		chart func(testing.TB) *chart.Chart
		csv   string
		want  []*sanziv1.Voucher
	}{{
		name:  "kingdee style: title line, 凭证字 and 凭证号 apart, 科目 as code and name, opening by number 0 without a date",
		chart: districtChart,
		csv: "某村凭证序时簿 2025年1月\n" +
			"日期,凭证字,凭证号,摘要,科目,借方,贷方,往来单位\n" +
			",记,0,期初余额,10201 农商行,\"10,000.00\",,\n" +
			",记,0,期初余额,101 库存现金,0,0,\n" + // a zero balance, as a trial balance lists it: skipped
			",记,0,期初余额,112 应收款,500,,王五\n" +
			",记,0,期初余额,301 资本,,\"10,500\",\n" +
			"2025/1/5,记,1,收鱼塘承包费,10201 农商行,\"1,200.50\",,\n" +
			"2025/1/5,记,1,收鱼塘承包费,501 经营收入,-,\"1,200.50\",\n" +
			"20250103,记,2,借款给王五,112,300,,王五\n" + // dated before 记-1: returned first
			"20250103,记,记-2,借款给王五,10202,,300,\n",
		want: []*sanziv1.Voucher{
			opening(vch("2025-01-01", "期初余额", dr("10201", 1000000), dr("112", 50000, party("王五")), cr("301", 1050000))),
			vch("2025-01-03", "借款给王五", dr("112", 30000, party("王五")), cr("10202", 30000)),
			vch("2025-01-05", "收鱼塘承包费", dr("10201", 120050), cr("501", 120050)),
		},
	}, {
		name:  "yonyou style: 记字第n号, 科目编码 with full 科目名称, a line summary of its own, a red-ink voucher, numbers restarting each month",
		chart: districtChart,
		csv: "凭证日期,凭证字号,摘要,科目编码,科目名称,借方金额,贷方金额,项目\n" +
			"2025-01-05,期初余额,,10201,农商行,\"50,000.00\",,\n" +
			"2025-01-05,期初余额,,301,资本,,\"50,000.00\",\n" +
			"2025-01-10,记字第1号,村道硬化工程款,153,在建工程,\"8,000.00\",,村道硬化\n" +
			"2025-01-10,记字第1号,转账支付,10201,银行存款/农商行,,\"8,000.00\",\n" +
			"2025-02-10,记字第1号,冲销1月1号凭证,153,在建工程,-8000,,村道硬化\n" +
			"2025-02-10,记字第1号,冲销1月1号凭证,10201,农商行,,-8000,\n",
		want: []*sanziv1.Voucher{
			opening(vch("2025-01-05", "期初余额", dr("10201", 5000000), cr("301", 5000000))),
			vch("2025-01-10", "村道硬化工程款", dr("153", 800000, project("村道硬化")), cr("10201", 800000, summary("转账支付"))),
			vch("2025-02-10", "冲销1月1号凭证", dr("153", -800000, project("村道硬化")), cr("10201", -800000)),
		},
	}, {
		name:  "a CSV whose date column was saved as General: Excel date serials",
		chart: charttest.National,
		csv: "日期,凭证号,摘要,科目编码,借方金额,贷方金额\n" +
			"45662,12,买扫帚,531,45.50,\n" +
			"45662,12,买扫帚,101,,45.50\n",
		want: []*sanziv1.Voucher{vch("2025-01-05", "买扫帚", dr("531", 4550), cr("101", 4550))},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems, err := ReadVouchers(strings.NewReader(tt.csv), "books.csv", tt.chart(t), Options{Org: org})
			if err != nil || problems != nil {
				t.Fatalf("err %v, problems %+v", err, problems)
			}
			checkVouchers(t, got, tt.want)
		})
	}
}

// TestReadVouchersSample reads testdata/books-2025.csv, the sample other
// tests use, and checks it against figures worked out by hand: the bank
// and cash balances at the end of March and the opening's totals.
func TestReadVouchersSample(t *testing.T) {
	data, err := os.ReadFile("testdata/books-2025.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, problems, err := ReadVouchers(bytes.NewReader(data), "books-2025.csv", charttest.National(t), Options{Org: org})
	if err != nil || problems != nil {
		t.Fatalf("err %v, problems %+v", err, problems)
	}
	if len(got) != 11 || !got[0].GetOpening() || got[0].GetBusinessDate() != "2025-01-01" || len(got[0].GetLines()) != 11 {
		t.Fatalf("want the opening (11 lines, 2025-01-01) then 10 vouchers, got %d vouchers, first %v", len(got), prototext.Format(got[0]))
	}
	balance := map[string]int64{}
	var openingDebit int64
	for i, v := range got {
		if i > 0 && (v.GetOpening() || v.GetBusinessDate() < got[i-1].GetBusinessDate()) {
			t.Errorf("voucher %d (%s) out of order", i, v.GetBusinessDate())
		}
		for _, l := range v.GetLines() {
			balance[l.GetAccount()] += l.GetDebitFen() - l.GetCreditFen()
			if v.GetOpening() {
				openingDebit += l.GetDebitFen()
			}
		}
	}
	for _, c := range []struct {
		account string
		want    int64
	}{{"101", 739000}, {"102", 48133050}, {"153", 7500000}, {"211", -500000}, {"112", 1550000}} {
		if balance[c.account] != c.want {
			t.Errorf("balance of %s: got %d fen, want %d", c.account, balance[c.account], c.want)
		}
	}
	if openingDebit != 194048050 {
		t.Errorf("opening debits: got %d fen, want 194048050", openingDebit)
	}
	last := got[len(got)-1]
	if want := vch("2025-03-28", "村道硬化工程进度款", dr("153", 4500000, project("村道硬化")),
		cr("102", 4000000, summary("支付进度款")), cr("211", 500000, summary("欠付进度款"), party("红星建材厂"))); !proto.Equal(last, want) {
		t.Errorf("last voucher:\n got %v\nwant %v", prototext.Format(last), prototext.Format(want))
	}

	// The same file as Excel's plain "CSV" saves it on Chinese Windows.
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if utf8Same := bytes.Equal(gbk, data); utf8Same {
		t.Fatal("GBK encoding left the file unchanged")
	}
	fromGBK, problems, err := ReadVouchers(bytes.NewReader(gbk), "books-2025.csv", charttest.National(t), Options{Org: org})
	if err != nil || problems != nil {
		t.Fatalf("GBK: err %v, problems %+v", err, problems)
	}
	checkVouchers(t, fromGBK, got)
}

func TestReadVouchersProblems(t *testing.T) {
	csv := "日期,凭证号,摘要,科目编码,科目名称,借方金额,贷方金额,往来单位\n" +
		/* 2 */ "2025-01-01,期初,期初余额,101,库存现金,100,,\n" +
		/* 3 */ "2025-01-01,期初,期初余额,301,资本,,90,\n" + // the opening is 10.00 short
		/* 4 */ "2025-01-05,记-1,收款,1999,,50,,\n" + // no such account
		/* 5 */ "2025-01-05,记-1,收款,101,银行存款,,50,\n" + // code and name disagree
		/* 6 */ "2025-01-06,记-2,借出,112,应收款,20,,\n" + // 应收款 needs its counterparty
		/* 7 */ "2025-01-06,记-2,借出,102,,,20,\n" + // 102 has sub-accounts
		/* 8 */ "2025-01-07,记-3,买水泥,531,,12.345,,\n" + // three decimals
		/* 9 */ "2025-01-07,记-3,买水泥,101,,,,\n" + // no amount
		/* 10 */ "2025-01-08,记-4,修路,531,,300,300,\n" + // both sides
		/* 11 */ "2025-01-08,记-4,修路,101,,,300,\n" +
		/* 12 */ "2025-01-09,记-5,买灯,531,,80,,\n" +
		/* 13 */ "2025-01-09,记-5,买灯,101,,,70,\n" + // 记-5 is 10.00 out
		/* 14 */ "2025-01-10,记-6,付电费,531,,60,,\n" +
		/* 15 */ "2025-01-11,记-6,付电费,101,,,60,\n" + // another date
		/* 16 */ "2025-01-12,记-7,付网费,531,,40,,\n" +
		/* 17 */ "2025-01-12,记-8,付水费,531,,30,,\n" +
		/* 18 */ "2025-01-12,记-8,付水费,101,,,30,\n" +
		/* 19 */ "2025-01-12,记-7,付网费,101,,,40,\n" + // 记-7 split by 记-8; 记-7 then has one line
		/* 20 */ "2025-02-30,记-1,付话费,531,,10,,\n" + // no such date
		/* 21 */ "2025-02-03,记#1,付话费,101,,,10,\n" + // number not understood
		/* 22 */ "2025-02-04,记-2,,531,,-5,,\n" + // no summary anywhere; mixed signs
		/* 23 */ "2025-02-04,记-2,,101,,,5,\n" +
		/* 24 */ "2025-13-05,记-3,付报刊费,531,,15,,\n" + // no such month: the only problem of 记-3
		/* 25 */ "2025-02-05,记-3,付报刊费,101,,,15,\n"
	want := []Problem{
		{2, "借方金额/贷方金额", "the opening balances: debits 100.00, credits 90.00, out of balance by 10.00 yuan"},
		{4, "科目编码", `"1999" is no account code of the chart`},
		{5, "科目名称", `"银行存款" is not the name of account 101, which is 库存现金`},
		{6, "往来单位", "account 112 应收款 is kept by counterparty"},
		{7, "科目编码", "102 银行存款 has sub-accounts (10201 农商行, 10202 邮储银行)"},
		{8, "借方金额", "more than two decimals"},
		{9, "借方金额/贷方金额", "no amount"},
		{10, "借方金额/贷方金额", "both debit and credit"},
		{12, "借方金额/贷方金额", "voucher 记-5 of 2025-01: debits 80.00, credits 70.00, out of balance by 10.00 yuan"},
		{15, "日期", "2025-01-11 differs from 2025-01-10, the date of voucher 记-6 of 2025-01 at line 14"},
		{16, "凭证号", "voucher 记-7 of 2025-01 has one line"},
		{19, "凭证号", "voucher 记-7 of 2025-01 starts at line 16 but other rows come between"},
		{20, "日期", `date "2025-02-30" does not exist`},
		{21, "凭证号", `voucher number "记#1" not understood`},
		{22, "摘要", "empty on every row of voucher 记-2 of 2025-02"},
		{22, "借方金额/贷方金额", "mixes negative and positive amounts"},
		{24, "日期", `date "2025-13-05" does not exist`},
	}
	got, problems, err := ReadVouchers(strings.NewReader(csv), "bad.csv", districtChart(t), Options{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	if got != nil {
		t.Errorf("vouchers returned despite problems: %d", len(got))
	}
	checkProblems(t, problems, want)
}

func TestReadVouchersOpeningAfterFirstVoucher(t *testing.T) {
	csv := "日期,凭证号,摘要,科目编码,借方金额,贷方金额\n" +
		"2025-01-05,1,收款,102,10,\n" +
		"2025-01-05,1,收款,501,,10\n" +
		"2025-02-01,期初,期初余额,102,10,\n" +
		"2025-02-01,期初,期初余额,301,,10\n"
	_, problems, err := ReadVouchers(strings.NewReader(csv), "late.csv", charttest.National(t), Options{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, problems, []Problem{{4, "日期", "opening balances dated 2025-02-01, after the first voucher (2025-01-05)"}})
}

// TestReadVouchersXLSX builds a workbook as bookkeeping software exports
// one: real date cells (stored as serial numbers), numeric amounts that
// are binary floats, account codes as numbers.
func TestReadVouchersXLSX(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	dateFmt := "yyyy-mm-dd"
	style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetColStyle(sh, "A", style); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	tenth := 0.1
	rows := [][]any{
		{"日期", "凭证字号", "摘要", "科目编码", "借方金额", "贷方金额", "资产编号"},
		{day(1), "期初", "期初余额", 151, 1000.3, nil, "GD-001"},
		{day(1), "期初", "期初余额", 301, nil, 1000.3, nil},
		{day(4), "记-7", "购置电脑", 151, tenth + 0.2, nil, "GD-002"}, // 0.30000000000000004
		{day(4), "记-7", "购置电脑", 101, nil, 0.3, nil},
		{day(4), "记-8", "购置打印机", 151, 1500, nil, nil}, // no asset code
		{day(4), "记-8", "购置打印机", 101, nil, 1500, nil},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sh, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	// The name says nothing: the content is sniffed, as ImportBooks has no name.
	_, problems, err := ReadVouchers(bytes.NewReader(buf.Bytes()), "", charttest.National(t), Options{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, problems, []Problem{{6, "资产编号", "account 151 固定资产 is kept by asset register code"}})

	if err := f.RemoveRow(sh, 6); err != nil {
		t.Fatal(err)
	}
	if err := f.RemoveRow(sh, 6); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got, problems, err := ReadVouchers(bytes.NewReader(buf.Bytes()), "books.xlsx", charttest.National(t), Options{Org: org})
	if err != nil || problems != nil {
		t.Fatalf("err %v, problems %+v", err, problems)
	}
	asset := func(code string) func(*sanziv1.VoucherLine) {
		return func(l *sanziv1.VoucherLine) { l.AssetCode = code }
	}
	open := vch("2025-03-01", "期初余额", dr("151", 100030, asset("GD-001")), cr("301", 100030))
	open.Opening = true
	checkVouchers(t, got, []*sanziv1.Voucher{open, vch("2025-03-04", "购置电脑", dr("151", 30, asset("GD-002")), cr("101", 30))})
}

func TestReadVouchersRefused(t *testing.T) {
	good := "日期,凭证号,摘要,科目编码,借方金额,贷方金额\n2025-01-05,1,收款,102,10,\n2025-01-05,1,收款,501,,10\n"
	tests := []struct {
		name    string
		file    string
		content string
		opt     Options
		is      error
		want    string
	}{
		{"too many rows", "a.csv", good, Options{Org: org, MaxRows: 1}, ErrTooManyRows, "more than 1 data rows"},
		{"too many bytes", "a.csv", good, Options{Org: org, MaxBytes: 40}, ErrTooLarge, "more than 40 bytes"},
		{"missing headers", "a.csv", "日期,借方金额\n2025-01-05,10\n", Options{Org: org}, nil, "missing header: voucher number (accepted: 凭证字号"},
		{"an old .xls", "a.xls", "\xd0\xcf\x11\xe0rest", Options{Org: org}, nil, "save it as .xlsx or CSV"},
		{"no rows", "a.csv", "日期,凭证号,摘要,科目编码,借方金额,贷方金额\n", Options{Org: org}, nil, "no voucher rows"},
		{"no org", "a.csv", good, Options{}, nil, "no org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadVouchers(strings.NewReader(tt.content), tt.file, charttest.National(t), tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("err %v, want one saying %q (is %v)", err, tt.want, tt.is)
			}
		})
	}
}
