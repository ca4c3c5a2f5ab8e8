package statement

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestWriteXLSX(t *testing.T) {
	ch := districtChart(t)
	vs := book(t, villageA, yearA)
	tot, err := TotalsOf(ch, vs, "2025-12")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := BalanceSheet(ch, villageA, "2025-12", tot)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := TrialBalance(ch, villageA, "2025-12", tot)
	if err != nil {
		t.Fatal(err)
	}
	cash, err := CashJournal(ch, villageA, "2025-04", vs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		s *sanziv1.Statement
		// lastCol is the last column; cells are expected values (numbers
		// raw, as yuan); bold the cells that must be bold.
		lastCol string
		cells   map[string]string
		bold    []string
	}{
		{bs, "D", map[string]string{
			"A1": "资产负债表", "A2": "编制单位：" + villageA, "B2": "2025年12月31日", "D2": "单位：元",
			"A3": "项目", "B3": "行次", "C3": "年初数", "D3": "期末数",
			"A5": "货币资金", "B5": "1", "C5": "428000", "D5": "476100",
			"A26": "资产总计", "B26": "21", "C26": "923000", "D26": "995100",
			"A45": "负债和所有者权益总计", "D45": "995100",
		}, []string{"A26", "D26", "A45"}},
		{tb, "J", map[string]string{
			"A1": "科目余额表", "A3": "科目编码", "B3": "科目名称", "C3": "期初借方", "J3": "期末贷方",
			"A4": "101", "B4": "库存现金", "I4": "9800",
		}, nil},
		{cash, "G", map[string]string{
			"A1": "现金日记账", "D2": "2025年4月", "A3": "日期", "D3": "方向", "E3": "借方",
			"A5": "2025-04-08", "B5": "记-1", "E5": "12000", "G5": "23800",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.s.GetTitle(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteXLSX(&buf, tc.s); err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenReader(&buf)
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			sh := f.GetSheetName(0)
			if sh != tc.s.GetTitle() {
				t.Errorf("sheet %q, want %q", sh, tc.s.GetTitle())
			}
			merged, err := f.GetMergeCells(sh)
			if err != nil || len(merged) != 1 || merged[0].GetStartAxis() != "A1" || merged[0].GetEndAxis() != tc.lastCol+"1" {
				t.Errorf("merged cells %v (%v), want the title across A1:%s1", merged, err, tc.lastCol)
			}
			for cell, want := range tc.cells {
				got, err := f.GetCellValue(sh, cell, excelize.Options{RawCellValue: true})
				if err != nil || got != want {
					t.Errorf("%s = %q (%v), want %q", cell, got, err, want)
				}
				if _, err := strconv.ParseFloat(want, 64); err == nil && len(want) > 3 {
					typ, _ := f.GetCellType(sh, cell)
					if typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
						t.Errorf("%s is text, want a number", cell)
					}
					id, _ := f.GetCellStyle(sh, cell)
					st, _ := f.GetStyle(id)
					if st == nil || st.NumFmt != 4 {
						t.Errorf("%s: number format %v, want #,##0.00 (4)", cell, st)
					}
				}
			}
			if tc.s == bs {
				id, _ := f.GetCellStyle(sh, "A5")
				if st, _ := f.GetStyle(id); st == nil || st.Alignment == nil || st.Alignment.Indent != 1 {
					t.Errorf("货币资金 is not indented one level under 流动资产")
				}
			}
			for _, cell := range tc.bold {
				id, _ := f.GetCellStyle(sh, cell)
				st, _ := f.GetStyle(id)
				if st == nil || st.Font == nil || !st.Font.Bold {
					t.Errorf("%s is not bold", cell)
				}
			}
		})
	}
}
