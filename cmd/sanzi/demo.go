package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/analytics/chserver"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// demoOptions are the shape of the demo district.
type demoOptions struct {
	dir                     string
	towns, villages, member int
	seed                    uint64
	misbehaving             int
	portBase                int
	clickhouse              string
	readyTimeout            time.Duration
	// townDecisions has the towns' demo accounts decide the town's steps
	// and review alerts while the villages record their year.
	townDecisions bool
}

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole district on this machine: ClickHouse, the district cluster, towns and villages with a year of business",
		Long: `Run a whole district on this machine, each part its own process on
loopback: a private ClickHouse for the statistics, the district cluster
(--members), --towns towns and --villages-per-town villages under each,
with certificates from the demo's own CA (--dir/ca) and real sync: every
village pushes its chain to its town over mutual TLS, every town to the
district.

At the first run each village records a year of business generated from
--seed (the same seed gives the same year): seasonal income and spending,
contracts with payment schedules and some arrears, assets appraised and
sold, approvals decided by the demo accounts after realistic delays, a few
percent of rule breaches, and --misbehaving villages that split payments
under the thresholds, pay their cadres' relatives and decide late. Each
village records through its own API, signed in as its demo accounts, on a
demo clock that walks the past year and is then handed to the real time.
A later run reuses the data folder and records nothing.

It prints progress while recording and syncing, then the addresses of
each tier and one demo account per role, and runs until Ctrl-C, which
stops every process it started.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".demo", "data folder of the whole demo (kept between runs)")
	f.IntVar(&o.towns, "towns", 3, "number of towns")
	f.IntVar(&o.villages, "villages-per-town", 8, "villages under each town")
	f.IntVar(&o.member, "members", 3, "members of the district cluster")
	f.Uint64Var(&o.seed, "seed", 16, "seed of the villages' year (same seed, same year)")
	f.IntVar(&o.misbehaving, "misbehaving", 2, "villages made to misbehave (the last villages of the first towns)")
	f.IntVar(&o.portBase, "port-base", 7400, "ports used: district members from base+100, towns from base+200, villages from base+400")
	f.StringVar(&o.clickhouse, "clickhouse", "", "ClickHouse native address for the district's loader (default: start a private clickhouse-server)")
	f.DurationVar(&o.readyTimeout, "ready-timeout", 20*time.Minute, "how long to wait for every village to reach the district and the statistics")
	f.BoolVar(&o.townDecisions, "town-decisions", true, "the towns decide their steps of the villages' procedures and review their alerts (false: those stay open)")
	cmd.AddCommand(newDemoNodeCmd(g))
	return cmd
}

const demoDistrictOrg = "350505000000"

// demoTownOrg is town t (0-based): 350505 1tt 000.
func demoTownOrg(t int) string { return fmt.Sprintf("350505%03d000", 100+t) }

// demoVillageOrg is village v (0-based) of town t.
func demoVillageOrg(t, v int) string { return fmt.Sprintf("350505%03d%03d", 100+t, 201+v) }

// demoVillageNames and demoTownNames name the orgs in the statistics.
var (
	demoTownNames    = []string{"城关镇", "东山镇", "西溪乡", "南岭镇", "北港镇", "青山乡", "白沙镇", "龙门乡", "桃源镇", "金溪乡"}
	demoVillageNames = []string{"东风村", "红旗村", "前进村", "新华村", "和平村", "团结村", "光明村", "胜利村", "幸福村", "长春村", "永安村", "丰收村"}
)

// demoProc is one child process of the demo.
type demoProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// stop asks the process to stop (SIGTERM) and waits, killing it after
// the wait.
func (p *demoProc) stop(wait time.Duration) {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// demoRun holds what the demo started.
type demoRun struct {
	out   io.Writer // told how the stop goes; may be nil
	exe   string
	dir   string
	logs  string
	mu    sync.Mutex
	procs []*demoProc
}

// start runs `sanzi args...` with its output to logs/name.log; lines on
// its stdout go to onLine too.
func (r *demoRun) start(name string, onLine func(string), args ...string) (*demoProc, error) {
	logf, err := os.OpenFile(filepath.Join(r.logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	c := exec.Command(r.exe, args...)
	c.Stderr = logf
	pr, pw := io.Pipe()
	c.Stdout = pw
	// Its own process group: a Ctrl-C at the terminal reaches only the
	// demo, which stops its children in order; and the kernel stops the
	// child should the demo die without doing so.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &demoProc{name: name, cmd: c, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if onLine != nil {
				onLine(sc.Text())
			}
		}
	}()
	go func() {
		p.err = c.Wait()
		pw.Close()
		logf.Close()
		close(p.done)
	}()
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// stopAll stops the children tier by tier, the newest tier first
// (villages, towns, members): the processes of a tier stop together, each
// draining its own work, and a tier stops only once the one below it has
// (a village's last push still finds its town).
func (r *demoRun) stopAll() {
	r.mu.Lock()
	procs := append([]*demoProc(nil), r.procs...)
	r.mu.Unlock()
	tier := func(p *demoProc) string { t, _, _ := strings.Cut(p.name, "-"); return t }
	for end := len(procs); end > 0; {
		start := end - 1
		for start > 0 && tier(procs[start-1]) == tier(procs[end-1]) {
			start--
		}
		began := time.Now()
		var wg sync.WaitGroup
		for _, p := range procs[start:end] {
			wg.Go(func() { p.stop(30 * time.Second) })
		}
		wg.Wait()
		if r.out != nil {
			fmt.Fprintf(r.out, "demo: stopped %d %s processes in %s\n", end-start, tier(procs[start]), time.Since(began).Round(100*time.Millisecond))
		}
		end = start
	}
}

// waitLine waits for a line with prefix from ch, or the process's end.
func waitLine(ctx context.Context, p *demoProc, ch <-chan string, prefix string, within time.Duration) (string, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		select {
		case l := <-ch:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.done:
			return "", fmt.Errorf("%s stopped before it was up (%v): see its log", p.name, p.err)
		case <-t.C:
			return "", fmt.Errorf("%s: not up within %s: see its log", p.name, within)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// demoVillage is a village's progress as the demo shows it.
type demoVillage struct {
	org, town, name string
	profile         villageProfile
	entries         int
	head            uint64
	seeded, reused  bool
	synced          bool
	// What the town did for it while it recorded (its "seeded" line).
	townSteps, payments, disclosures, reviews int
	grpc, http                                string
}

func runDemo(ctx context.Context, g *globals, out io.Writer, o demoOptions) error {
	began := time.Now()
	if o.towns < 1 || o.towns > 20 || o.villages < 1 || o.villages > 99 || o.member < 1 || o.member > 9 {
		return fmt.Errorf("demo: --towns 1–20, --villages-per-town 1–99, --members 1–9")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	_, statErr := os.Stat(o.dir)
	reuse := statErr == nil
	if reuse {
		fmt.Fprintf(out, "demo: reusing %s (its villages keep their year; nothing is recorded again — remove the folder for a new one)\n", o.dir)
	}
	r := &demoRun{out: out, exe: exe, dir: o.dir, logs: filepath.Join(o.dir, "logs")}
	if err := os.MkdirAll(r.logs, 0o700); err != nil {
		return err
	}

	if o.clickhouse == "" {
		// A fresh server each run: the loader fills it again from the
		// district's chains.
		ch, err := chserver.Start(ctx, chserver.Options{Logger: g.logger()})
		if err != nil {
			fmt.Fprintf(out, "analytics: no ClickHouse (%v); the district runs without statistics\n", err)
		} else {
			defer func() { // its data is loaded again at the next start
				began := time.Now()
				ch.Kill()
				killed := time.Since(began)
				if err := os.RemoveAll(ch.Dir()); err != nil {
					fmt.Fprintf(out, "analytics: remove ClickHouse's folder: %v\n", err)
				}
				// Removing the folder is most of the stop after a first run:
				// the loader's many small inserts leave some 300,000 files.
				// TODO(issue 16): fewer, larger inserts while the villages
				// record (or ClickHouse's own log tables off) would make
				// both the folder and this wait small.
				fmt.Fprintf(out, "demo: stopped ClickHouse in %s, removed its folder in %s\n", killed.Round(100*time.Millisecond), (time.Since(began) - killed).Round(100*time.Millisecond))
			}()
			o.clickhouse = ch.Addr()
			fmt.Fprintf(out, "analytics: clickhouse-server on %s (clickhouse-client --port %d)\n", o.clickhouse, ch.TCPPort())
		}
	}

	// Deferred after ClickHouse's Close, so it runs before it: the
	// district's loader lets go of ClickHouse before ClickHouse stops
	// (which otherwise waits for it, and is killed after 20s).
	defer r.stopAll()

	// Certificates, dated from before the year the villages record.
	start := demoYearStart(time.Now())
	ca, err := loadDemoCA(filepath.Join(o.dir, "ca"), start.AddDate(0, 0, -2))
	if err != nil {
		return err
	}
	var villages []*demoVillage
	for t := range o.towns {
		if err := ca.issue(demoTownOrg(t), "town"); err != nil {
			return err
		}
		for v := range o.villages {
			dv := &demoVillage{org: demoVillageOrg(t, v), town: demoTownOrg(t), name: demoTownNames[t%len(demoTownNames)] + demoVillageNames[v%len(demoVillageNames)], profile: profileOrdinary}
			if err := ca.issue(dv.org, "village"); err != nil {
				return err
			}
			villages = append(villages, dv)
		}
	}
	// The misbehaving ones: the last village of the first towns (the
	// first town's last two when there is one town).
	for i := range min(o.misbehaving, len(villages)) {
		k := len(villages) - 1 - i
		if o.towns > 1 {
			k = (i%o.towns)*o.villages + o.villages - 1 - i/o.towns
		}
		villages[k].profile = profileMisbehaving
	}
	orgsFile := filepath.Join(o.dir, "orgs.csv")
	var csv strings.Builder
	fmt.Fprintf(&csv, "%s,示范区\n", demoDistrictOrg)
	for t := range o.towns {
		fmt.Fprintf(&csv, "%s,%s\n", demoTownOrg(t), demoTownNames[t%len(demoTownNames)])
	}
	for _, v := range villages {
		fmt.Fprintf(&csv, "%s,%s\n", v.org, v.name)
	}
	if err := os.WriteFile(orgsFile, []byte(csv.String()), 0o600); err != nil {
		return err
	}

	// The district cluster.
	d, err := startDemoMembers(ctx, r, ca.dir, o, orgsFile, func(s string) { fmt.Fprintln(out, "district:", s) })
	if err != nil {
		return err
	}

	// Towns, then villages.
	townSync, townGRPC := map[string]string{}, map[string]string{}
	type townAddr struct{ org, grpc, http, sync string }
	var towns []townAddr
	for t := range o.towns {
		org := demoTownOrg(t)
		base := o.portBase + 200 + 10*t
		ta := townAddr{org: org, http: addr(base), sync: addr(base + 1), grpc: addr(base + 2)}
		lines := make(chan string, 64)
		p, err := r.start("town-"+org, func(l string) { lines <- l }, "demo", "node", "--org", org, "--data", filepath.Join(o.dir, "towns", org),
			"--http-addr", ta.http, "--sync-addr", ta.sync, "--grpc-addr", ta.grpc, "--parent", d.api[0], "--tls-dir", ca.dir, "--log-level", "warn")
		if err != nil {
			return err
		}
		if _, err := waitLine(ctx, p, lines, "serving", 2*time.Minute); err != nil {
			return err
		}
		go func() {
			for range lines {
			}
		}()
		townSync[org] = ta.sync
		if o.townDecisions {
			townGRPC[org] = ta.grpc
		}
		towns = append(towns, ta)
		fmt.Fprintf(out, "town %s (%s) up: https://%s\n", org, demoTownNames[t%len(demoTownNames)], ta.http)
	}

	var mu sync.Mutex
	doneSeeding := make(chan *demoVillage, len(villages))
	for i, v := range villages {
		base := o.portBase + 400 + 2*i
		v.http, v.grpc = addr(base), addr(base+1)
		v := v
		onLine := func(l string) {
			f := strings.Fields(l)
			if len(f) < 2 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch f[0] {
			case "progress":
				v.entries = fieldInt(f, "entries")
			case "seeded", "reused":
				v.head = uint64(fieldInt(f, "head"))
				v.seeded, v.reused = true, f[0] == "reused"
				if f[0] == "seeded" {
					v.seededCounts(f)
					fmt.Fprintf(out, "village %s %s (%s): %d entries recorded, head %d, %d steps decided by the town, %s\n", v.org, v.name, v.profile, v.entries, v.head, v.townSteps, fieldStr(f, "took"))
				}
				doneSeeding <- v
			case "refusals":
				fmt.Fprintf(out, "village %s refusals by its rules: %s\n", v.org, strings.Join(f[2:], " "))
			case "books": // the opening balances and the months closed (demo_books.go)
				fmt.Fprintf(out, "village %s books: %s\n", v.org, strings.Join(f[2:], " "))
			}
		}
		_, err := r.start("village-"+v.org, onLine, "demo", "node", "--org", v.org, "--data", filepath.Join(o.dir, "villages", v.org),
			"--http-addr", v.http, "--grpc-addr", v.grpc, "--parent", townSync[v.town], "--town-grpc", townGRPC[v.town], "--tls-dir", ca.dir,
			"--seed", strconv.FormatUint(o.seed, 10), "--profile", string(v.profile), "--log-level", "warn")
		if err != nil {
			return err
		}
	}

	// Progress until every village has recorded its year and reached the
	// district, and the statistics answer.
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	deadline := time.After(o.readyTimeout)
	seeded := 0
	var risk []*sanziv1.RiskRow
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return fmt.Errorf("demo: not ready within %s (see %s)", o.readyTimeout, r.logs)
		case <-doneSeeding:
			seeded++
			continue
		case <-tick.C:
		}
		heads, err := d.heads(ctx)
		if err != nil {
			fmt.Fprintf(out, "district: %v\n", err)
			continue
		}
		mu.Lock()
		entries, synced := 0, 0
		for _, v := range villages {
			entries += v.entries
			v.synced = v.seeded && heads[v.org] >= v.head
			if v.synced {
				synced++
			}
		}
		mu.Unlock()
		status := ""
		if synced == len(villages) && o.clickhouse != "" {
			risk, err = d.risk(ctx)
			switch {
			case err != nil:
				status = fmt.Sprintf(", statistics: %v", err)
			case len(risk) < len(villages):
				status = fmt.Sprintf(", statistics: %d of %d villages loaded", len(risk), len(villages))
			}
		}
		fmt.Fprintf(out, "[%s] recorded: %d/%d villages, %d entries; at the district: %d/%d villages%s\n",
			time.Since(began).Round(time.Second), seeded, len(villages), entries, synced, len(villages), status)
		if synced == len(villages) && (o.clickhouse == "" || len(risk) >= len(villages)) {
			break
		}
	}
	total := 0
	for _, v := range villages {
		total += int(v.head)
	}
	fmt.Fprintf(out, "\nReady in %s: %d villages in %d towns, %d entries in the villages' chains, all at the district.\n",
		time.Since(began).Round(time.Second), len(villages), o.towns, total)
	printTownWork(out, villages)
	printPublished(ctx, out, d.http, villages)
	if len(risk) > 0 {
		printRisk(out, risk, villages)
	}
	printDemoAddresses(out, o, d, towns[0].grpc, towns[0].http, villages)
	fmt.Fprintln(out, "Ctrl-C stops every process of the demo; run again to continue with the same data.")
	<-ctx.Done()
	fmt.Fprintln(out, "demo: stopping")
	return nil
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func fieldInt(f []string, key string) int {
	n, _ := strconv.Atoi(fieldStr(f, key))
	return n
}

func fieldStr(f []string, key string) string {
	for _, s := range f {
		if v, ok := strings.CutPrefix(s, key+"="); ok {
			return v
		}
	}
	return ""
}

// printDemoAddresses prints where to look and who to sign in as.
func printDemoAddresses(out io.Writer, o demoOptions, d *demoMembers, townGRPC, townHTTP string, villages []*demoVillage) {
	ca := filepath.Join(o.dir, "ca", "ca.crt")
	v := villages[0]
	fmt.Fprintf(out, `
