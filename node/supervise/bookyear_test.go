package supervise_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/statement"
	"github.com/sanzi/sanzi/node/statement/statementtest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The year (2025) of village B's books the scenario records: each act is
// what the accountant does, through the API, and the voucher lines it
// books (for a business record, the lines the national chart's mappings
// derive; the test writes the same year as a sheet from them).
type yearAct struct {
	date, summary string
	// One of: a transaction (kind set), a contract payment (payment), a
	// hand voucher (neither), the red-ink reversal of the act before it
	// (reverse: recorded as a Reversal of that transaction).
	kind    sanziv1.TransactionKind
	method  sanziv1.PaymentMethod
	cat     string
	party   string
	payment bool
	reverse bool
	lines   []yearLine
}

type yearLine struct {
	account      string
	debit, credt int64 // fen
	party        string
}

func dr(account string, yuan int64, party ...string) yearLine {
	return yearLine{account: account, debit: yuan * 100, party: strings.Join(party, "")}
}

func cr(account string, yuan int64, party ...string) yearLine {
	return yearLine{account: account, credt: yuan * 100, party: strings.Join(party, "")}
}

const (
	income   = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	expense  = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	transfer = sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER
	loanIn   = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN
	loanOut  = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT
	cashPay  = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	bankPay  = sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
)

// yearOpening is B's opening balances (期初余额) on 2025-01-01.
var yearOpening = []yearLine{
	dr("101", 6_000), dr("102", 350_000), dr("112", 20_000, "张建国"), dr("151", 500_000),
	cr("152", 100_000), cr("211", 16_000, "红星建材厂"), cr("301", 600_000), cr("311", 160_000),
}

