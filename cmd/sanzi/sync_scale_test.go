package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// faultProxy forwards TCP on loopback and, while faulty, cuts connections
// or black-holes them (stops carrying bytes without closing) at random,
// from a seed, so a test can watch sync survive and converge once healed.
type faultProxy struct {
	ln     net.Listener
	target string
	bytes  atomic.Int64
	mu     sync.Mutex
	conns  map[net.Conn]bool
	stall  atomic.Bool
	cuts   atomic.Int64
	stalls atomic.Int64
	// pace, when set, caps each direction of each connection at that many
	// bytes a second, so that a catch-up lasts long enough to be cut.
	pace atomic.Int64
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for p.stall.Load() { // black hole: hold the bytes, keep the connection
				time.Sleep(10 * time.Millisecond)
			}
			if n > 0 {
				p.bytes.Add(int64(n))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
				if pace := p.pace.Load(); pace > 0 {
					time.Sleep(time.Duration(int64(n) * int64(time.Second) / pace))
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go pipe(up, c)
	pipe(c, up)
}

// cut closes every open connection.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// havoc cuts and black-holes in turn, at random moments and for random
// spans (seeded), for d, then heals.
func (p *faultProxy) havoc(seed uint64, d time.Duration) {
	rnd := rand.New(rand.NewPCG(seed, seed))
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(time.Duration(50+rnd.IntN(200)) * time.Millisecond)
		if i%2 == 0 {
			p.cuts.Add(1)
			p.cut()
		} else {
			p.stalls.Add(1)
			p.stall.Store(true)
			time.Sleep(time.Duration(100+rnd.IntN(400)) * time.Millisecond)
			p.stall.Store(false)
		}
	}
}

// TestSyncTwoTownsSixVillages: six villages record about 5,000 entries each
// while both their towns are down; the towns come up; the villages of one
// town reach it through a proxy that cuts and black-holes connections at
// random for the first seconds; the district ends with exactly every
// village entry, per-origin heads equal to the villages', and the test
// reports the time to converge, the rate, and bytes on the wire per entry.
func TestSyncTwoTownsSixVillages(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	syncTwoTownsSixVillages(t, 0)
}

// TestSyncTownKilledFiveTimes: the same 30,000 entries, both links clean,
// and the first town killed with SIGKILL five times while its villages'
// entries are still on their way: nothing missing, nothing twice.
func TestSyncTownKilledFiveTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	syncTwoTownsSixVillages(t, 5)
}

