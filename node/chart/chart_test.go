package chart

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestNationalChartIsTheStandard compares the national chart, code by code
// and in order, with the appendix of the standard as typed in testdata,
// and each account's class with the heading it is printed under.
func TestNationalChartIsTheStandard(t *testing.T) {
	f, err := os.Open("testdata/appendix-2023.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	classes := map[string]sanziv1.AccountClass{
		"一、资产类": asset, "二、负债类": liability, "三、所有者权益类": equity, "四、成本类": cost, "五、损益类": pl,
	}
	accts := National().GetAccounts()
	var class sanziv1.AccountClass
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if c, ok := classes[line]; ok {
			class = c
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("bad line %q", line)
		}
		if no, _ := strconv.Atoi(cols[0]); no != n+1 {
			t.Fatalf("line %q: 序号 %s, want %d", line, cols[0], n+1)
		}
		if n >= len(accts) {
			t.Fatalf("the standard has %s %s, the chart ends at %d accounts", cols[1], cols[2], len(accts))
		}
		a := accts[n]
		if a.GetCode() != cols[1] || a.GetName() != cols[2] || a.GetClass() != class {
			t.Errorf("序号 %s: chart has %s %s (%s), the standard %s %s (%s)", cols[0], a.GetCode(), a.GetName(), a.GetClass(), cols[1], cols[2], class)
		}
		n++
	}
	if n != len(accts) || n != 42 {
		t.Errorf("the standard lists %d accounts, the chart %d; want 42", n, len(accts))
	}
	for _, a := range accts {
		// Contra accounts aside, a class's accounts sit on its side.
		want := dr
		switch a.GetClass() {
		case liability, equity:
			want = cr
		case pl:
			if strings.Contains(a.GetName(), "收入") || strings.Contains(a.GetName(), "收益") {
				want = cr
			}
		}
		if strings.HasPrefix(a.GetName(), "累计") || strings.HasSuffix(a.GetName(), "累计折旧") {
			want = cr
		}
		if a.GetSide() != want {
			t.Errorf("%s %s: side %s, want %s", a.GetCode(), a.GetName(), a.GetSide(), want)
		}
	}
}

func withSub(subs ...*sanziv1.LedgerAccount) *sanziv1.ChartOfAccounts {
	c := National()
	c.Accounts = append(c.Accounts, subs...)
	return c
}

