package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBooksImportAndStatementCLI: `sanzi books import` lists every bad row
// of a sheet by line, column and reason and records nothing; the sample
// books import whole (validate-only first), and `sanzi books statement`
// prints the balance sheet balanced and writes its workbook.
func TestBooksImportAndStatementCLI(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	sample := filepath.Join("..", "..", "node", "sheet", "testdata", "books-2025.csv")
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	badRows := string(raw) + "2025-03-30,记-4,错账,999,,100.00,,,,\n2025-03-30,记-4,错账,101,库存现金,50.00,,,,\n"
	if err := os.WriteFile(bad, []byte(badRows), 0o600); err != nil {
		t.Fatal(err)
	}
	out, exit := run(t, "books", "import", bad, "--server", n.grpc, "--org", org)
	last := strings.Count(badRows, "\n")
	if exit == 0 || !strings.Contains(out, "column 科目编码") || !strings.Contains(out, "line "+itoa(uint64(last-1))) {
		t.Fatalf("bad sheet: exit %d\n%s", exit, out)
	}
	t.Logf("bad sheet:\n%s", out)

	out, exit = run(t, "books", "import", sample, "--server", n.grpc, "--org", org, "--validate-only")
	if exit != 0 || !strings.Contains(out, "checked (nothing recorded)") {
		t.Fatalf("validate-only: exit %d\n%s", exit, out)
	}
	out, exit = run(t, "books", "import", sample, "--server", n.grpc, "--org", org)
	if exit != 0 || !strings.Contains(out, "imported ") {
		t.Fatalf("import: exit %d\n%s", exit, out)
	}
	t.Log(strings.TrimSpace(out))

	xlsx := filepath.Join(t.TempDir(), "bs.xlsx")
	out, exit = run(t, "books", "statement", "--kind", "balance-sheet", "--period", "2025-03", "--server", n.grpc, "--org", org, "--xlsx", xlsx)
	if exit != 0 {
		t.Fatalf("statement: exit %d\n%s", exit, out)
	}
	var assets, total string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[0] == "21":
			assets = f[3]
		case len(f) == 4 && f[0] == "37":
			total = f[3]
		}
	}
	if assets == "" || assets != total {
		t.Fatalf("资产总计 %q, 负债和所有者权益总计 %q\n%s", assets, total, out)
	}
	if st, err := os.Stat(xlsx); err != nil || st.Size() == 0 || !strings.Contains(out, org+"-balance-sheet-2025-03.xlsx") {
		t.Fatalf("xlsx: %v\n%s", err, out)
	}
	t.Logf("资产总计 = 负债和所有者权益总计 = %s", assets)
	// The console's route: the same statement over REST, a bad period named.
	var rest struct {
		Statement struct {
			Title string `json:"title"`
			Rows  []struct {
				Code       string   `json:"code"`
				AmountsFen []string `json:"amountsFen"`
			} `json:"rows"`
		} `json:"statement"`
	}
	q := "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org=" + org + "&period="
	if code, raw := n.call("GET", q+"2025-03", "", nil, &rest); code != 200 || rest.Statement.Title != "资产负债表" || len(rest.Statement.Rows) == 0 {
		t.Fatalf("GET statement: %d %s", code, raw)
	}
	if code, raw := n.call("GET", q+"2025-3", "", nil, nil); code != 400 || !strings.Contains(string(raw), `"period"`) {
		t.Fatalf("GET statement with a bad period: %d %s", code, raw)
	}
	if _, exit := run(t, "books", "statement", "--kind", "ledger", "--period", "2025-03", "--server", n.grpc); exit == 0 {
		t.Fatal("an unknown --kind was accepted")
	}
}