// syncTwoTownsSixVillages runs the six-village sync; with kills > 0 the
// first town is killed that many times during its catch-up instead of the
// second town's link going through the fault proxy.
func syncTwoTownsSixVillages(t *testing.T, kills int) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	must := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
	}
	must(run(t, "ca", "init", "--district", "350505", "--dir", caDir))
	for _, n := range []string{"d1", "admin"} {
		must(run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", n))
	}
	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = []string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--data", d.data, "--tls-dir", caDir, "--cert", "d1", "--bootstrap", "--log-level", "error"}
	d.start()
	t.Cleanup(d.stop)
	district := clientFor(t, caDir, d.api)
	waitLeader(t, district, "")

	var towns, villages []*syncVillage
	var proxy, meter *faultProxy // meter: a proxy that only counts bytes (no faults)
	var paced *faultProxy        // the first town's villages' links when it is killed
	for ti, town := range []string{"350505100000", "350505101000"} {
		must(run(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town"))
		inbox := freePort(t)
		tw := &syncVillage{t: t, org: town, data: filepath.Join(dir, town), http: freePort(t), grpc_: freePort(t)}
		tw.args = []string{"town", "serve", "--data", tw.data, "--org", town, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
			"--sync-addr", inbox, "--parent", d.api, "--tls-dir", caDir, "--log-level", "warn", "--retry-max", "1s"}
		towns = append(towns, tw)
		parent := inbox
		switch {
		case ti == 0 && kills == 0:
			meter = newFaultProxy(t, inbox)
			parent = meter.addr()
		case ti == 0:
			// Paced links from the first town's villages: its catch-up
			// takes seconds, long enough to be cut by every kill.
			paced = newFaultProxy(t, inbox)
			paced.pace.Store(1 << 20)
			parent = paced.addr()
		case ti == 1 && kills == 0:
			proxy = newFaultProxy(t, inbox)
			parent = proxy.addr()
		}
		for vi := range 3 {
			org := fmt.Sprintf("%s%03d", town[:9], 201+vi)
			must(run(t, "ca", "issue", "--dir", caDir, "--org", org, "--role", "village"))
			v := &syncVillage{t: t, org: org, data: filepath.Join(dir, org), http: freePort(t), grpc_: freePort(t)}
			v.args = []string{"village", "serve", "--data", v.data, "--org", org, "--http-addr", v.http, "--grpc-addr", v.grpc_,
				"--parent", parent, "--tls-dir", caDir, "--log-level", "warn", "--ack-timeout", "3s", "--retry-max", "1s"}
			v.start()
			t.Cleanup(func() { v.kill9() })
			villages = append(villages, v)
		}
	}
	// Offline: each village records 2,500 expenses, 5,000 entries with the
	// procedures they open, from 10 clients.
	var wg sync.WaitGroup
	for _, v := range villages {
		for c := range 10 {
			wg.Go(func() { v.record(250, 1+c*1000) })
		}
	}
	wg.Wait()
	var want uint64
	heads := map[string]uint64{}
	for _, v := range villages {
		heads[v.org] = v.head()
		want += heads[v.org]
	}
	defer func() {
		if t.Failed() {
			for _, n := range append(append([]*syncVillage{}, towns...), villages...) {
				out, _ := run(t, "sync", "status", "--http", n.http)
				t.Logf("%s head %d: %s\n%s", n.org, n.head(), out, tail(n.log.String()))
			}
		}
	}()
	start := time.Now()
	for _, tw := range towns {
		tw.start()
		t.Cleanup(func() { tw.kill9() })
	}
	arrived := func(vs []*syncVillage) bool {
		for _, v := range vs {
			got, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: v.org})
			if err != nil || got.GetHead().GetSeq() != heads[v.org] {
				return false
			}
		}
		return true
	}
	if kills > 0 {
		// Kill the first town each time its villages have pushed it some
		// bytes since it came up (64 KiB over the paced links), while their
		// entries have not all reached the district: every kill cuts the
		// catch-up in the middle of a batch, however fast it runs on this
		// machine (fixed sleeps, or waiting for the district to move,
		// let a quick catch-up finish before the fifth kill).
		landed, sent := 0, paced.bytes.Load()
		for range kills {
			for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && paced.bytes.Load()-sent < 64<<10; {
				time.Sleep(5 * time.Millisecond) // polling the proxy's counter, not waiting on a deadline
			}
			if !arrived(villages[:3]) {
				landed++
			}
			towns[0].kill9()
			sent = paced.bytes.Load()
			towns[0].start()
		}
		if landed < kills {
			t.Fatalf("only %d of %d kills of the town came before its villages' entries had all arrived: the catch-up was too quick to cut", landed, kills)
		}
		t.Logf("killed town %s with SIGKILL %d times during its catch-up", towns[0].org, landed)
	} else {
		go proxy.havoc(42, 4*time.Second)
	}
	// The first town's villages have a clean link: their rate is the
	// pipeline's (village → town → district) on this machine. Measured two
	// ways: from the towns' start (process start and the villages' retry
	// delay included), and from the first of their entries at the district
	// to the last (the transfer itself).
	var cleanEntries uint64
	for _, v := range villages[:3] {
		cleanEntries += heads[v.org]
	}
	// The first arrival is seen late by up to a poll and a round trip,
	// and what had arrived by then (a whole batch or more) came before
	// the window: the rate counts only the entries that arrived within it
	// (heldAtFirst left out). The poll is short so that the last arrival
	// is seen close to when it happened.
	var first time.Time
	var heldAtFirst uint64
	// When each village's first entries were seen at the district: the
	// villages come back one by one after their town starts (while it
	// cannot be reached they try every 62-125 ms, relay.Config.Comeback),
	// and the town's outbox sends its villages' chains one after another,
	// so a village's first arrival says when the town forwarded it, not
	// only when it reconnected.
	// TODO(issue 17): time the transfer from when all three push, so that
	// the rate leaves out the villages' reconnects (62-125 ms apart now).
	arrivedAt := make([]time.Time, 3)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 3m waiting for the first town's villages at the district")
		}
		var held uint64
		var seen []int // the villages seen for the first time by this poll
		for i, v := range villages[:3] {
			if got, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: v.org}); err == nil {
				held += got.GetHead().GetSeq()
				if got.GetHead().GetSeq() > 0 && arrivedAt[i].IsZero() {
					seen = append(seen, i)
				}
			}
		}
		now := time.Now() // one time for the whole poll
		for _, i := range seen {
			arrivedAt[i] = now
		}
		if held > 0 && first.IsZero() {
			first, heldAtFirst = now, held
		}
		if held >= cleanEntries {
			break
		}
	}
	clean := time.Since(start)
	transfer := time.Since(first)
	var reconnects []string
	for _, at := range arrivedAt {
		reconnects = append(reconnects, "+"+at.Sub(first).Round(time.Millisecond).String())
	}
	eventually(t, 3*time.Minute, fmt.Sprintf("the district to hold all %d village entries", want), func() bool {
		for org, h := range heads {
			got, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: org})
			if err != nil || got.GetHead().GetSeq() != h {
				return false
			}
		}
		return true
	})
	took := time.Since(start)
	profiled(t, towns[0].cmd, d.cmd)
	var total uint64
	resp, err := district.ListHeads(context.Background(), &sanziv1.ListHeadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range resp.GetHeads() {
		if _, ok := heads[h.GetOrigin()]; ok {
			total += h.GetSeq()
		}
	}
	if total != want {
		t.Fatalf("the district holds %d village entries, want exactly %d", total, want)
	}
	if kills > 0 {
		t.Logf("6 villages, 2 towns, town %s killed %d times: %d village entries converged at the district in %v, exactly once each",
			towns[0].org, kills, want, took.Round(time.Millisecond))
		return
	}
	if proxy.cuts.Load() == 0 || proxy.stalls.Load() == 0 {
		t.Fatalf("the proxy made %d cuts and %d black-holes during the sync: the fault half of the test did not run", proxy.cuts.Load(), proxy.stalls.Load())
	}
	var throughProxy uint64
	for _, v := range villages[3:] {
		throughProxy += heads[v.org]
	}
	if heldAtFirst == cleanEntries {
		// Seen all at once: the transfer happened between two polls (a
		// test process starved of CPU), and no window was timed.
		t.Logf("clean link: all %d entries of 3 villages were already at the district when the first was seen: no transfer window was timed", cleanEntries)
	}
	t.Logf("clean link: %d entries of 3 villages through town 350505100 to the district in %v (%.0f entries/s, town process start included); "+
		"from the first at the district to the last: %v (%.0f entries/s; %.0f entries/s counting only the %d that arrived after the first was seen; each village's first entries seen at %s); village → town on the wire: %d bytes (%.0f bytes/entry incl. TLS)",
		cleanEntries, clean.Round(time.Millisecond), float64(cleanEntries)/clean.Seconds(), transfer.Round(time.Millisecond), float64(cleanEntries)/transfer.Seconds(),
		float64(cleanEntries-heldAtFirst)/transfer.Seconds(), cleanEntries-heldAtFirst, strings.Join(reconnects, " "), meter.bytes.Load(), float64(meter.bytes.Load())/float64(cleanEntries))
	t.Logf("6 villages, 2 towns: %d village entries converged at the district in %v (%.0f entries/s end to end, towns started cold); "+
		"through the fault proxy: %d entries in %d bytes (%.0f bytes/entry incl. TLS and retries), %d cuts and %d black-holes",
		want, took.Round(time.Millisecond), float64(want)/took.Seconds(), throughProxy, proxy.bytes.Load(),
		float64(proxy.bytes.Load())/float64(throughProxy), proxy.cuts.Load(), proxy.stalls.Load())
}

// profiled has the processes write their CPU profiles when the test runs
// with SANZI_CPUPROFILE (see sanzi --help; the towns are killed with
// SIGKILL at the end, which writes nothing): each gets SIGUSR1 and the test
// waits for its file.
func profiled(t *testing.T, cmds ...*exec.Cmd) {
	pattern := os.Getenv("SANZI_CPUPROFILE")
	if pattern == "" {
		return
	}
	for _, c := range cmds {
		path := strings.ReplaceAll(pattern, "%p", strconv.Itoa(c.Process.Pid))
		before, _ := os.Stat(path)
		if err := c.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatalf("ask process %d for its profile: %v", c.Process.Pid, err)
		}
		eventually(t, 10*time.Second, "the profile "+path, func() bool {
			st, err := os.Stat(path)
			return err == nil && st.Size() > 0 && (before == nil || st.ModTime() != before.ModTime())
		})
		t.Logf("CPU profile of process %d: %s", c.Process.Pid, path)
	}
}
