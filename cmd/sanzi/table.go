package main

import (
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// tableGap is the number of spaces between two columns.
const tableGap = 2

// table prints rows under a header with every column starting at the same
// display column. It lays text out as text/tabwriter did (a cell's column
// is as wide as its widest cell plus two spaces, the last cell of a line is
// not padded, a tab or newline inside a cell splits it the same way) but
// measures cells in terminal columns, not runes: a Chinese character takes
// two columns, so names and summaries no longer push later columns out of
// line. On printable ASCII the output is byte for byte what tabwriter printed.
func table(w io.Writer, header []string, rows [][]string) {
	var text strings.Builder
	text.WriteString(strings.Join(header, "\t"))
	text.WriteByte('\n')
	for _, r := range rows {
		text.WriteString(strings.Join(r, "\t"))
		text.WriteByte('\n')
	}
	io.WriteString(w, layout(text.String())) // a broken pipe is the shell's to report
}

// layout aligns tab-separated cells of newline-ended lines. A column's width
// is taken over a block of consecutive lines that all have a cell after it
// (tabwriter's column blocks), so a line with fewer cells starts a new
// block for the columns it lacks.
func layout(text string) string {
	var lines [][]string
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(l, "\n"), "\t"))
	}
	// pad[i][j] is the width cell j of line i is padded to; a line's last
	// cell has none.
	pad := make([][]int, len(lines))
	for i, l := range lines {
		pad[i] = make([]int, len(l)-1)
	}
	for col := 0; ; col++ {
		found := false
		for start := 0; start < len(lines); {
			if len(lines[start]) <= col+1 {
				start++
				continue
			}
			found = true
			end, widest := start, 0
			for ; end < len(lines) && len(lines[end]) > col+1; end++ {
				widest = max(widest, displayWidth(lines[end][col]))
			}
			for i := start; i < end; i++ {
				pad[i][col] = widest + tableGap
			}
			start = end
		}
		if !found {
			break
		}
	}
	var b strings.Builder
	for i, l := range lines {
		for j, cell := range l {
			b.WriteString(cell)
			if j < len(pad[i]) {
				b.WriteString(strings.Repeat(" ", pad[i][j]-displayWidth(cell)))
			}
		}
		// tabwriter ended a line with "\n" even when the text's last line
		// had none; table always ends lines, so this is the same.
		b.WriteByte('\n')
	}
	return b.String()
}

// displayWidth is the number of terminal columns s takes: two for East Asian
// wide and fullwidth characters (Chinese, fullwidth punctuation such as
// "，"), none for combining marks and format characters, one for the rest.
// Ambiguous characters ("…", "·") count as one, as terminals outside a CJK
// locale draw them.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) || unicode.IsControl(r):
		case isWide(r):
			n += 2
		default:
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}