Consoles (people's APIs over HTTPS with the demo CA: curl --cacert %[1]s; gRPC: --server-ca %[1]s):
  district REST  http://%[2]s/v1/district/status?all=true   risk: /v1/stats/risk   totals: /v1/stats/totals?scope.level=village
  district gRPC  %[3]s (TLS; sanzi district login --server %[3]s --tls-dir %[4]s)
  town     REST  https://%[5]s/v1/alerts   gRPC %[6]s
  village  REST  https://%[7]s/v1/transactions   gRPC %[8]s
`, ca, d.http, d.api[0], filepath.Join(o.dir, "ca"), townHTTP, townGRPC, v.http, v.grpc)
	fmt.Fprintln(out, "  every village:")
	sorted := append([]*demoVillage(nil), villages...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].org < sorted[j].org })
	for _, v := range sorted {
		fmt.Fprintf(out, "    %s %-12s https://%s  gRPC %s  (%s)\n", v.org, v.name, v.http, v.grpc, v.profile)
	}
	fmt.Fprintf(out, `
Demo accounts, one per role (password %q for every one: DEMO ONLY, never on a real node):
  village %[2]s (at %[3]s; the same at every village):
    kuaiji        accountant (records the vouchers)
    chuna         accountant (cashier: the deposit steps)
    cunwei        village_committee (village head, party branch, committees, meetings)
    jiandu        supervisory_committee (finance group: reviews, audits the disclosures)
    shenji        auditor
    admin         admin (accounts only)
  town %[4]s (at %[5]s; the same at every town):
    zhen.shenhe   town_reviewer (agency accountant, reviewer: posts, checks, alert reviews)
    zhen.chuna    town_reviewer (agency cashier, trading service: pays)
    zhen.lingdao  town_reviewer (town leader: approves)
    zhen.guanli   town_admin
    zhen.shenji   auditor
  district (at %[6]s):
    qu.fenxi      district_analyst (statistics)
    qu.guize      district_rules_officer
    qu.shenji     auditor
    admin         admin
Try:
  bin/sanzi login --server %[3]s --server-ca %[7]s --account kuaiji
  bin/sanzi tx list --server %[3]s --server-ca %[7]s
  bin/sanzi district login --server %[6]s --tls-dir %[8]s --account qu.fenxi
  bin/sanzi stats risk --server %[6]s --tls-dir %[8]s
`, demoPassword, v.org, v.grpc, v.town, townGRPC, d.api[0], ca, filepath.Join(o.dir, "ca"))
}
