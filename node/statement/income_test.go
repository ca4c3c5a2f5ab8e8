package statement

import (
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/chart/charttest"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// On the national chart alone the distributions are one line of 收益分配's
// debits, and a transfer in from 公积公益金 shows as 其他转入.
func TestIncomeNationalChartTransferIn(t *testing.T) {
	ch := charttest.National(t)
	vs := book(t, "o", `
2025-01-01 期初余额 opening
	102   100,000.00          -
	301            -    70,000.00
	311            -    10,000.00
	322            -    20,000.00
2025-03-01 收到承包费
	102     5,000.00          -
	501            -     5,000.00
2025-06-30 公积公益金转入
	311     3,000.00          -
	322            -     3,000.00
2025-12-31 结转收入
	501     5,000.00          -
	321            -     5,000.00
2025-12-31 本年收益转入收益分配
	321     5,000.00          -
	322            -     5,000.00
2025-12-31 分配给成员
	322     4,000.00          -
	211            -     4,000.00
`)
	inc, err := FromVouchers(ch, sanziv1.StatementKind_STATEMENT_KIND_INCOME, "o", "2025-12", "", vs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range inc.GetRows()[12:] {
		got = append(got, r.GetCode()+" "+r.GetLabel()+" "+money.FormatFen(r.GetAmountsFen()[0]))
	}
	want := []string{
		"13 四、净收益 5,000.00",
		"14 加：年初未分配收益 20,000.00",
		"15 其他转入 3,000.00",
		"16 五、可分配收益 28,000.00",
		"17 减：收益分配 4,000.00",
		"18 六、年末未分配收益 24,000.00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("income statement:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFromTotalsRefusesLedgers(t *testing.T) {
	ch := charttest.National(t)
	for _, k := range []sanziv1.StatementKind{sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL} {
		if _, err := FromTotals(ch, k, "o", "2025-01", Totals{}); !errors.Is(err, ErrNeedsVouchers) {
			t.Errorf("%s from totals: %v, want ErrNeedsVouchers", k, err)
		}
	}
	var fe *FieldError
	if _, err := FromTotals(ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, "o", "2025-01", Totals{"10201": {OpeningFen: 1}}); !errors.As(err, &fe) || fe.Field != "totals[10201]" {
		t.Errorf("totals on a code the chart lacks: %v, want a FieldError on totals[10201]", err)
	}
	if _, err := FromVouchers(ch, sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, "o", "2025-01", "", nil); !errors.As(err, &fe) || fe.Field != "account" {
		t.Errorf("subsidiary ledger without an account: %v, want a FieldError on account", err)
	}
	// Totals that do not balance are refused, naming the difference.
	_, err := FromTotals(ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, "o", "2025-01", Totals{"101": {OpeningFen: 100}})
	if err == nil || !strings.Contains(err.Error(), "by 100 fen") {
		t.Errorf("unbalanced totals: %v, want the 100 fen difference named", err)
	}
}
