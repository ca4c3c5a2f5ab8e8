package loader

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TestTuneGC: Run sets the collector's percent and memory limit of its
// Config for the process and puts the previous ones back; zero leaves
// them alone, and the collector off without a limit is refused.
func TestTuneGC(t *testing.T) {
	// New only checks they are there; tuneGC touches neither.
	src, conn := struct{ Source }{}, struct{ driver.Conn }{}
	for _, tc := range []struct {
		name        string
		percent     int
		limit       int64
		wantPercent int // while it runs; 0: the process's own
		wantLimit   int64
		wantErr     string
	}{
		{name: "default leaves them", wantPercent: 0, wantLimit: 0},
		{name: "percent", percent: 400, wantPercent: 400},
		{name: "limit", limit: 768 << 20, wantLimit: 768 << 20},
		{name: "off with a limit", percent: -1, limit: 1 << 30, wantPercent: -1, wantLimit: 1 << 30},
		{name: "off without a limit", percent: -1, wantErr: "MemoryLimit: required"},
		{name: "negative limit", limit: -5, wantErr: "MemoryLimit: negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A known starting point, put back after.
			prevPercent := debug.SetGCPercent(150)
			prevLimit := debug.SetMemoryLimit(math.MaxInt64 - 1)
			defer func() {
				debug.SetGCPercent(prevPercent)
				debug.SetMemoryLimit(prevLimit)
			}()
			l, err := New(Config{Source: src, Conn: conn, GCPercent: tc.percent, MemoryLimit: tc.limit, Logger: quiet})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			restore := l.tuneGC()
			percent, limit := readGC()
			want := tc.wantPercent
			if want == 0 {
				want = 150
			}
			wantLimit := tc.wantLimit
			if wantLimit == 0 {
				wantLimit = math.MaxInt64 - 1
			}
			if percent != want || limit != wantLimit {
				t.Errorf("while running: percent %d, limit %d; want %d, %d", percent, limit, want, wantLimit)
			}
			restore()
			if percent, limit := readGC(); percent != 150 || limit != math.MaxInt64-1 {
				t.Errorf("after: percent %d, limit %d; want 150, %d put back", percent, limit, int64(math.MaxInt64-1))
			}
		})
	}
}

// readGC is the process's GC percent and memory limit, unchanged.
func readGC() (int, int64) {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1)
}
