package loader

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// TestTableColumns checks the columnar layout: rows land in typed columns
// in order, and a row that does not fit the first row's types or width
// refuses the table (it is reported at insert, not loaded half).
func TestTableColumns(t *testing.T) {
	at := time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		rows    [][]any
		wantErr string
		want    []any // the columns' values when no error
	}{
		{
			name: "typed columns",
			rows: [][]any{{"a", uint64(1), int8(1), at, []string{"x"}}, {"b", uint64(2), int8(-1), at, []string{}}},
			want: []any{[]uint64{7, 8}, []string{"a", "b"}, []uint64{1, 2}, []int8{1, -1}, []time.Time{at, at}, [][]string{{"x"}, {}}},
		},
		{name: "type changes", rows: [][]any{{"a", uint64(1)}, {"b", int64(2)}}, wantErr: "column 2 holds int64"},
		{name: "width changes", rows: [][]any{{"a", uint64(1)}, {"b"}}, wantErr: "row 1 has 2 columns, not 3"},
		{name: "unknown type", rows: [][]any{{"a", int16(1)}}, wantErr: "no column type for int16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tab table
			for i, r := range tc.rows {
				tab.add(uint64(7+i), r)
			}
			if tc.wantErr != "" {
				if tab.err == nil || !strings.Contains(tab.err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", tab.err, tc.wantErr)
				}
				return
			}
			if tab.err != nil || tab.n != len(tc.rows) || len(tab.cols) != len(tc.want) {
				t.Fatalf("err %v, %d rows, %d columns", tab.err, tab.n, len(tab.cols))
			}
			for c, w := range tc.want {
				if got := values(tab.cols[c]); !equalColumn(got, w) {
					t.Errorf("column %d: %v, want %v", c, got, w)
				}
			}
		})
	}
}

func equalColumn(a, b any) bool {
	switch a := a.(type) {
	case []uint64:
		return slices.Equal(a, b.([]uint64))
	case []string:
		return slices.Equal(a, b.([]string))
	case []int8:
		return slices.Equal(a, b.([]int8))
	case []time.Time:
		return slices.EqualFunc(a, b.([]time.Time), time.Time.Equal)
	case [][]string:
		return slices.EqualFunc(a, b.([][]string), slices.Equal)
	}
	return false
}

// TestTableReset checks a reused table holds only the rows added after
// its reset, and a failed one takes a new layout.
func TestTableReset(t *testing.T) {
	var tab table
	tab.add(1, []any{"a", uint64(1)})
	tab.add(2, []any{"b", uint64(2)})
	tab.reset()
	tab.add(3, []any{"c", uint64(3)})
	if tab.err != nil || tab.n != 1 || !slices.Equal(values(tab.cols[0]).([]uint64), []uint64{3}) || !slices.Equal(values(tab.cols[1]).([]string), []string{"c"}) {
		t.Fatalf("after reset: err %v, %d rows, columns %v %v", tab.err, tab.n, values(tab.cols[0]), values(tab.cols[1]))
	}
	tab.add(4, []any{int64(4)})
	if tab.err == nil {
		t.Fatal("a row of another width was taken")
	}
	tab.reset()
	tab.add(5, []any{int64(5)})
	if tab.err != nil || tab.n != 1 || !slices.Equal(values(tab.cols[1]).([]int64), []int64{5}) {
		t.Fatalf("after a failed table's reset: err %v, %d rows", tab.err, tab.n)
	}
}

// TestPutDoesNotAllocatePerRow guards the point of the columnar layout: a
// transactions row's boxed values stay on the stack, so a put costs only
// the columns' amortised growth (well under one allocation per row).
func TestPutDoesNotAllocatePerRow(t *testing.T) {
	b := &batch{tables: map[string]*table{}}
	loaded := map[string]uint64{}
	origin, name := "350505101201", "party"
	at := time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC)
	index := uint64(1000)
	allocs := testing.AllocsPerRun(10_000, func() {
		index++
		b.put("transactions", index, loaded, origin, index, origin[:6], origin[:9], "expense", int8(1), int64(index)*7,
			"PAYMENT_METHOD_BANK_TRANSFER", "办公费", "", name, "", at, uint32(202608), at)
	})
	if allocs >= 1 {
		t.Fatalf("%.2f allocations per put, want < 1", allocs)
	}
	if tab := b.tables["transactions"]; tab.err != nil || tab.n != 10_001 {
		t.Fatalf("err %v, %d rows", tab.err, tab.n)
	}
}

