// Package statementtest renders statements as text for golden files and
// compares such texts line by line, for the tests of node/statement and of
// the scenarios that make statements through the API (node/supervise).
package statementtest

import (
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Rows is s's column header and rows, tab-separated, one per line: 行次,
// the label indented two spaces per level, and the amounts in yuan.
func Rows(s *sanziv1.Statement) string {
	var b strings.Builder
	b.WriteString("行次\t项目\t" + strings.Join(s.GetAmountColumns(), "\t") + "\n")
	for _, r := range s.GetRows() {
		b.WriteString(r.GetCode() + "\t" + strings.Repeat("  ", int(r.GetLevel())) + r.GetLabel())
		for _, a := range r.GetAmountsFen() {
			b.WriteString("\t" + money.FormatFen(a))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// CompareLines reports every line where got differs from want.
func CompareLines(t *testing.T, what, got, want string) {
	t.Helper()
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s line %d:\n got  %q\n want %q", what, i+1, gl, wl)
		}
	}
}
