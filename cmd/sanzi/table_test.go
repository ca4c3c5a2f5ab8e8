package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
)

func TestDisplayWidth(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"86.40", 5},
		{"办公用品", 8},
		{"村委会 office", 13},
		{"，（）", 6},      // fullwidth punctuation
		{"ｱ", 1},        // halfwidth katakana
		{"ab…", 3},      // ambiguous: one column
		{"e\u0301", 1},  // e + combining acute
		{"a\u200bb", 2}, // zero-width space
		{"３５０５", 8},     // fullwidth digits
		{"😀", 2},        // emoji presentation is wide
		{"x\u3000y", 4}, // ideographic space
	} {
		if got := displayWidth(c.s); got != c.want {
			t.Errorf("displayWidth(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// tabwriterTable is the table helper as it was, kept to show that ASCII
// tables print exactly as before.
func tabwriterTable(header []string, rows [][]string) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	return b.String()
}

func TestTableMatchesTabwriterOnASCII(t *testing.T) {
	cases := []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{"no rows", []string{"ID", "KIND"}, nil},
		{"one column", []string{"ID"}, [][]string{{"a"}, {"bbbb"}}},
		{"plain", []string{"ID", "DATE", "YUAN"}, [][]string{{"350505100001-1", "2026-03-02", "86.40"}, {"x", "", "1"}}},
		{"empty last header", []string{"ORIGIN", "FINGERPRINT", ""}, [][]string{{"350505100001", "ab12", "(this node)"}, {"3505", "ffffffff", ""}}},
		{"empty column", []string{"A", "", "C"}, [][]string{{"1", "", "3"}}},
		{"short rows break blocks", []string{"A", "B", "C"}, [][]string{{"long cell", "b"}, {"x"}, {"1", "22222222", "3"}, {"y", "z", "w"}}},
		{"tab and newline in a cell", []string{"A", "SUMMARY", "Z"}, [][]string{{"1", "two\tparts", "z"}, {"2", "line\nbreak", "z"}}},
	}
	rng := rand.New(rand.NewPCG(11, 7))
	for i := range 50 {
		cols := 1 + rng.IntN(6)
		header := make([]string, cols)
		for j := range header {
			header[j] = strings.Repeat("H", rng.IntN(8))
		}
		var rows [][]string
		for range rng.IntN(8) {
			r := make([]string, 1+rng.IntN(cols))
			for j := range r {
				r[j] = strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(12))
			}
			rows = append(rows, r)
		}
		cases = append(cases, struct {
			name   string
			header []string
			rows   [][]string
		}{fmt.Sprintf("random %d", i), header, rows})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			table(&b, c.header, c.rows)
			if want := tabwriterTable(c.header, c.rows); b.String() != want {
				t.Errorf("got\n%s\nwant (tabwriter)\n%s", b.String(), want)
			}
		})
	}
}

// TestTableAlignsChinese: with mixed Chinese and ASCII rows every column
// starts at the same display column on every line, and tabwriter (which
// counts runes) did not manage that on the same rows.
func TestTableAlignsChinese(t *testing.T) {
	header := []string{"ID", "KIND", "YUAN", "COUNTERPARTY", "SUMMARY"}
	rows := [][]string{
		{"350505100001-1", "expense", "86.40", "福建省某某建材有限公司", "办公用品"},
		{"350505100001-2", "收入", "1200.00", "Acme Ltd", "rent, 三月"},
		{"350505100001-10", "expense", "5.00", "张三", "tea（茶叶）"},
	}
	var b bytes.Buffer
	table(&b, header, rows)
	out := b.String()
	if got := columnStarts(t, out, header, rows); !sameStarts(got) {
		t.Errorf("columns start at %v on the lines of\n%s", got, out)
	}
	if old := columnStarts(t, tabwriterTable(header, rows), header, rows); sameStarts(old) {
		t.Errorf("tabwriter aligned these rows too (starts %v): the test shows nothing", old)
	}
}

// columnStarts finds, line by line, the display column where each cell
// begins, by looking the cells up in order.
func columnStarts(t *testing.T, out string, header []string, rows [][]string) [][]int {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(rows)+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(rows)+1, out)
	}
	var starts [][]int
	for i, line := range lines {
		cells := header
		if i > 0 {
			cells = rows[i-1]
		}
		var s []int
		rest := line
		for _, c := range cells {
			k := strings.Index(rest, c)
			if k < 0 {
				t.Fatalf("line %q lacks %q", line, c)
			}
			s = append(s, displayWidth(line[:len(line)-len(rest)+k]))
			rest = rest[k+len(c):]
		}
		starts = append(starts, s)
	}
	return starts
}

func sameStarts(starts [][]int) bool {
	for _, s := range starts[1:] {
		if fmt.Sprint(s) != fmt.Sprint(starts[0]) {
			return false
		}
	}
	return true
}
