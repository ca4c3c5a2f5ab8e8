package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// xs is an endless body of 'x', made up as it is read.
type xs struct{}

func (xs) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestLargeBodiesPeakRSS runs the real binary and sends it 20 concurrent
// 50 MB POSTs to /v1/transactions, with Content-Length and then chunked:
// each must be answered 413, and the node's peak resident memory (VmHWM
// from /proc) must stay under 150 MB. Latencies are logged, not asserted.
func TestLargeBodiesPeakRSS(t *testing.T) {
	n := startNode(t, t.TempDir()+"/data")
	for _, chunked := range []bool{false, true} {
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			maxLat time.Duration
		)
		for range 20 {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", "http://"+n.http+"/v1/transactions", io.LimitReader(xs{}, 50<<20))
				req.ContentLength = 50 << 20
				if chunked {
					req.ContentLength = -1
				}
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
				lat := time.Since(start)
				if err != nil {
					t.Errorf("no answer: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("HTTP %d, want 413", resp.StatusCode)
				}
				mu.Lock()
				maxLat = max(maxLat, lat)
				mu.Unlock()
			})
		}
		wg.Wait()
		t.Logf("20 × 50 MB POST /v1/transactions (chunked %v): every answer 413, slowest %v", chunked, maxLat.Round(time.Millisecond))
	}
	hwm := vmHWM(t, n.cmd.Process.Pid)
	t.Logf("node peak RSS (VmHWM): %.1f MB", float64(hwm)/(1<<20))
	if hwm > 150<<20 {
		t.Errorf("peak RSS %.1f MB, want < 150 MB", float64(hwm)/(1<<20))
	}
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