// yearActs is B's business month by month. The reversal's red-ink voucher
// is dated the day it is recorded (the month's last day, when the test
// records the month).
var yearActs = [][]yearAct{
	1: {
		{date: "2025-01-06", summary: "收取鱼塘承包费", kind: income, method: bankPay, cat: "经营收入", lines: []yearLine{dr("102", 30_000), cr("501", 30_000)}},
		{date: "2025-01-10", summary: "提取备用金", kind: transfer, method: bankPay, lines: []yearLine{dr("101", 3_000), cr("102", 3_000)}},
		{date: "2025-01-15", summary: "购买办公用品", kind: expense, method: cashPay, cat: "管理费用", lines: []yearLine{dr("531", 800), cr("101", 800)}},
	},
	2: {
		{date: "2025-02-20", summary: "收到镇级转移支付补助", kind: income, method: bankPay, cat: "补助收入", lines: []yearLine{dr("102", 50_000), cr("521", 50_000)}},
	},
	3: {
		{date: "2025-03-05", summary: "合同收款", payment: true, lines: []yearLine{dr("102", 12_000), cr("501", 12_000)}},
		{date: "2025-03-18", summary: "村道路灯维修", kind: expense, method: bankPay, cat: "公益支出", lines: []yearLine{dr("532", 8_000), cr("102", 8_000)}},
	},
	4: {
		{date: "2025-04-08", summary: "出售废旧物资", kind: income, method: cashPay, cat: "经营收入", lines: []yearLine{dr("101", 900), cr("501", 900)}},
		{date: "2025-04-25", summary: "支付农产品采收人工", kind: expense, method: bankPay, cat: "经营支出", lines: []yearLine{dr("502", 6_000), cr("102", 6_000)}},
	},
	5: {
		{date: "2025-05-12", summary: "向信用社借入短期借款", kind: loanIn, method: bankPay, party: "农村信用社", lines: []yearLine{dr("102", 40_000), cr("201", 40_000, "农村信用社")}},
		{date: "2025-05-20", summary: "支付办公费（误记公益支出）", kind: expense, method: bankPay, cat: "公益支出", lines: []yearLine{dr("532", 2_500), cr("102", 2_500)}},
		{date: "2025-05-31", summary: "科目错误", reverse: true, lines: []yearLine{dr("532", -2_500), cr("102", -2_500)}},
		{date: "2025-05-21", summary: "支付办公费", kind: expense, method: bankPay, cat: "管理费用", lines: []yearLine{dr("531", 2_500), cr("102", 2_500)}},
	},
	6: {
		{date: "2025-06-30", summary: "计提村干部报酬", lines: []yearLine{dr("531", 36_000), cr("212", 36_000)}},
		{date: "2025-06-30", summary: "计提上半年固定资产折旧", lines: []yearLine{dr("531", 5_000), cr("152", 5_000)}},
	},
	7: {
		{date: "2025-07-05", summary: "发放村干部报酬", kind: expense, method: bankPay, cat: "应付工资", lines: []yearLine{dr("212", 36_000), cr("102", 36_000)}},
		{date: "2025-07-15", summary: "合同收款", payment: true, lines: []yearLine{dr("102", 12_000), cr("501", 12_000)}},
	},
	8: {
		{date: "2025-08-15", summary: "购入化肥", kind: expense, method: bankPay, cat: "库存物资", lines: []yearLine{dr("121", 4_500), cr("102", 4_500)}},
		{date: "2025-08-20", summary: "现金存入银行", kind: transfer, method: cashPay, lines: []yearLine{dr("102", 1_000), cr("101", 1_000)}},
	},
	9: {
		{date: "2025-09-10", summary: "收到合作社分红", kind: income, method: bankPay, cat: "投资收益", lines: []yearLine{dr("102", 3_000), cr("511", 3_000)}},
		{date: "2025-09-20", summary: "借给张建国", kind: loanOut, method: bankPay, party: "张建国", lines: []yearLine{dr("112", 10_000, "张建国"), cr("102", 10_000)}},
	},
	10: {
		{date: "2025-10-18", summary: "收回张建国欠款", kind: income, method: bankPay, cat: "应收款", party: "张建国", lines: []yearLine{dr("102", 20_000), cr("112", 20_000, "张建国")}},
	},
	11: {
		{date: "2025-11-20", summary: "归还信用社借款", kind: expense, method: bankPay, cat: "短期借款", party: "农村信用社", lines: []yearLine{dr("201", 40_000, "农村信用社"), cr("102", 40_000)}},
		{date: "2025-11-20", summary: "支付借款利息", kind: expense, method: bankPay, cat: "其他支出", lines: []yearLine{dr("533", 1_200), cr("102", 1_200)}},
		{date: "2025-11-25", summary: "支付红星建材厂欠款", kind: expense, method: bankPay, cat: "应付款", party: "红星建材厂", lines: []yearLine{dr("211", 16_000, "红星建材厂"), cr("102", 16_000)}},
	},
	12: {
		{date: "2025-12-10", summary: "收到存款利息", kind: income, method: bankPay, cat: "其他收入", lines: []yearLine{dr("102", 600), cr("522", 600)}},
		{date: "2025-12-31", summary: "计提下半年固定资产折旧", lines: []yearLine{dr("531", 5_000), cr("152", 5_000)}},
		// 结转: the year's income and expense into 本年收益.
		{date: "2025-12-31", summary: "结转本年收入", lines: []yearLine{dr("501", 54_900), dr("511", 3_000), dr("521", 50_000), dr("522", 600), cr("321", 108_500)}},
		{date: "2025-12-31", summary: "结转本年支出", lines: []yearLine{dr("321", 64_500), cr("502", 6_000), cr("531", 49_300), cr("532", 8_000), cr("533", 1_200)}},
	},
}

// yearTransfer moves the year's 本年收益 to 收益分配, recorded after the
// check that 净收益 equals 本年收益's change.
var yearTransfer = yearAct{date: "2025-12-31", summary: "结转本年收益", lines: []yearLine{dr("321", 44_000), cr("322", 44_000)}}

func voucherLines(ls []yearLine) []*sanziv1.VoucherLine {
	var out []*sanziv1.VoucherLine
	for _, l := range ls {
		vl := &sanziv1.VoucherLine{Account: l.account, DebitFen: l.debit, CreditFen: l.credt, Counterparty: l.party}
		if l.account == "151" {
			vl.AssetCode = "GD-001"
		}
		out = append(out, vl)
	}
	return out
}

