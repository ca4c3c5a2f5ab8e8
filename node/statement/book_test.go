package statement

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/chart/charttest"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/statement/statementtest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files' figures (keeping their hand-written header) after a reviewed change")

// districtChart is the national chart with the sub-accounts of 收益分配 a
// district typically adds, so the income statement lists each distribution.
func districtChart(t *testing.T) *chart.Chart {
	return charttest.Split(t, "322", [2]string{"32201", "提取公积公益金"}, [2]string{"32202", "应付成员分配"}, [2]string{"32203", "未分配收益"})
}

// yuan parses 1,234.56 (or -) into fen.
func yuan(t *testing.T, s string) int64 {
	t.Helper()
	if s == "-" {
		return 0
	}
	fen, err := money.ParseYuan(s)
	if err != nil {
		t.Fatal(err)
	}
	return fen
}

// book parses a readable voucher table: a voucher is a line
// "YYYY-MM-DD summary [opening]" followed by its lines, indented,
// "account debit credit" in yuan ("-" for none; a red-ink line has
// negative amounts). Numbers follow the table's order within each month,
// as the node numbers vouchers.
func book(t *testing.T, org, table string) []*sanziv1.Voucher {
	t.Helper()
	var out []*sanziv1.Voucher
	seq := map[string]int32{}
	for i, raw := range strings.Split(table, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if raw[0] != ' ' && raw[0] != '\t' {
			v := &sanziv1.Voucher{Org: org, BusinessDate: f[0], Summary: f[1], Opening: len(f) > 2 && f[2] == "opening"}
			if !v.Opening {
				seq[f[0][:7]]++
				v.Number = seq[f[0][:7]]
			}
			out = append(out, v)
			continue
		}
		if len(f) != 3 || len(out) == 0 {
			t.Fatalf("table line %d %q: want account debit credit under a voucher", i+1, line)
		}
		v := out[len(out)-1]
		v.Lines = append(v.Lines, &sanziv1.VoucherLine{Account: f[0], DebitFen: yuan(t, f[1]), CreditFen: yuan(t, f[2])})
	}
	for _, v := range out {
		var d, c int64
		for _, l := range v.Lines {
			d += l.DebitFen
			c += l.CreditFen
		}
		if d != c {
			t.Fatalf("voucher %s %s: debits %d fen, credits %d", v.BusinessDate, v.Summary, d, c)
		}
	}
	return out
}

// render prints a statement as the golden files hold it: one line per
// row, 行次 or code, the label indented two spaces per level, then the
// amounts in yuan, tab-separated; headings have no amounts.
func render(s *sanziv1.Statement) string {
	return fmt.Sprintf("%s\t%s\t%s\t(%d)\n", s.GetTitle(), s.GetOrg(), s.GetPeriod(), s.GetOrgs()) + statementtest.Rows(s)
}

// golden compares got with the figures of testdata/name, below its
// header of '#' lines (the hand check, never rewritten). With -update it
// rewrites the figures and keeps the header.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	old, err := os.ReadFile(path)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatalf("reading golden %s: %v (run with -update once, then check the figures by hand and write how in its header)", path, err)
	}
	var header, body strings.Builder
	for _, l := range strings.SplitAfter(string(old), "\n") {
		if strings.HasPrefix(l, "#") {
			header.WriteString(l)
		} else {
			body.WriteString(l)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(header.String()+got), 0o644); err != nil {
			t.Fatalf("writing golden %s: %v", path, err)
		}
		return
	}
	statementtest.CompareLines(t, name, got, body.String())
}

// row finds a statement's row by code (行次 or account).
func row(t *testing.T, s *sanziv1.Statement, code string) *sanziv1.StatementRow {
	t.Helper()
	for _, r := range s.GetRows() {
		if r.GetCode() == code {
			return r
		}
	}
	t.Fatalf("%s: no row %s", s.GetTitle(), code)
	return nil
}

func rowByLabel(t *testing.T, s *sanziv1.Statement, label string) *sanziv1.StatementRow {
	t.Helper()
	for _, r := range s.GetRows() {
		if r.GetLabel() == label {
			return r
		}
	}
	t.Fatalf("%s: no row %s", s.GetTitle(), label)
	return nil
}
