package loader

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// table is a batch's rows of one table held column by column, in the
// order of columns[t]: each column is a typed slice (*[]T) filled as the
// rows are decoded and handed to the insert whole (the driver's fast path,
// Column(i).Append). Rows arrive as boxed values (put's ...any), but the
// boxes do not outlive the call (nothing here may keep them: no fmt on a
// value, only on its reflect.Type), so the compiler keeps them on the stack:
// a row costs no allocation of its own, only the columns' amortised growth.
type table struct {
	cols []any // *[]uint64, *[]string, ...: one per column
	n    int   // rows
	err  error // the first row that did not fit the columns' types
	// view is the columns typed (*entryCols, *txCols) for the tables most
	// rows go to, which skip add's boxes and type switches (typed.go);
	// nil until used, and whenever cols is made again.
	view any
	// parts are rows that come before cols' own, in order: the tables of
	// ranges' batches, held by reference rather than copied (hold), and
	// own rows that were there when a part came after them.
	parts []*table
}

// rows is how many rows t holds, its parts' included.
func (t *table) rows() int {
	n := t.n
	for _, p := range t.parts {
		n += p.n
	}
	return n
}

// hold appends src's rows to t by reference, without copying them: src
// must not change until t is reset (batch.held keeps its batch).
func (t *table) hold(src *table) {
	if t.err != nil {
		return
	}
	if src.err != nil {
		t.err = src.err
		return
	}
	if len(src.parts) > 0 || src.cols == nil {
		t.concat(src)
		return
	}
	first := t.cols
	if len(t.parts) > 0 {
		first = t.parts[0].cols
	}
	if first != nil && !sameTypes(first, src.cols) {
		t.err = fmt.Errorf("row %d: a part's columns are not the table's", t.rows())
		return
	}
	if t.n > 0 {
		t.parts = append(t.parts, &table{cols: t.cols, n: t.n})
		t.cols, t.n, t.view = nil, 0, nil
	}
	t.parts = append(t.parts, src)
}

// sameTypes says whether two tables' columns hold the same types.
func sameTypes(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if reflect.TypeOf(a[i]) != reflect.TypeOf(b[i]) {
			return false
		}
	}
	return true
}

// add appends row (the raft index, then the rest) as the table's next row;
// the first row fixes the columns' types.
func (t *table) add(index uint64, row []any) {
	if t.err != nil {
		return
	}
	if t.cols == nil {
		t.cols = make([]any, 0, len(row)+1)
		t.cols = append(t.cols, new([]uint64))
		for _, v := range row {
			c, ok := newColumn(v)
			if !ok {
				t.err = fmt.Errorf("no column type for %s", reflect.TypeOf(v))
				return
			}
			t.cols = append(t.cols, c)
		}
	}
	if len(row)+1 != len(t.cols) {
		t.err = fmt.Errorf("row %d has %d columns, not %d", t.n, len(row)+1, len(t.cols))
		return
	}
	push(t.cols[0], index)
	for i, v := range row {
		if !addTo(t.cols[i+1], v) {
			// The columns before i already took the row: the table is
			// refused as a whole at insert.
			t.err = fmt.Errorf("row %d, column %d holds %s", t.n, i+1, reflect.TypeOf(v))
			return
		}
	}
	t.n++
}

// reset empties t, keeping its columns and their capacity (a table that
// failed starts afresh).
func (t *table) reset() {
	t.n = 0
	clear(t.parts) // the parts' batches are emptied by their pool
	t.parts = t.parts[:0]
	if t.err != nil {
		t.cols, t.err, t.view = nil, nil, nil
		return
	}
	for _, c := range t.cols {
		truncate(c)
	}
}

// truncate empties column c in place.
func truncate(c any) {
	switch c := c.(type) {
	case *[]uint64:
		*c = (*c)[:0]
	case *[]string:
		clear(*c) // let the last batch's strings go
		*c = (*c)[:0]
	case *[]uint8:
		*c = (*c)[:0]
	case *[]int8:
		*c = (*c)[:0]
	case *[]int32:
		*c = (*c)[:0]
	case *[]int64:
		*c = (*c)[:0]
	case *[]uint32:
		*c = (*c)[:0]
	case *[]float64:
		*c = (*c)[:0]
	case *[]time.Time:
		*c = (*c)[:0]
	case *[][]string:
		clear(*c)
		*c = (*c)[:0]
	case *[][]int64:
		clear(*c)
		*c = (*c)[:0]
	}
}