func TestValidate(t *testing.T) {
	bankA := &sanziv1.LedgerAccount{Code: "10201", Name: "银行存款-农商行", Class: asset, Side: dr, Parent: "102"}
	cases := []struct {
		name  string
		chart func() *sanziv1.ChartOfAccounts
		field string // "" = valid
	}{
		{"national", National, ""},
		{"district sub-account", func() *sanziv1.ChartOfAccounts { return withSub(bankA) }, ""},
		{"sub-sub-account", func() *sanziv1.ChartOfAccounts {
			return withSub(bankA, &sanziv1.LedgerAccount{Code: "1020101", Name: "农商行基本户", Class: asset, Side: dr, Parent: "10201"})
		}, ""},
		{"renamed national", func() *sanziv1.ChartOfAccounts { c := National(); c.Accounts[0].Name = "现金"; return c }, "chart.accounts[0]"},
		{"national side flipped", func() *sanziv1.ChartOfAccounts {
			c := National()
			c.Accounts[12].Side = dr
			return c
		}, "chart.accounts[12]"},
		{"national removed", func() *sanziv1.ChartOfAccounts { c := National(); c.Accounts = c.Accounts[1:]; return c }, "chart.accounts"},
		{"new national code", func() *sanziv1.ChartOfAccounts {
			return withSub(&sanziv1.LedgerAccount{Code: "191", Name: "新科目", Class: asset, Side: dr})
		}, "chart.accounts[42].parent"},
		{"sub code not under parent", func() *sanziv1.ChartOfAccounts {
			return withSub(&sanziv1.LedgerAccount{Code: "10301", Name: "x", Class: asset, Side: dr, Parent: "102"})
		}, "chart.accounts[42].code"},
		{"sub of other class", func() *sanziv1.ChartOfAccounts {
			return withSub(&sanziv1.LedgerAccount{Code: "10201", Name: "x", Class: liability, Side: dr, Parent: "102"})
		}, "chart.accounts[42].class"},
		{"duplicate name", func() *sanziv1.ChartOfAccounts {
			return withSub(&sanziv1.LedgerAccount{Code: "10201", Name: "库存现金", Class: asset, Side: dr, Parent: "102"})
		}, "chart.accounts[42].name"},
		{"mapping to unknown account", func() *sanziv1.ChartOfAccounts {
			c := National()
			c.Mappings[0].CreditAccount = "109"
			return c
		}, "chart.mappings[0].credit_account"},
		{"mapping to a parent", func() *sanziv1.ChartOfAccounts {
			c := withSub(bankA)
			return c // the national mappings credit 102, which now has a sub-account
		}, "chart.mappings[1].credit_account"},
		{"appraisal with a credit account", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, apprEntry).CreditAccount = Reserve
			return c
		}, fmt.Sprintf("chart.mappings[%d].credit_account", indexOf(National(), apprEntry))},
		{"disposal without its loss account", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, dispEntry).LossAccount = ""
			return c
		}, fmt.Sprintf("chart.mappings[%d].loss_account", indexOf(National(), dispEntry))},
		{"disposal gain to an unknown account", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, dispEntry).GainAccount = "529"
			return c
		}, fmt.Sprintf("chart.mappings[%d].gain_account", indexOf(National(), dispEntry))},
		{"transaction with a gain account", func() *sanziv1.ChartOfAccounts {
			c := National()
			c.Mappings[0].GainAccount = OtherIncome
			return c
		}, "chart.mappings[0].gain_account"},
		{"disposal with a kind", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, dispEntry).Kind = income
			return c
		}, fmt.Sprintf("chart.mappings[%d].kind", indexOf(National(), dispEntry))},
		{"appraisal paid in cash", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, apprEntry).PaymentMethod = cash
			return c
		}, fmt.Sprintf("chart.mappings[%d].payment_method", indexOf(National(), apprEntry))},
		{"disposal loss booked by category", func() *sanziv1.ChartOfAccounts {
			c := National()
			mappingOf(c, dispEntry).CreditAccount = CategoryAccount
			return c
		}, ""},
	}
	// "district sub-account" above maps to 102 as well: only with its
	// mappings moved to the sub-account is a chart with one valid.
	cases[1].chart = func() *sanziv1.ChartOfAccounts { return moveBank(withSub(bankA)) }
	cases[2].chart = func() *sanziv1.ChartOfAccounts {
		return moveBank(withSub(bankA, &sanziv1.LedgerAccount{Code: "1020101", Name: "农商行基本户", Class: asset, Side: dr, Parent: "10201"}), "1020101")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.chart())
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field != "" && !errors.As(err, &fe):
				t.Fatalf("err %v, want a FieldError at %s", err, tc.field)
			case tc.field != "" && fe.Field != tc.field:
				t.Fatalf("field %s (%v), want %s", fe.Field, err, tc.field)
			}
		})
	}
}

// indexOf is the index of the first mapping of source in c.
func indexOf(c *sanziv1.ChartOfAccounts, source sanziv1.EntryType) int {
	for i, m := range c.GetMappings() {
		if m.GetSource() == source {
			return i
		}
	}
	return -1
}

func mappingOf(c *sanziv1.ChartOfAccounts, source sanziv1.EntryType) *sanziv1.VoucherMapping {
	return c.Mappings[indexOf(c, source)]
}

func moveBank(c *sanziv1.ChartOfAccounts, to ...string) *sanziv1.ChartOfAccounts {
	code := "10201"
	if len(to) > 0 {
		code = to[0]
	}
	for _, m := range c.Mappings {
		if m.DebitAccount == Bank {
			m.DebitAccount = code
		}
		if m.CreditAccount == Bank {
			m.CreditAccount = code
		}
	}
	return c
}

