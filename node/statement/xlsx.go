package statement

import (
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// WriteXLSX writes s as one sheet laid out as accountants print it: the
// title merged across the columns, the org (and how many were summed) and
// the period, 单位：元, the headers, then the rows, labels indented by
// level, amounts in yuan as numbers formatted #,##0.00 (so the sheet adds
// up in a spreadsheet), headings and totals in bold.
func WriteXLSX(w io.Writer, s *sanziv1.Statement) error {
	f := excelize.NewFile()
	defer f.Close()
	sh := s.GetTitle()
	if len([]rune(sh)) > 31 {
		sh = string([]rune(sh)[:31])
	}
	if err := f.SetSheetName("Sheet1", sh); err != nil {
		return fmt.Errorf("naming the sheet %q: %w", sh, err)
	}
	ledger := len(s.GetTextColumns()) > 0
	var heads []string
	switch {
	case ledger:
		heads = append(heads, s.GetTextColumns()...)
	case s.GetKind() == sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE:
		heads = []string{"科目编码", "科目名称"}
	default:
		heads = []string{"项目", "行次"}
	}
	firstAmount := len(heads) + 1
	heads = append(heads, s.GetAmountColumns()...)
	last, err := excelize.ColumnNumberToName(len(heads))
	if err != nil {
		return fmt.Errorf("naming column %d: %w", len(heads), err)
	}
	styles := map[string]*excelize.Style{
		"title":   {Font: &excelize.Font{Bold: true, Size: 16}, Alignment: &excelize.Alignment{Horizontal: "center"}},
		"right":   {Alignment: &excelize.Alignment{Horizontal: "right"}},
		"head":    {Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "center"}, Border: borders()},
		"text":    {Border: borders()},
		"bold":    {Font: &excelize.Font{Bold: true}, Border: borders()},
		"amount":  {NumFmt: 4, Border: borders()},
		"boldAmt": {NumFmt: 4, Font: &excelize.Font{Bold: true}, Border: borders()},
	}
	ids := map[string]int{}
	for name, st := range styles {
		id, err := f.NewStyle(st)
		if err != nil {
			return fmt.Errorf("making style %s: %w", name, err)
		}
		ids[name] = id
	}
	indent := map[int32]int{}
	indented := func(level int32) (int, error) {
		if id, ok := indent[level]; ok {
			return id, nil
		}
		id, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Indent: int(level)}, Border: borders()})
		indent[level] = id
		return id, err
	}

	set := func(cell string, v any, style int) error {
		if err := f.SetCellValue(sh, cell, v); err != nil {
			return fmt.Errorf("writing %s: %w", cell, err)
		}
		if err := f.SetCellStyle(sh, cell, cell, style); err != nil {
			return fmt.Errorf("styling %s: %w", cell, err)
		}
		return nil
	}
	if err := set("A1", s.GetTitle(), ids["title"]); err != nil {
		return err
	}
	if err := f.MergeCell(sh, "A1", last+"1"); err != nil {
		return fmt.Errorf("merging the title: %w", err)
	}
	unit := "编制单位：" + s.GetOrg()
	if s.GetOrgs() > 1 {
		unit += fmt.Sprintf("（%d 个单位汇总）", s.GetOrgs())
	}
	if err := set("A2", unit, 0); err != nil {
		return err
	}
	mid, err := excelize.ColumnNumberToName((len(heads) + 1) / 2)
	if err != nil {
		return err
	}
	if err := set(mid+"2", periodLabel(s), 0); err != nil {
		return err
	}
	if err := set(last+"2", "单位：元", ids["right"]); err != nil {
		return err
	}
	for i, h := range heads {
		cell, _ := excelize.CoordinatesToCellName(i+1, 3)
		if err := set(cell, h, ids["head"]); err != nil {
			return err
		}
	}
	for i, r := range s.GetRows() {
		y := i + 4
		bold := r.GetLevel() == 0
		var cells []any
		var st []int
		if ledger {
			for _, t := range r.GetTexts() {
				cells = append(cells, t)
				st = append(st, ids["text"])
			}
		} else {
			level := r.GetLevel()
			if s.GetKind() == sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE && level > 0 {
				level-- // national accounts flush left, sub-accounts indented
			}
			label, err := indented(level)
			if err != nil {
				return fmt.Errorf("making an indent style: %w", err)
			}
			if bold {
				label = ids["bold"]
			}
			if s.GetKind() == sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE {
				cells, st = []any{r.GetCode(), r.GetLabel()}, []int{ids["text"], label}
			} else {
				cells, st = []any{r.GetLabel(), r.GetCode()}, []int{label, ids["text"]}
			}
		}
		for len(cells) < firstAmount-1 {
			cells, st = append(cells, ""), append(st, ids["text"])
		}
		for _, a := range r.GetAmountsFen() {
			cells = append(cells, float64(a)/100)
			if bold {
				st = append(st, ids["boldAmt"])
			} else {
				st = append(st, ids["amount"])
			}
		}
		for x, v := range cells {
			cell, _ := excelize.CoordinatesToCellName(x+1, y)
			if err := set(cell, v, st[x]); err != nil {
				return err
			}
		}
	}
	labelCol, labelWidth := "A", 30.0
	switch {
	case ledger:
		labelWidth = 14
	case s.GetKind() == sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE:
		labelCol, labelWidth = "B", 24
	}
	if err := f.SetColWidth(sh, labelCol, labelCol, labelWidth); err != nil {
		return fmt.Errorf("sizing columns: %w", err)
	}
	amt0, _ := excelize.ColumnNumberToName(firstAmount)
	if err := f.SetColWidth(sh, amt0, last, 16); err != nil {
		return fmt.Errorf("sizing columns: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("writing the workbook: %w", err)
	}
	return nil
}

func borders() []excelize.Border {
	var b []excelize.Border
	for _, side := range []string{"left", "right", "top", "bottom"} {
		b = append(b, excelize.Border{Type: side, Color: "000000", Style: 1})
	}
	return b
}

// periodLabel prints the period as statements head it: the balance sheet
// at the month's last day, the income statement from January to the
// month, the others for the month.
func periodLabel(s *sanziv1.Statement) string {
	m, err := time.Parse("2006-01", s.GetPeriod())
	if err != nil {
		return s.GetPeriod()
	}
	switch s.GetKind() {
	case sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET:
		end := m.AddDate(0, 1, -1)
		return fmt.Sprintf("%d年%d月%d日", end.Year(), end.Month(), end.Day())
	case sanziv1.StatementKind_STATEMENT_KIND_INCOME:
		return fmt.Sprintf("%d年1-%d月", m.Year(), m.Month())
	}
	return fmt.Sprintf("%d年%d月", m.Year(), m.Month())
}
