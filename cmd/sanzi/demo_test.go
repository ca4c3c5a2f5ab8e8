package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/freeport"
)

// TestDemoDistrict runs `sanzi demo` small (one member, one town, two
// villages, the second made to misbehave): it comes up with every village
// at the district and the statistics loaded, the misbehaving village ranks
// first in risk, Ctrl-C leaves no process it started, and a second run
// reuses the data without recording again.
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
		out, children := runDemoUntilReady(t, dir, base)
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
func runDemoUntilReady(t *testing.T, dir string, base int) (string, []int) {
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
