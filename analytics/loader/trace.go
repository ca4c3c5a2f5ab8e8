package loader

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// stepTrace adds up where the loader's steps spent their wall time, for
// the benchmark (BenchmarkLoaderVsClient) to say whether send waited for
// read or read for send, and how long each table's insert took. A nil
// trace (production) records nothing: its methods cost a nil check.
type stepTrace struct {
	mu    sync.Mutex
	steps int
	// alone is reading with nothing being sent beside it (a step that
	// found no batch read ahead: the first).
	readAlone time.Duration
	// read and send are the overlapped steps' read of the next batch and
	// send of this one; wall is each such step's whole, so wall-send is
	// what send waited for read, and wall-read what read waited for send.
	read, send, wall time.Duration
	readLong         int // steps whose read outlasted their send
	spans            map[string]time.Duration
	rows             map[string]int
	counts           map[string]int
}

func newStepTrace() *stepTrace {
	return &stepTrace{spans: map[string]time.Duration{}, rows: map[string]int{}, counts: map[string]int{}}
}

func (t *stepTrace) aloneRead(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readAlone += d
}

func (t *stepTrace) step(read, send, wall time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps++
	t.read += read
	t.send += send
	t.wall += wall
	if read > send {
		t.readLong++
	}
}

// add counts a span of name (and rows, for an insert's send).
func (t *stepTrace) add(name string, rows int, d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spans[name] += d
	t.rows[name] += rows
	t.counts[name]++
}

// String is the totals, one span a line.
func (t *stepTrace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "steps %d: read alone %.2fs; overlapped: wall %.2fs, read %.2fs, send %.2fs (send waited for read %.2fs, read for send %.2fs; read outlasted send in %d steps)\n",
		t.steps, t.readAlone.Seconds(), t.wall.Seconds(), t.read.Seconds(), t.send.Seconds(), (t.wall - t.send).Seconds(), (t.wall - t.read).Seconds(), t.readLong)
	names := make([]string, 0, len(t.spans))
	for n := range t.spans {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-28s %7.2fs in %4d", n, t.spans[n].Seconds(), t.counts[n])
		if r := t.rows[n]; r > 0 {
			fmt.Fprintf(&b, ", %9d rows, %.2f µs/row", r, float64(t.spans[n].Microseconds())/float64(r))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
