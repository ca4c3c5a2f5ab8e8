package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/sanzi/sanzi/node/freeport"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDemoDistrict runs `sanzi demo` small (one member, one town, two
// villages, the second made to misbehave): it comes up with every village
// at the district and the statistics loaded; the town decided its steps
// (the ordinary village's payments are completed procedures in its own
// chain, and its alerts were reviewed), the district's public site
// publishes the ordinary village's monthly disclosures, more than the
// misbehaving one's; the misbehaving village ranks first in risk, at least
// twice the ordinary one's score; Ctrl-C leaves no process it started,
// and a second run reuses the data without recording again. With the
// towns' decisions off (--town-decisions=false) it fails: no payment is
// completed, no alert reviewed and nothing disclosed.
func TestDemoDistrict(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil {
			t.Skip("no clickhouse-server (make clickhouse)")
		}
	}
	dir := filepath.Join(t.TempDir(), "demo")
	base, err := strconv.Atoi(strings.TrimPrefix(freeport.Loopback(t), "127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		var town demoTownWork
		out, children := runDemoUntilReady(t, dir, base, func() { town = readTownWork(t, dir, base) })
		t.Logf("run %d: ordinary village: %+v", run+1, town)
		if town.payments == 0 || town.reviewed == 0 {
			t.Errorf("run %d: the ordinary village's chain holds %d completed payments and %d alerts reviewed; want the town's decisions applied there", run+1, town.payments, town.reviewed)
		}
		ordinary, bad := publishedCounts(out)
		if ordinary == 0 || ordinary <= bad {
			t.Errorf("run %d: the public site publishes %d months of the ordinary village, %d of the misbehaving one; want some, and more than the misbehaving one's:\n%s", run+1, ordinary, bad, out)
		}
		if med, worst := riskGap(out); med <= 0 || worst < 2*med {
			t.Errorf("run %d: risk of the ordinary village %.1f, of the misbehaving one %.1f: want at least twice:\n%s", run+1, med, worst, out)
		}
		if run == 0 {
			if strings.Contains(out, "reusing") {
				t.Fatalf("first run says it reuses:\n%s", out)
			}
			for _, v := range []string{demoVillageOrg(0, 0), demoVillageOrg(0, 1)} {
				if !strings.Contains(out, "village "+v) || !strings.Contains(out, "entries recorded") {
					t.Fatalf("no year recorded for %s:\n%s", v, out)
				}
			}
		} else if !strings.Contains(out, "reusing") || strings.Contains(out, "entries recorded") {
			t.Fatalf("second run records again or does not say it reuses:\n%s", out)
		}
		first := ""
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "1." {
				first = f[1]
			}
		}
		if first != demoVillageOrg(0, 1) {
			t.Fatalf("run %d: risk ranks %q first, want the misbehaving %s:\n%s", run+1, first, demoVillageOrg(0, 1), out)
		}
		if len(children) < 4 { // member, town, two villages
			t.Fatalf("run %d: %d child processes, want at least 4", run+1, len(children))
		}
		for _, pid := range children {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				t.Errorf("run %d: child %d still running after Ctrl-C", run+1, pid)
			}
		}
	}
}

// runDemoUntilReady runs the demo until it says it is ready, then sends
// it SIGINT (Ctrl-C) and waits for it to end; it returns what it printed
// and the pids of its children as they were when ready.
// whileUp runs once it is ready, before the Ctrl-C.
func runDemoUntilReady(t *testing.T, dir string, base int, whileUp func()) (string, []int) {
	t.Helper()
	cmd := exec.Command(sanziBin, "demo", "--dir", dir, "--members", "1", "--towns", "1", "--villages-per-town", "2",
		"--misbehaving", "1", "--port-base", strconv.Itoa(base), "--ready-timeout", "4m", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var b strings.Builder
	ready := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops") && !once {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-ended:
		t.Fatalf("demo ended before it was ready:\n%s", b.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("demo not ready within 5 minutes:\n%s", b.String())
	}
	children := childrenOf(cmd.Process.Pid)
	whileUp()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { <-ended; done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo after Ctrl-C: %v\n%s", err, b.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("demo still running 2 minutes after Ctrl-C:\n%s", b.String())
	}
	return b.String(), children
}

// demoTownWork is what the town's decisions left in the ordinary village's
// own chain, read through its API.
type demoTownWork struct{ payments, reviewed int64 }

// readTownWork signs in at the demo's first (ordinary) village as its
// auditor and counts its completed payment procedures (their last step,
// the payment, is the town cashier's) and its alerts the town confirmed or
// dismissed.
func readTownWork(t *testing.T, dir string, base int) demoTownWork {
	t.Helper()
	pool, err := pki.LoadPool(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr(base+401), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, err := sanziv1.NewAccountServiceClient(conn).Login(ctx, &sanziv1.LoginRequest{Account: "shenji", Password: demoPassword})
	if err != nil {
		t.Fatalf("sign in at the village: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+in.GetSecret())
	org := demoVillageOrg(0, 0)
	procs, err := sanziv1.NewWorkflowServiceClient(conn).ListProcedures(ctx, &sanziv1.ListProceduresRequest{Org: org, Status: "completed", MatterCode: "FUND-REIMB", PageSize: 1})
	if err != nil {
		t.Fatalf("list the village's procedures: %v", err)
	}
	var w demoTownWork
	w.payments = procs.GetTotalSize()
	for _, st := range []sanziv1.AlertStatus{sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED, sanziv1.AlertStatus_ALERT_STATUS_DISMISSED} {
		al, err := sanziv1.NewAlertServiceClient(conn).ListAlerts(ctx, &sanziv1.ListAlertsRequest{Org: org, Status: st, PageSize: 1})
		if err != nil {
			t.Fatalf("list the village's alerts: %v", err)
		}
		w.reviewed += al.GetTotalSize()
	}
	return w
}

// publishedCounts reads the demo's public-site line: the months published
// of the ordinary and of the misbehaving village.
func publishedCounts(out string) (ordinary, bad int) {
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "Public site ") {
			continue
		}
		for _, f := range strings.Fields(l) {
			org, n, ok := strings.Cut(strings.TrimSuffix(f, ";"), ":")
			k, err := strconv.Atoi(n)
			switch {
			case !ok || err != nil:
			case org == demoVillageOrg(0, 0):
				ordinary = k
			case org == demoVillageOrg(0, 1):
				bad = k
			}
		}
	}
	return ordinary, bad
}

// riskGap reads the demo's risk summary: the ordinary villages' median
// score and the misbehaving village's.
func riskGap(out string) (med, worst float64) {
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "ordinary villages: median score ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		med, _ = strconv.ParseFloat(f[0], 64)
		worst, _ = strconv.ParseFloat(f[len(f)-1], 64)
	}
	return med, worst
}

// childrenOf lists the pids whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func demoIDs(people []demoPerson) []string {
	ids := make([]string, len(people))
	for i, p := range people {
		ids[i] = p.id
	}
	return ids
}