// yearSheet writes the year as accountants export it: the opening rows,
// then one row per voucher line, numbered per month in the order the
// vouchers were recorded (the red-ink voucher as a voucher of negative
// amounts), the carry-forward and transfer last.
func yearSheet() string {
	var b strings.Builder
	b.WriteString("日期,凭证字号,摘要,科目编码,借方金额,贷方金额,往来单位,资产编号\n")
	row := func(date, number, summary string, l yearLine) {
		amt := func(f int64) string {
			if f == 0 {
				return ""
			}
			return `"` + money.FormatFen(f) + `"`
		}
		asset := ""
		if l.account == "151" {
			asset = "GD-001"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s\n", date, number, summary, l.account, amt(l.debit), amt(l.credt), l.party, asset)
	}
	for _, l := range yearOpening {
		row("2025-01-01", "期初", "期初余额", l)
	}
	for m := 1; m <= 12; m++ {
		acts := yearActs[m]
		if m == 12 {
			acts = append(acts[:len(acts):len(acts)], yearTransfer)
		}
		for i, a := range acts {
			summary := a.summary
			if a.reverse {
				summary = "红字冲销：" + a.summary
			}
			for _, l := range a.lines {
				row(a.date, fmt.Sprintf("记-%d", i+1), summary, l)
			}
		}
	}
	return b.String()
}

// render lays a statement out as its golden file holds it: one row a
// line, code, label indented by level, amounts in yuan.
func render(s *sanziv1.Statement) string {
	return fmt.Sprintf("%s\t%s\n", s.GetTitle(), s.GetPeriod()) + statementtest.Rows(s)
}

// golden is the file's rows, its '#' header (the hand check) left out.
func golden(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// yearBalance is account's balance (debit side positive) that B's opening
// and its acts of months 1 to through leave.
func yearBalance(account string, through int) int64 {
	var sum int64
	add := func(ls []yearLine) {
		for _, l := range ls {
			if l.account == account {
				sum += l.debit - l.credt
			}
		}
	}
	add(yearOpening)
	for m := 1; m <= through; m++ {
		for _, a := range yearActs[m] {
			add(a.lines)
		}
	}
	return sum
}

// fieldsOf is the fields a refusal's BadRequest names.
func fieldsOf(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

func row(t *testing.T, s *sanziv1.Statement, code string) []int64 {
	t.Helper()
	for _, r := range s.GetRows() {
		if r.GetCode() == code {
			return r.GetAmountsFen()
		}
	}
	t.Fatalf("%s %s has no row %s", s.GetTitle(), s.GetPeriod(), code)
	return nil
}

// TestBooksYearThroughTheAPI is issue 19's scenario: a year (2025) of
// village B recorded through the BooksService and the business services
// as today, twelve month-end closes, the statements checked every month
// and against golden files checked by hand; the same year imported from a
// sheet into village A gives the same statements; the town's sums are the
// villages' sums; a closed month refuses a reversal dated in it, and
// reopens only with the town's approval, in the trail.
func TestBooksYearThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2025-01-01 09:00")}
	dir := t.TempDir()
	orgs := []string{townOrg, villageA, villageB}
	open := func(org string) node {
		if err := os.MkdirAll(filepath.Join(dir, org), 0o750); err != nil {
			t.Fatal(err)
		}
		n, closeFn := openOrgBooks(t, filepath.Join(dir, org), filepath.Join(dir, "keys"), orgs, []string{org}, clock, nil, false)
		t.Cleanup(closeFn)
		return n
	}
	town, a, b := open(townOrg), open(villageA), open(villageB)
	apiB, apiA, apiTown := api.New(b.Books, b.Supervisor), api.New(a.Books, a.Supervisor), api.New(town.Books, town.Supervisor)
	as := func(org, account string, roles []authz.Role, posts ...string) context.Context {
		return authz.NewContext(ctx, authz.Principal{Account: account, Org: org, Roles: roles, Posts: posts})
	}
	acctB := as(villageB, "B村会计", []authz.Role{authz.RoleAccountant}, "village.accountant")
	acctA := as(villageA, "A村会计", []authz.Role{authz.RoleAccountant}, "village.accountant")
	townAcct := as(townOrg, "镇代理会计", []authz.Role{authz.RoleTownReviewer}, "town.agency_accountant")

	statementOf := func(t *testing.T, svc *api.Service, c context.Context, kind sanziv1.StatementKind, org, period string) *sanziv1.Statement {
		t.Helper()
		r, err := svc.GetStatement(c, &sanziv1.GetStatementRequest{Kind: kind, Org: org, Period: period})
		if err != nil {
			t.Fatalf("%s of %s %s: %v", kind, org, period, err)
		}
		return r.GetStatement()
	}
	const (
		bs = sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET
		is = sanziv1.StatementKind_STATEMENT_KIND_INCOME
		tb = sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE
	)
	hand := func(t *testing.T, act yearAct, opening bool) {
		t.Helper()
		_, err := apiB.RecordVoucher(acctB, &sanziv1.RecordVoucherRequest{Voucher: &sanziv1.Voucher{Org: villageB, BusinessDate: act.date,
			Summary: act.summary, Lines: voucherLines(act.lines), Opening: opening}})
		if err != nil {
			t.Fatalf("voucher %s %s: %v", act.date, act.summary, err)
		}
	}

	var contractID string
	t.Run("opening balances and the contract", func(t *testing.T) {
		hand(t, yearAct{date: "2025-01-01", summary: "期初余额", lines: yearOpening}, true)
		r, err := apiB.RecordContract(acctB, &sanziv1.RecordContractRequest{Author: "B村会计", Contract: &sanziv1.Contract{
			Org: villageB, Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: "租-2025-01",
			Counterparty: &sanziv1.Counterparty{Name: "李承包", BankAccount: "6222020300110000001"},
			Object:       &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "鱼塘-1", AreaMu: 8},
			TermStart:    "2025-01-01", TermEnd: "2027-12-31", AnnualAmountFen: 2_400_000,
			AwardMethod: sanziv1.AwardMethod_AWARD_METHOD_TENDER, SignedDate: "2025-01-01", Summary: "鱼塘租赁"}})
		if err != nil {
			t.Fatal(err)
		}
		contractID = r.GetEntry().GetId()
	})

	var lastTx string
	invoices := 0
	netIncome := int64(0)
	for m := 1; m <= 12; m++ {
		month := fmt.Sprintf("2025-%02d", m)
		end := time.Date(2025, time.Month(m)+1, 0, 0, 0, 0, 0, cst).Format(time.DateOnly)
		t.Run("month "+month, func(t *testing.T) {
			clock.Set(cstTime(end + " 17:00"))
			for _, act := range yearActs[m] {
				switch {
				case act.reverse:
					if _, err := apiB.RecordReversal(acctB, &sanziv1.RecordReversalRequest{Author: "B村会计",
						Reversal: &sanziv1.Reversal{Org: villageB, TargetId: lastTx, Reason: act.summary}}); err != nil {
						t.Fatalf("reverse %s: %v", lastTx, err)
					}
				case act.payment:
					if _, err := apiB.RecordContractPayment(acctB, &sanziv1.RecordContractPaymentRequest{Author: "B村会计", Payment: &sanziv1.ContractPayment{
						Org: villageB, ContractId: contractID, AmountFen: act.lines[0].debit, PaymentMethod: bankPay, BusinessDate: act.date}}); err != nil {
						t.Fatalf("payment %s: %v", act.date, err)
					}
				case act.kind != 0:
					tx := &sanziv1.Transaction{Org: villageB, Kind: act.kind, AmountFen: act.lines[0].debit, PaymentMethod: act.method,
						Category: act.cat, BusinessDate: act.date, Summary: act.summary,
						Counterparty: &sanziv1.Counterparty{Name: act.party}}
					if act.party == "" {
						tx.Counterparty.Name = "某供应商"
					}
					if act.kind == expense {
						invoices++
						tx.InvoiceCode, tx.InvoiceNumber = "035001900111", fmt.Sprintf("%08d", 20_250_000+invoices)
					}
					r, err := apiB.RecordTransaction(acctB, &sanziv1.RecordTransactionRequest{Author: "B村会计", Transaction: tx})
					if err != nil {
						t.Fatalf("transaction %s %s: %v", act.date, act.summary, err)
					}
					lastTx = r.GetEntry().GetId()
				default:
					hand(t, act, false)
				}
			}
			// Every voucher the month's acts book, derived or by hand.
			list, err := apiB.ListVouchers(acctB, &sanziv1.ListVouchersRequest{Org: villageB, Month: month})
			if err != nil {
				t.Fatal(err)
			}
			vs := list.GetVouchers()
			if m == 1 && len(vs) > 0 && vs[0].GetVoucher().GetOpening() {
				vs = vs[1:]
			}
			if len(vs) != len(yearActs[m]) {
				t.Fatalf("%d vouchers in %s besides the opening balances, want %d (one for each act)", len(vs), month, len(yearActs[m]))
			}
			for i, v := range vs {
				want := yearActs[m][i].lines
				got := v.GetVoucher().GetLines()
				for j, l := range want {
					if j >= len(got) || got[j].GetAccount() != l.account || got[j].GetDebitFen() != l.debit || got[j].GetCreditFen() != l.credt {
						t.Fatalf("voucher %d of %s (%s): %v, want %+v", i+1, month, v.GetVoucher().GetSummary(), got, want)
					}
				}
			}
			if m == 12 {
				// 净收益 equals the change in 本年收益 before its transfer.
				inc := statementOf(t, apiB, acctB, is, villageB, month)
				trial := statementOf(t, apiB, acctB, tb, villageB, month)
				r321 := row(t, trial, "321") // 期初借, 期初贷, 本期借, 本期贷, 累计借, 累计贷, 期末借, 期末贷
				change := (r321[7] - r321[6]) - (r321[1] - r321[0])
				netIncome = row(t, inc, statement.LineNetIncome)[0]
				t.Logf("净收益 %s yuan; 本年收益 from %s to %s yuan", money.FormatFen(netIncome), money.FormatFen(r321[1]-r321[0]), money.FormatFen(r321[7]-r321[6]))
				if netIncome != change || netIncome != 4_400_000 {
					t.Fatalf("净收益 %d fen, change in 本年收益 %d fen, want both 4400000", netIncome, change)
				}
				hand(t, yearTransfer, false)
			}
			clock.Set(cstTime(end+" 09:00").AddDate(0, 0, 1))
			// The accountant counts the cash and reads the bank statement:
			// the year's acts leave these at the month's end.
			bank, cash := yearBalance("102", m), yearBalance("101", m)
			closeReq := &sanziv1.CloseMonthRequest{Org: villageB, Month: month, BankStatementFen: &bank, CashCountedFen: &cash}
			if m == 3 {
				// Without the cash counted, and with a statement that does
				// not show the street lights' 8,000.00 yet: refused, each
				// beside its field.
				short := bank + 800_000
				_, err := apiB.CloseMonth(acctB, &sanziv1.CloseMonthRequest{Org: villageB, Month: month, BankStatementFen: &bank})
				if f := fieldsOf(err); status.Code(err) != codes.InvalidArgument || len(f) != 1 || f[0] != "cashCountedFen" {
					t.Fatalf("close without the cash counted: %v (fields %q)", err, f)
				}
				_, err = apiB.CloseMonth(acctB, &sanziv1.CloseMonthRequest{Org: villageB, Month: month, BankStatementFen: &short, CashCountedFen: &cash})
				if f := fieldsOf(err); status.Code(err) != codes.FailedPrecondition || len(f) != 1 || f[0] != "bankStatementFen" ||
					!strings.Contains(err.Error(), "8,000.00 yuan more on the statement") {
					t.Fatalf("close with the statement 8,000.00 over: %v (fields %q)", err, f)
				}
			}
			if _, err := apiB.CloseMonth(acctB, closeReq); err != nil {
				t.Fatalf("close %s: %v", month, err)
			}
			sheet := statementOf(t, apiB, acctB, bs, villageB, month)
			assets, total := row(t, sheet, statement.LineTotalAssets), row(t, sheet, statement.LineTotalLiabilitiesEquity)
			t.Logf("%s 资产总计 %s = 负债和所有者权益总计 %s", month, money.FormatFen(assets[1]), money.FormatFen(total[1]))
			if assets[1] != total[1] || assets[0] != total[0] {
				t.Fatalf("%s: 资产总计 %v, 负债和所有者权益总计 %v", month, assets, total)
			}
		})
	}

	var sheetB, incomeB *sanziv1.Statement
	t.Run("golden December statements", func(t *testing.T) {
		sheetB = statementOf(t, apiB, acctB, bs, villageB, "2025-12")
		incomeB = statementOf(t, apiB, acctB, is, villageB, "2025-12")
		statementtest.CompareLines(t, "balance sheet", render(sheetB), golden(t, "books-year-balance-sheet-2025-12.golden"))
		statementtest.CompareLines(t, "income statement", render(incomeB), golden(t, "books-year-income-2025.golden"))
		r, err := apiB.GetStatement(acctB, &sanziv1.GetStatementRequest{Kind: bs, Org: villageB, Period: "2025-12", Xlsx: true})
		if err != nil || len(r.GetXlsx()) == 0 || r.GetFileName() != villageB+"-balance-sheet-2025-12.xlsx" {
			t.Fatalf("xlsx: %v, %d bytes, %q", err, len(r.GetXlsx()), r.GetFileName())
		}
	})

	t.Run("the same year imported from a sheet", func(t *testing.T) {
		content := []byte(yearSheet())
		// A bad row is listed with its line and column, and nothing is recorded.
		bad := append([]byte(yearSheet()), "2025-12-31,记-9,错账,999,100.00,,,\n2025-12-31,记-9,错账,101,,100.00,,\n"...)
		lines := strings.Count(string(bad), "\n")
		r0, err := apiA.ImportBooks(acctA, &sanziv1.ImportBooksRequest{Org: villageA, Content: bad})
		if err != nil || len(r0.GetProblems()) != 1 || r0.GetProblems()[0].GetLine() != int32(lines-1) || r0.GetProblems()[0].GetColumn() != "科目编码" {
			t.Fatalf("sheet with an unknown account: %v %v, want one problem on line %d, 科目编码", err, r0.GetProblems(), lines-1)
		}
		t.Logf("bad row: line %d %s: %s", r0.GetProblems()[0].GetLine(), r0.GetProblems()[0].GetColumn(), r0.GetProblems()[0].GetReason())
		dry, err := apiA.ImportBooks(acctA, &sanziv1.ImportBooksRequest{Org: villageA, Content: content, ValidateOnly: true})
		if err != nil || len(dry.GetProblems()) > 0 {
			t.Fatalf("validate only: %v %v", err, dry.GetProblems())
		}
		if l, _ := apiA.ListVouchers(acctA, &sanziv1.ListVouchersRequest{Org: villageA}); len(l.GetVouchers()) != 0 {
			t.Fatalf("validate_only recorded %d vouchers", len(l.GetVouchers()))
		}
		r, err := apiA.ImportBooks(acctA, &sanziv1.ImportBooksRequest{Org: villageA, Content: content})
		if err != nil || len(r.GetProblems()) > 0 {
			t.Fatalf("import: %v %v", err, r.GetProblems())
		}
		t.Logf("imported %d vouchers, %d lines", r.GetVouchers(), r.GetLines())
		for _, kind := range []sanziv1.StatementKind{bs, is, tb} {
			for _, period := range []string{"2025-03", "2025-06", "2025-12"} {
				got := statementOf(t, apiA, acctA, kind, villageA, period)
				want := statementOf(t, apiB, acctB, kind, villageB, period)
				if got.GetOrg() != villageA {
					t.Fatalf("org %s", got.GetOrg())
				}
				statementtest.CompareLines(t, fmt.Sprintf("%s %s imported", kind, period), render(got), render(want))
			}
		}
		// A second import of the opening balances is refused whole.
		again, err := apiA.ImportBooks(acctA, &sanziv1.ImportBooksRequest{Org: villageA, Content: content})
		if err != nil || len(again.GetProblems()) == 0 || !strings.Contains(again.GetProblems()[0].GetReason(), "opening balances already") {
			t.Fatalf("second import: %v %v", err, again.GetProblems())
		}
	})

	t.Run("the town sums its villages", func(t *testing.T) {
		ship(t, a, town, villageA)
		ship(t, b, town, villageB)
		for _, kind := range []sanziv1.StatementKind{bs, is, tb} {
			sum := statementOf(t, apiTown, townAcct, kind, townOrg, "2025-12")
			pa := statementOf(t, apiA, acctA, kind, villageA, "2025-12")
			pb := statementOf(t, apiB, acctB, kind, villageB, "2025-12")
			if sum.GetOrgs() != 2 || len(sum.GetRows()) != len(pa.GetRows()) {
				t.Fatalf("%s of the town: %d orgs, %d rows", kind, sum.GetOrgs(), len(sum.GetRows()))
			}
			for i, r := range sum.GetRows() {
				for j, v := range r.GetAmountsFen() {
					if want := pa.GetRows()[i].GetAmountsFen()[j] + pb.GetRows()[i].GetAmountsFen()[j]; v != want {
						t.Errorf("%s row %s %s column %d: %d, want %d", kind, r.GetCode(), r.GetLabel(), j, v, want)
					}
				}
			}
		}
		sum := statementOf(t, apiTown, townAcct, bs, townOrg, "2025-12")
		t.Logf("town 资产总计 %s yuan over %d villages", money.FormatFen(row(t, sum, statement.LineTotalAssets)[1]), sum.GetOrgs())
		// A village's books at the town: the same statement as at the village.
		statementtest.CompareLines(t, "B at the town", render(statementOf(t, apiTown, townAcct, bs, villageB, "2025-12")), render(sheetB))
		if _, err := apiTown.GetStatement(townAcct, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, Org: townOrg, Period: "2025-12"}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("a town's cash journal: %v, want InvalidArgument", err)
		}
	})

	t.Run("the town lists a village's vouchers", func(t *testing.T) {
		atB, err := apiB.ListVouchers(acctB, &sanziv1.ListVouchersRequest{Org: villageB})
		if err != nil {
			t.Fatal(err)
		}
		atTown, err := apiTown.ListVouchers(townAcct, &sanziv1.ListVouchersRequest{Org: villageB})
		if err != nil || atTown.GetTotalSize() != atB.GetTotalSize() || atB.GetTotalSize() == 0 {
			t.Fatalf("B's vouchers at the town: %d (%v), at B: %d", atTown.GetTotalSize(), err, atB.GetTotalSize())
		}
		cash := statementOf(t, apiB, acctB, sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, villageB, "2025-08")
		if len(cash.GetRows()) == 0 {
			t.Fatal("August's cash journal has no rows")
		}
	})

	t.Run("bad requests name the field", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			c     context.Context
			svc   *api.Service
			req   *sanziv1.GetStatementRequest
			code  codes.Code
			field string
		}{
			{"no kind", acctB, apiB, &sanziv1.GetStatementRequest{Org: villageB, Period: "2025-12"}, codes.InvalidArgument, "kind"},
			{"month 13", acctB, apiB, &sanziv1.GetStatementRequest{Kind: bs, Org: villageB, Period: "2025-13"}, codes.InvalidArgument, "period"},
			{"a year", acctB, apiB, &sanziv1.GetStatementRequest{Kind: bs, Org: villageB, Period: "2025"}, codes.InvalidArgument, "period"},
			{"subsidiary ledger without account", acctB, apiB, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, Org: villageB, Period: "2025-12"}, codes.InvalidArgument, "account"},
			{"a town's bank journal", townAcct, apiTown, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL, Org: townOrg, Period: "2025-12"}, codes.InvalidArgument, "kind"},
			{"another village", acctB, apiB, &sanziv1.GetStatementRequest{Kind: bs, Org: villageA, Period: "2025-12"}, codes.PermissionDenied, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tc.svc.GetStatement(tc.c, tc.req)
				st := status.Convert(err)
				if st.Code() != tc.code {
					t.Fatalf("%v, want %s", err, tc.code)
				}
				if tc.field == "" {
					return
				}
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 && br.GetFieldViolations()[0].GetField() == tc.field {
						return
					}
				}
				t.Fatalf("%v names no field %s", err, tc.field)
			})
		}
		apiA.SetSheetLimits(api.SheetLimits{MaxBytes: 100})
		defer apiA.SetSheetLimits(api.SheetLimits{})
		if _, err := apiA.ImportBooks(acctA, &sanziv1.ImportBooksRequest{Org: villageA, Content: []byte(yearSheet())}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "content") {
			t.Fatalf("a sheet over the limit: %v", err)
		}
	})

	t.Run("closed month refuses a reversal, reopens with the town's approval", func(t *testing.T) {
		clock.Set(cstTime("2026-01-05 09:00"))
		march, err := apiB.ListVouchers(acctB, &sanziv1.ListVouchersRequest{Org: villageB, Month: "2025-03"})
		if err != nil {
			t.Fatal(err)
		}
		target := march.GetVouchers()[1].GetEntry().GetId()
		reverse := func() error {
			_, err := apiB.ReverseVoucher(acctB, &sanziv1.ReverseVoucherRequest{Id: target, BusinessDate: "2025-03-31", Reason: "金额有误"})
			return err
		}
		if err := reverse(); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "2025-03") {
			t.Fatalf("reversal dated in closed March: %v", err)
		}
		p, err := apiB.OpenProcedure(acctB, &sanziv1.OpenProcedureRequest{Author: "B村会计", Procedure: &sanziv1.Procedure{
			Org: villageB, MatterCode: catalog.BooksReopen, Summary: "冲销三月错账", Period: "2025-03"}})
		if err != nil {
			t.Fatal(err)
		}
		pid := p.GetProcedure().GetEntry().GetId()
		reopen := func() (*sanziv1.ReopenMonthResponse, error) {
			return apiB.ReopenMonth(acctB, &sanziv1.ReopenMonthRequest{Org: villageB, Month: "2025-03", Reason: "冲销三月错账", ProcedureId: pid})
		}
		if _, err := apiB.DecideStep(acctB, &sanziv1.DecideStepRequest{Author: "B村会计", Decision: approve(villageB, pid, "request", "village.accountant")}); err != nil {
			t.Fatal(err)
		}
		if _, err := reopen(); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "no town step is approved") {
			t.Fatalf("reopen without the town's approval: %v", err)
		}
		ship(t, b, town, villageB)
		if _, err := apiTown.DecideStep(townAcct, &sanziv1.DecideStepRequest{Author: "镇代理会计", Decision: approve(villageB, pid, "approve", "town.agency_accountant")}); err != nil {
			t.Fatalf("the town approves: %v", err)
		}
		ship(t, town, b, townOrg)
		r, err := reopen()
		if err != nil {
			t.Fatalf("reopen with the town's approval: %v", err)
		}
		if err := reverse(); err != nil {
			t.Fatalf("reversal in reopened March: %v", err)
		}
		entries, err := apiB.ListEntries(acctB, &sanziv1.ListEntriesRequest{Origin: villageB, FromSeq: r.GetEntry().GetSeq(), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		meta := entries.GetEntries()[0].GetMeta()
		t.Logf("trail: %s %s by %s", meta.GetId(), meta.GetType(), meta.GetAuthor())
		if meta.GetType() != sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN || meta.GetAuthor() != "B村会计" {
			t.Fatalf("trail entry %+v, want MONTH_REOPEN by B村会计", meta)
		}
	})
}