// newColumn is an empty column of v's type.
func newColumn(v any) (any, bool) {
	switch v.(type) {
	case uint64:
		return new([]uint64), true
	case string:
		return new([]string), true
	case uint8:
		return new([]uint8), true
	case int8:
		return new([]int8), true
	case int32:
		return new([]int32), true
	case int64:
		return new([]int64), true
	case uint32:
		return new([]uint32), true
	case float64:
		return new([]float64), true
	case time.Time:
		return new([]time.Time), true
	case []string:
		return new([][]string), true
	case []int64:
		return new([][]int64), true
	}
	return nil, false
}

// addTo appends v to column c; false when c holds another type.
func addTo(c, v any) bool {
	switch v := v.(type) {
	case uint64:
		return push(c, v)
	case string:
		return push(c, v)
	case uint8:
		return push(c, v)
	case int8:
		return push(c, v)
	case int32:
		return push(c, v)
	case int64:
		return push(c, v)
	case uint32:
		return push(c, v)
	case float64:
		return push(c, v)
	case time.Time:
		return push(c, v)
	case []string:
		return push(c, v)
	case []int64:
		return push(c, v)
	}
	return false
}

func push[T any](c any, v T) bool {
	p, ok := c.(*[]T)
	if ok {
		*p = append(*p, v)
	}
	return ok
}

// values is column c as the slice the driver takes.
func values(c any) any {
	switch c := c.(type) {
	case *[]uint64:
		return *c
	case *[]string:
		return *c
	case *[]uint8:
		return *c
	case *[]int8:
		return *c
	case *[]int32:
		return *c
	case *[]int64:
		return *c
	case *[]uint32:
		return *c
	case *[]float64:
		return *c
	case *[]time.Time:
		return *c
	case *[][]string:
		return *c
	case *[][]int64:
		return *c
	}
	return nil
}

// insert writes table t's rows as one block, column at a time, each
// column appended part after part (the driver's Column(i).Append adds to
// what the column holds).
func insert(ctx context.Context, conn driver.Conn, t, suffix string, rows *table, trace *stepTrace) error {
	t0 := time.Now()
	if rows.err != nil {
		return fmt.Errorf("insert into %s: %w", t, rows.err)
	}
	parts := rows.parts
	if rows.n > 0 {
		parts = append(parts[:len(parts):len(parts)], rows)
	}
	if originKeyed[t] {
		parts = inKeyOrder(parts)
	}
	ins, err := conn.PrepareBatch(ctx, "INSERT INTO "+t+suffix+" ("+columns[t]+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t, err)
	}
	t1 := time.Now()
	trace.add(t+" prepare", 0, t1.Sub(t0))
	block := ins.Columns()
	for c := range parts[0].cols {
		if s, ok := block[c].(*column.String); ok {
			presize(s, parts, c, rows.rows())
		}
		col := ins.Column(c)
		for _, p := range parts {
			if err := col.Append(values(p.cols[c])); err != nil {
				ins.Abort()
				return fmt.Errorf("insert into %s, column %d: %w", t, c, err)
			}
		}
	}
	t2 := time.Now()
	trace.add(t+" append", 0, t2.Sub(t1))
	if err := ins.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rows.rows(), t, err)
	}
	trace.add(t+" send", rows.rows(), time.Since(t2))
	return nil
}

// concat appends src's rows (its parts', then its own) to t, copied
// (columns of the same types, in the same order); a src that failed fails
// t.
func (t *table) concat(src *table) {
	if t.err != nil {
		return
	}
	if src.err != nil {
		t.err = src.err
		return
	}
	for _, p := range src.parts {
		t.concat(p)
	}
	if src.cols == nil {
		return
	}
	if t.cols == nil {
		t.cols = make([]any, len(src.cols))
		for i, c := range src.cols {
			t.cols[i] = emptyLike(c)
		}
	}
	if len(t.cols) != len(src.cols) {
		t.err = fmt.Errorf("row %d has %d columns, not %d", t.n, len(src.cols), len(t.cols))
		return
	}
	for i, c := range src.cols {
		if !concatColumn(t.cols[i], c) {
			// The columns before i already took the rows: the table is
			// refused as a whole at insert.
			t.err = fmt.Errorf("row %d, column %d holds %s", t.n, i, reflect.TypeOf(c))
			return
		}
	}
	t.n += src.n
}