// TestTableHold checks that parts held by reference keep the rows' order
// with the table's own rows around them, count in rows, are copied in
// order by concat, refuse columns of other types, and go at reset.
func TestTableHold(t *testing.T) {
	part := func(first uint64, names ...string) *table {
		var p table
		for i, n := range names {
			p.add(first+uint64(i), []any{n})
		}
		return &p
	}
	var tab table
	tab.add(1, []any{"a"})
	tab.hold(part(2, "b", "c"))
	tab.add(4, []any{"d"})
	tab.hold(part(5, "e"))
	tab.hold(&table{})
	if tab.err != nil || tab.rows() != 5 || len(tab.parts) != 4 { // a, b c, d, e
		t.Fatalf("err %v, %d rows in %d parts", tab.err, tab.rows(), len(tab.parts))
	}
	var flat table
	flat.concat(&tab)
	if flat.n != 5 || !slices.Equal(values(flat.cols[0]).([]uint64), []uint64{1, 2, 3, 4, 5}) ||
		!slices.Equal(values(flat.cols[1]).([]string), []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("copied: %d rows, %v %v", flat.n, values(flat.cols[0]), values(flat.cols[1]))
	}
	tab.reset()
	if tab.rows() != 0 || len(tab.parts) != 0 {
		t.Fatalf("after reset: %d rows in %d parts", tab.rows(), len(tab.parts))
	}
	var other table
	other.add(9, []any{int64(9)})
	tab.add(1, []any{"a"})
	tab.hold(&other)
	if tab.err == nil || !strings.Contains(tab.err.Error(), "not the table's") {
		t.Fatalf("a part of other types: err %v", tab.err)
	}
}

// TestInKeyOrder checks the order parts are sent in: by town, then
// origin, one origin's parts kept in their own order, and left alone when
// a part holds several origins (the server sorts those).
func TestInKeyOrder(t *testing.T) {
	part := func(origins ...string) *table {
		var p table
		for i, o := range origins {
			p.add(uint64(i+1), []any{o, uint64(i + 1)})
		}
		return &p
	}
	a1, a2 := part("350505102201", "350505102201"), part("350505102201")
	b := part("350505101203")
	c := part("350505101202", "350505101202")
	short := part("3505051")
	mixed := part("350505101202", "350505102201")
	for _, tc := range []struct {
		name  string
		parts []*table
		want  []*table
	}{
		{name: "by town then origin", parts: []*table{a1, b, c}, want: []*table{c, b, a1}},
		{name: "one origin's parts keep their order", parts: []*table{a1, c, a2}, want: []*table{c, a1, a2}},
		{name: "a short code is its own town", parts: []*table{a1, short, b}, want: []*table{short, b, a1}},
		{name: "a part of several origins leaves them", parts: []*table{a1, mixed, b}, want: []*table{a1, mixed, b}},
		{name: "one part", parts: []*table{b}, want: []*table{b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := inKeyOrder(slices.Clone(tc.parts))
			if !slices.Equal(got, tc.want) {
				name := func(ps []*table) (out []string) {
					for _, p := range ps {
						out = append(out, strings.Join((*p.cols[1].(*[]string))[:p.n], ","))
					}
					return out
				}
				t.Fatalf("order %v, want %v", name(got), name(tc.want))
			}
		})
	}
}

// TestPresizeSizesTheDriversColumn: presize reaches the driver's string
// column (strCol: an unexported field of clickhouse-go's, found by reflect)
// and sizes its bytes and offsets for every row of the parts, so appending
// them does not regrow it; a clickhouse-go that holds it otherwise fails
// here, rather than the loader silently regrowing the column again.
func TestPresizeSizesTheDriversColumn(t *testing.T) {
	parts := []*table{
		{cols: []any{&[]uint64{1, 2}, &[]string{"350505100201", "350505100201"}}, n: 2},
		{cols: []any{&[]uint64{3}, &[]string{"350505100202"}}, n: 1},
	}
	var s column.String
	col := strCol(&s)
	if col == nil {
		t.Fatal("strCol found no ch-go column in clickhouse-go's column.String")
	}
	presize(&s, parts, 1, 3)
	bufCap, posCap := cap(col.Buf), cap(col.Pos)
	if bufCap < 36 || posCap < 3 {
		t.Fatalf("presized to %d bytes and %d rows, want 36 and 3", bufCap, posCap)
	}
	for _, p := range parts {
		if _, err := s.Append(*p.cols[1].(*[]string)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Rows() != 3 || s.Row(2, false) != "350505100202" || cap(col.Buf) != bufCap || cap(col.Pos) != posCap {
		t.Fatalf("%d rows (last %v), capacity %d bytes and %d rows after appending, %d and %d before", s.Rows(), s.Row(2, false), cap(col.Buf), cap(col.Pos), bufCap, posCap)
	}
}