func TestMap(t *testing.T) {
	ch, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	card := sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD
	cases := []struct {
		name          string
		source        sanziv1.EntryType
		kind          sanziv1.TransactionKind
		method        sanziv1.PaymentMethod
		category      string
		debit, credit string
		err           string
	}{
		{"expense in cash by name", tx, expense, cash, "管理费用", "531", Cash, ""},
		{"expense by card by code", tx, expense, card, "532", "532", Bank, ""},
		{"income to bank", tx, income, bank, "经营收入", Bank, "501", ""},
		{"subsidy in cash", tx, income, cash, "补助收入", Cash, "521", ""},
		{"cash banked", tx, transfer, cash, "", Bank, Cash, ""},
		{"long loan", tx, loanIn, bank, "长期借款及应付款", Bank, "231", ""},
		{"short loan", tx, loanIn, bank, "", Bank, ShortLoans, ""},
		{"loan out", tx, loanOut, cash, "", Receivable, Cash, ""},
		{"rent received", payEntry, 0, bank, "", Bank, OperatingIncome, ""},
		{"unknown category", tx, expense, cash, "杂费", "", "", `category: "杂费" names no account of the chart`},
		{"no category", tx, income, cash, "", "", "", "category: empty"},
		{"asset registration", sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, 0, 0, "", "", "", ErrNoMapping.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, c, err := ch.Map(tc.source, tc.kind, tc.method, tc.category)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || d != tc.debit || c != tc.credit {
				t.Fatalf("got %s/%s %v, want %s/%s", d, c, err, tc.debit, tc.credit)
			}
		})
	}
}

// TestMapAccounts: a disposal and an appraisal get their gain and loss
// accounts from the national mappings, a transaction none; "{category}"
// in an asset mapping resolves the asset's registered category.
func TestMapAccounts(t *testing.T) {
	ch, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := withSub(&sanziv1.LedgerAccount{Code: "15101", Name: "房屋建筑物", Class: asset, Side: dr, Parent: "151"},
		&sanziv1.LedgerAccount{Code: "15102", Name: "机器设备", Class: asset, Side: dr, Parent: "151"})
	for _, m := range c.Mappings {
		switch m.Source {
		case dispEntry:
			m.CreditAccount = CategoryAccount
		case apprEntry:
			m.DebitAccount = CategoryAccount
		}
	}
	byCategory, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		ch       *Chart
		source   sanziv1.EntryType
		category string
		want     Accounts
		err      string
	}{
		{"disposal", ch, dispEntry, "房屋建筑物", Accounts{Debit: Bank, Credit: FixedAssets, Gain: OtherIncome, Loss: OtherExpense}, ""},
		{"disposal in cash", ch, dispEntry, "房屋建筑物", Accounts{Debit: Cash, Credit: FixedAssets, Gain: OtherIncome, Loss: OtherExpense}, ""},
		{"appraisal", ch, apprEntry, "机器设备", Accounts{Debit: FixedAssets, Gain: Reserve, Loss: Reserve}, ""},
		{"transaction", ch, txEntry, "管理费用", Accounts{Debit: "531", Credit: Bank}, ""},
		{"disposal by category", byCategory, dispEntry, "机器设备", Accounts{Debit: Bank, Credit: "15102", Gain: OtherIncome, Loss: OtherExpense}, ""},
		{"appraisal by category", byCategory, apprEntry, "房屋建筑物", Accounts{Debit: "15101", Gain: Reserve, Loss: Reserve}, ""},
		{"category naming no account", byCategory, dispEntry, "农业设施", Accounts{}, `"农业设施" names no account`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, method := sanziv1.TransactionKind(0), sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
			if tc.source == txEntry {
				kind = expense
			}
			if strings.HasSuffix(tc.name, "in cash") {
				method = cash
			}
			got, err := tc.ch.MapAccounts(tc.source, kind, method, tc.category)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestNewCopiesAndDefaults(t *testing.T) {
	src := National()
	ch, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	src.Accounts[0].Name = "changed"
	if a, _ := ch.Account(Cash); a.GetName() != "库存现金" {
		t.Errorf("the chart changed with its source: %q", a.GetName())
	}
	empty, err := New(&sanziv1.ChartOfAccounts{})
	if err != nil || !proto.Equal(empty.Proto(), National()) {
		t.Errorf("an empty chart is not the national one: %v", err)
	}
	if got := ch.National(Bank); got != Bank {
		t.Errorf("National(102) = %s", got)
	}
}