// emptyLike is an empty column of c's type.
func emptyLike(c any) any {
	switch c.(type) {
	case *[]uint64:
		return new([]uint64)
	case *[]string:
		return new([]string)
	case *[]uint8:
		return new([]uint8)
	case *[]int8:
		return new([]int8)
	case *[]int32:
		return new([]int32)
	case *[]int64:
		return new([]int64)
	case *[]uint32:
		return new([]uint32)
	case *[]float64:
		return new([]float64)
	case *[]time.Time:
		return new([]time.Time)
	case *[][]string:
		return new([][]string)
	case *[][]int64:
		return new([][]int64)
	}
	return nil
}

// concatColumn appends column src to column dst; false when their types
// differ.
func concatColumn(dst, src any) bool {
	switch src := src.(type) {
	case *[]uint64:
		return cat(dst, *src)
	case *[]string:
		return cat(dst, *src)
	case *[]uint8:
		return cat(dst, *src)
	case *[]int8:
		return cat(dst, *src)
	case *[]int32:
		return cat(dst, *src)
	case *[]int64:
		return cat(dst, *src)
	case *[]uint32:
		return cat(dst, *src)
	case *[]float64:
		return cat(dst, *src)
	case *[]time.Time:
		return cat(dst, *src)
	case *[][]string:
		return cat(dst, *src)
	case *[][]int64:
		return cat(dst, *src)
	}
	return false
}

func cat[T any](dst any, src []T) bool {
	p, ok := dst.(*[]T)
	if ok {
		*p = append(*p, src...)
	}
	return ok
}

// originKeyed are the tables whose sort key is (town, origin, seq, ...),
// with origin their second column, where most rows go: their parts are
// sent in key order (inKeyOrder).
var originKeyed = map[string]bool{"entries": true, "transactions": true, "voucher_lines": true}

// inKeyOrder is parts in the order of the table's sort key (town, origin,
// seq), when each part holds one origin's rows in seq order, as a range's
// batch does: the block then arrives sorted, and ClickHouse, which checks
// before sorting a block it writes as a part (18.16 counts it as
// MergeTreeDataWriterBlocksAlreadySorted), skips the sort. A part of
// several origins (small ranges copied together, see holdRows) leaves
// parts as they are: the server sorts, as before. Parts of one origin
// keep their order (Raft order, so seq order). Only the order of the
// block's rows changes, never which rows: the table's contents are the
// same.
func inKeyOrder(parts []*table) []*table {
	type keyed struct {
		town, origin string
		p            *table
	}
	ks := make([]keyed, 0, len(parts))
	for _, p := range parts {
		c, ok := p.cols[1].(*[]string)
		if !ok || p.n == 0 {
			return parts
		}
		origins := (*c)[:p.n]
		for _, o := range origins[1:] {
			if o != origins[0] {
				return parts
			}
		}
		_, town := orgParts(origins[0])
		ks = append(ks, keyed{town, origins[0], p})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		return cmp.Or(strings.Compare(a.town, b.town), strings.Compare(a.origin, b.origin))
	})
	out := make([]*table, len(ks))
	for i, k := range ks {
		out[i] = k.p
	}
	return out
}

// presize grows the driver's string column s, before column c of parts
// (rows in all) is appended to it, to hold all their bytes and all their
// rows' offsets at once: the driver's column starts empty for every
// INSERT and otherwise regrows both by doubling, copying and clearing them
// each time (the offsets' regrowth was ~15 % of the loader's CPU once the
// bytes' was gone). clickhouse-go offers no way to size a column: its
// ch-go column (an unexported field) is sized through reflect (strCol),
// or when that is not found, the bytes alone the way the column allows,
// a throwaway string as long as all the bytes appended and the column
// Reset, which keeps its buffer.
func presize(s *column.String, parts []*table, c, rows int) {
	n := 0
	for _, p := range parts {
		if v, ok := p.cols[c].(*[]string); ok {
			for _, x := range *v {
				n += len(x)
			}
		}
	}
	if col := strCol(s); col != nil {
		if cap(col.Buf)-len(col.Buf) < n {
			col.Buf = slices.Grow(col.Buf, n)
		}
		if cap(col.Pos)-len(col.Pos) < rows {
			col.Pos = slices.Grow(col.Pos, rows)
		}
		return
	}
	if n == 0 {
		return
	}
	s.Append([]string{unsafe.String(&make([]byte, n)[0], n)})
	s.Reset()
}

// strCol is the ch-go column inside s (its field col), nil when this
// version of clickhouse-go holds it otherwise.
func strCol(s *column.String) *proto.ColStr {
	v := reflect.ValueOf(s).Elem().FieldByName("col")
	if !v.IsValid() || v.Type() != reflect.TypeFor[proto.ColStr]() {
		return nil
	}
	return (*proto.ColStr)(unsafe.Pointer(v.UnsafeAddr()))
}
