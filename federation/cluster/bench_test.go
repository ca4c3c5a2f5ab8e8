package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/entries"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BenchmarkClusterPush measures a 3-member cluster on loopback with mutual
// TLS and fsync on: 8 pushers, each pushing its own village's chain in
// pushes of 1,000 entries of about 300 bytes, as fast as acks come back
// (committed entries/s); then the same pushers at half that rate, reporting
// push-to-ack latency p50 and p99. Entries are made and signed before the
// clock starts. Payloads are real transactions and each member's FSM lists
// what they name with entries.AttachmentsIn, as federation/member sets it in
// production. Run with -benchtime=1x: the push counts are fixed.
func BenchmarkClusterPush(b *testing.B) {
	const (
		pushers   = 8
		perPush   = 1000
		saturated = 24  // pushes per pusher at full speed
		paced     = 8   // pushes per pusher at half speed
		size      = 130 // payload bytes; the whole entry is about 300
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := NewCluster(b, 3, func(cfg *cluster.Config) {
			cfg.HeartbeatTimeout, cfg.ElectionTimeout = time.Second, time.Second
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // keep the report readable
			cfg.Named = entries.AttachmentsIn
		})
		l := c.Leader()
		lc := c.Client(l.id)
		vs := make([]*village, pushers)
		work := make([][][][]byte, pushers)
		var gen sync.WaitGroup
		for p := range vs {
			vs[p] = newVillage(p + 1)
			vs[p].tx = true
			c.register(vs[p])
			gen.Add(1)
			go func(p int) {
				defer gen.Done()
				for k := 0; k < saturated+paced; k++ {
					work[p] = append(work[p], vs[p].next(perPush, size))
				}
			}(p)
		}
		gen.Wait()
		b.Logf("entry size %d bytes", len(work[0][0][0]))
		run := func(pushes []int, interval time.Duration) (time.Duration, []time.Duration) {
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			start := time.Now()
			for p := 0; p < pushers; p++ {
				wg.Add(1)
				go func(p int) {
					defer wg.Done()
					next := time.Now().Add(time.Duration(p) * interval / pushers)
					for _, k := range pushes {
						if interval > 0 {
							time.Sleep(time.Until(next)) // pacing the offered load
							next = next.Add(interval)
						}
						t0 := time.Now()
						if _, err := push(b, lc, work[p][k]); err != nil {
							b.Errorf("push: %v", err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}
				}(p)
			}
			wg.Wait()
			return time.Since(start), lat
		}
		seq := func(from, n int) []int {
			var out []int
			for k := from; k < from+n; k++ {
				out = append(out, k)
			}
			return out
		}
		cpu0 := cpuTime(b)
		b.StartTimer()
		elapsed, _ := run(seq(0, saturated), 0)
		b.StopTimer()
		rate := float64(pushers*saturated*perPush) / elapsed.Seconds()
		// The CPU the process (three members and the pushers) spent per
		// entry: on a machine shared with other work the rate moves with
		// the neighbours, the CPU per entry much less.
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(pushers*saturated*perPush), "cpu-µs/entry")
		// Half the load: each pusher pushes every interval.
		interval := time.Duration(float64(time.Second) * float64(pushers*perPush) / (rate / 2))
		_, lat := run(seq(saturated, paced), interval)
		slices.Sort(lat)
		q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(rate, "entries/s")
		b.ReportMetric(q(0.5), "p50-ms@half")
		b.ReportMetric(q(0.99), "p99-ms@half")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h, err := lc.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: vs[0].origin})
		cancel()
		if err != nil || h.GetHead().GetSeq() != uint64((saturated+paced)*perPush) {
			b.Fatalf("head after bench: %v %v", h, err)
		}
		c.StopAll()
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
