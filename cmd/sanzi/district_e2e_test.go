package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// member is a district member running as its own process.
type districtProc struct {
	t                   testing.TB
	id, raft, api, data string
	args                []string
	cmd                 *exec.Cmd
	logShown            bool
	starts              int
}

// logPath is where the member's output goes: beside its data folder, or
// in $SANZI_E2E_LOGDIR (kept after the test, for looking into a failure).
func (p *districtProc) logPath() string {
	if d := os.Getenv("SANZI_E2E_LOGDIR"); d != "" {
		return filepath.Join(d, p.id+".log")
	}
	return p.data + ".log"
}

func (p *districtProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(sanziBin, p.args...)
	// The member's log, across its restarts, is kept beside its data
	// folder and its end shown when the test fails: a fault test that
	// fails says what the members saw.
	logPath := p.logPath()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.t.Fatal(err)
	}
	f.Close()
	p.starts++
	if !p.logShown {
		p.logShown = true
		p.t.Cleanup(func() {
			if !p.t.Failed() {
				return
			}
			raw, err := os.ReadFile(logPath)
			if err != nil {
				return
			}
			lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
			p.t.Logf("district member %s's log, last %d of %d lines:\n%s", p.id, min(60, len(lines)), len(lines), strings.Join(lines[max(0, len(lines)-60):], "\n"))
		})
	}
}

// waitServing waits until the member's latest start has finished (it
// prints "district member ID: raft …" once Start returns): the first
// member of a cluster returns only once it has made the first
// administrator, which a test that kills it must not race.
func (p *districtProc) waitServing(timeout time.Duration) {
	p.t.Helper()
	logPath := p.logPath()
	line := fmt.Sprintf("district member %s: raft ", p.id)
	deadline := time.Now().Add(timeout)
	for {
		raw, _ := os.ReadFile(logPath)
		if strings.Count(string(raw), line) >= p.starts {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("district member %s: start %d not serving after %v", p.id, p.starts, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *districtProc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
}

func (p *districtProc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	// A member that does not finish shutting down within 15 s is killed,
	// so a failing test ends instead of hanging in its cleanup.
	kill := time.AfterFunc(15*time.Second, func() { p.cmd.Process.Signal(syscall.SIGKILL) })
	p.cmd.Wait()
	if !kill.Stop() {
		p.t.Logf("district member %s ignored SIGTERM for 15 s and was killed", p.id)
	}
	p.cmd = nil
}

type testVillage struct {
	origin string
	key    ed25519.PrivateKey
	head   ledger.Head
}

func (v *testVillage) next(n int) [][]byte {
	out := make([][]byte, 0, n)
	payload := make([]byte, 130)
	for i := 0; i < n; i++ {
		s, err := ledger.Seal(v.key, v.head, ledger.Record{Origin: v.origin, Author: "e2e", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload}, time.Now())
		if err != nil {
			panic(err)
		}
		v.head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
		out = append(out, s.Raw)
	}
	return out
}

// TestDistrictKill9Leader runs three member processes under a steady push
// load and kills the leader with SIGKILL ten times, restarting it each time.
// After each kill a new leader must appear, every entry acknowledged before
// the kill must be on both survivors, and pushes must resume; at the end
// every member holds the same heads and a chain that verifies, so nothing
// was stored twice or lost.
func TestDistrictKill9Leader(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if out, code := run(t, "ca", "init", "--district", "350505", "--dir", caDir); code != 0 {
		t.Fatalf("ca init: %s", out)
	}
	for _, name := range []string{"d1", "d2", "d3", "admin"} {
		if out, code := run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", name); code != 0 {
			t.Fatalf("ca issue: %s", out)
		}
	}
	// Every member loads into one ClickHouse while it leads: the loader
	// moves with leadership through all ten kills.
	ch, err := chserver.Start(context.Background(), chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	members := map[string]*districtProc{}
	var ids []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		p := &districtProc{t: t, id: id, raft: freePort(t), api: freePort(t), data: filepath.Join(dir, id)}
		p.args = []string{"district", "serve", "--id", id, "--raft", p.raft, "--api", p.api, "--data", p.data, "--tls-dir", caDir, "--cert", id, "--log-level", "warn",
			"--clickhouse", ch.Addr()}
		p.args = append(p.args, "--chain-cert", "admin")
		if i == 1 {
			p.args = append(p.args, append([]string{"--bootstrap"}, districtAdminArgs(t, dir)[2:]...)...)
		} else {
			p.args = append(p.args, "--join", members["d1"].api)
		}
		members[id], ids = p, append(ids, id)
		p.start()
		t.Cleanup(p.stop)
		if i == 1 {
			// The first member is up once it has made the first
			// administrator; killing it before that only delays the
			// account to a later start (and the sign-in below would
			// race it).
			p.waitServing(2 * time.Minute)
			waitLeader(t, clientFor(t, caDir, p.api), "")
		}
	}
	clients := map[string]sanziv1.DistrictServiceClient{}
	for _, id := range ids {
		clients[id] = clientFor(t, caDir, members[id].api)
	}
	eventually(t, 30*time.Second, "3 voters", func() bool {
		st, err := clients["d1"].ClusterStatus(context.Background(), &sanziv1.ClusterStatusRequest{All: true})
		return err == nil && len(st.GetMembers()) == 3 && st.GetMembers()[2].GetError() == ""
	})

	// Villages and their keys.
	var villages []*testVillage
	for i := 0; i < 4; i++ {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		v := &testVillage{origin: fmt.Sprintf("350505100%03d", 201+i), key: ed25519.NewKeyFromSeed(seed)}
		villages = append(villages, v)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := clients["d2"].RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: v.origin, PublicKey: v.key.Public().(ed25519.PublicKey)})
		cancel()
		if err != nil {
			t.Fatalf("register: %v", err)
		}
	}

	// Steady load: each pusher pushes its village's chain to live members.
	var (
		mu     sync.Mutex
		alive  = map[string]bool{"d1": true, "d2": true, "d3": true}
		acked  = map[string]uint64{}
		okPush atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for i, v := range villages {
		wg.Add(1)
		go func(i int, v *testVillage) {
			defer wg.Done()
			var batch [][]byte
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if batch == nil {
					batch = v.next(200)
				}
				mu.Lock()
				var live []string
				for _, id := range ids {
					if alive[id] {
						live = append(live, id)
					}
				}
				mu.Unlock()
				target := live[(i+k)%len(live)]
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := clients[target].PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: batch})
				cancel()
				if err != nil {
					time.Sleep(50 * time.Millisecond) // back off, then resend the same batch
					continue
				}
				for _, a := range resp.GetAcks() {
					if a.GetOrigin() == v.origin {
						mu.Lock()
						acked[v.origin] = max(acked[v.origin], a.GetSeq())
						mu.Unlock()
						if a.GetSeq() == v.head.Seq {
							batch = nil
						}
					}
				}
				okPush.Add(1)
			}
		}(i, v)
	}
	defer func() { close(stop); wg.Wait() }()

	var failovers []time.Duration
	for round := 0; round < 10; round++ {
		before := okPush.Load()
		eventually(t, 30*time.Second, "pushes to go through", func() bool { return okPush.Load() >= before+5 })
		leader := waitLeader(t, clients[ids[(round+1)%3]], "")
		mu.Lock()
		alive[leader] = false
		snapshot := map[string]uint64{}
		for o, s := range acked {
			snapshot[o] = s
		}
		mu.Unlock()
		killed := time.Now()
		members[leader].kill9()
		var survivor string
		for _, id := range ids {
			if id != leader {
				survivor = id
			}
		}
		newLeader := waitLeader(t, clients[survivor], leader)
		failovers = append(failovers, time.Since(killed))
		// Every ack given before the kill is on both survivors.
		for _, id := range ids {
			if id == leader {
				continue
			}
			for o, s := range snapshot {
				eventually(t, 20*time.Second, fmt.Sprintf("%s to hold %s up to %d", id, o, s), func() bool {
					h, err := clients[id].GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: o})
					return err == nil && h.GetHead().GetSeq() >= s
				})
			}
		}
		t.Logf("round %d: killed leader %s, new leader %s after %v", round, leader, newLeader, failovers[round].Round(time.Millisecond))
		members[leader].start()
		mu.Lock()
		alive[leader] = true
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	// A signed-in analyst reads the status below; the account is an entry
	// of the district's chain, made after ten leader kills through a
	// member that may not lead.
	analyst := districtPerson(t, caDir, members["d2"].api, districtAdmin(t, caDir, members["d2"].api), "zhao.analyst", "district_analyst")
	// Converge, then stop everything and verify each member's state file.
	var final map[string]uint64
	eventually(t, 60*time.Second, "all members to hold the same heads", func() bool {
		var first map[string]uint64
		for i, id := range ids {
			resp, err := clients[id].ListHeads(context.Background(), &sanziv1.ListHeadsRequest{})
			if err != nil {
				return false
			}
			hs := map[string]uint64{}
			for _, h := range resp.GetHeads() {
				hs[h.GetOrigin()] = h.GetSeq()
			}
			if i == 0 {
				first = hs
			} else if fmt.Sprint(hs) != fmt.Sprint(first) {
				return false
			}
		}
		final = first
		return true
	})
	for o, s := range acked {
		if final[o] < s {
			t.Fatalf("%s: final head %d below acknowledged %d", o, final[o], s)
		}
	}
	// ClickHouse ends with every entry exactly once, though the loader was
	// killed with its leader ten times mid-load.
	var want uint64
	for _, s := range final {
		want += s
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows, distinct uint64
	eventually(t, 60*time.Second, fmt.Sprintf("ClickHouse to hold all %d entries", want), func() bool {
		err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(origin, seq) FROM entries").Scan(&rows, &distinct)
		return err == nil && rows >= want
	})
	if rows != want || distinct != want {
		t.Fatalf("ClickHouse holds %d rows of %d distinct entries, want exactly %d", rows, distinct, want)
	}
	t.Logf("ClickHouse: %d entry rows, %d distinct, after 10 leader kills during loading", rows, distinct)
	out, code := run(t, "district", "status", "--server", members["d2"].api, "--tls-dir", caDir, "--token", analyst)
	if code != 0 || !strings.Contains(out, "leader d") || strings.Count(out, "\nd") != 3 {
		t.Fatalf("district status: exit %d\n%s", code, out)
	}
	t.Logf("sanzi district status:\n%s", out)
	for _, id := range ids {
		members[id].stop()
	}
	total := 0
	for _, id := range ids {
		f, err := fsm.Open(fsm.Config{Path: filepath.Join(members[id].data, "state.db")})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		counts, problems, err := ledger.Verify(filepath.Join(members[id].data, "state.db"), f)
		if err != nil || len(problems) > 0 {
			t.Fatalf("%s: verify: %v %v", id, err, problems)
		}
		n := 0
		for o, c := range counts {
			if uint64(c) != final[o] {
				t.Fatalf("%s: %s holds %d entries, head %d", id, o, c, final[o])
			}
			n += c
		}
		total = n
	}
	slices.Sort(failovers)
	t.Logf("10 leader kills: new leader after median %v, max %v; %d entries on each member, all verify; acks %v",
		failovers[len(failovers)/2].Round(time.Millisecond), failovers[len(failovers)-1].Round(time.Millisecond), total, acked)
}

func clientFor(t testing.TB, caDir, addr string) sanziv1.DistrictServiceClient {
	t.Helper()
	return sanziv1.NewDistrictServiceClient(connFor(t, caDir, addr))
}

// connFor is a connection to a member as the CA directory's "admin".
func connFor(t testing.TB, caDir, addr string) *grpc.ClientConn {
	t.Helper()
	return connAs(t, caDir, "admin", addr)
}

// connAs is a gRPC connection to addr under the certificate caDir issued
// as name (the org code when issued without --name).
func connAs(t testing.TB, caDir, name, addr string) *grpc.ClientConn {
	t.Helper()
	pool, err := pki.LoadPool(caDir)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := pki.LoadIssued(caDir, name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitLeader polls a member until it names a leader other than not.
func waitLeader(t testing.TB, c sanziv1.DistrictServiceClient, not string) string {
	t.Helper()
	var id string
	eventually(t, 30*time.Second, "a leader other than "+not, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := c.ClusterStatus(ctx, &sanziv1.ClusterStatusRequest{})
		if err != nil || st.GetLeaderId() == "" || st.GetLeaderId() == not {
			return false
		}
		id = st.GetLeaderId()
		return true
	})
	return id
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// districtAdminArgs are the flags of the first member's first start in
// the end-to-end tests: every member signs the district's chain with the
// CA folder's "admin" key (which `sanzi district revoke` signs with too),
// and the first administrator's password is read from a file in dir.
func districtAdminArgs(t *testing.T, dir string) []string {
	t.Helper()
	return []string{"--chain-cert", "admin", "--admin-password-file", writeSecret(t, filepath.Join(dir, "admin-password"), e2eAdminPassword)}
}

const e2eAdminPassword = "first-admin-password-0"

func writeSecret(t *testing.T, path, s string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// districtLogin signs account in at a member with the binary (`sanzi
// district login`), replacing its one-time password pw with one of its
// own, and returns the bearer token.
func districtLogin(t *testing.T, caDir, api, account, pw string) string {
	t.Helper()
	dir := t.TempDir()
	out, code := run(t, "district", "login", "--server", api, "--tls-dir", caDir, "--account", account, "--json",
		"--password-file", writeSecret(t, filepath.Join(dir, "pw"), pw), "--new-password-file", writeSecret(t, filepath.Join(dir, "new"), account+"-own-password-1"))
	var resp struct {
		Secret string `json:"secret"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &resp) != nil || resp.Secret == "" {
		t.Fatalf("district login %s: exit %d\n%s", account, code, out)
	}
	return resp.Secret
}

// districtPerson creates a district account with roles as the first
// administrator (over gRPC, with the administrator's token) and signs it
// in with the binary; it returns the account's token.
func districtPerson(t *testing.T, caDir, api, adminToken, account string, roles ...string) string {
	t.Helper()
	pool, err := pki.LoadPool(caDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := pki.ClientConfig(pool, tls.Certificate{}, pki.AllowRoles(pki.RoleDistrict))
	cfg.Certificates = nil
	conn, err := grpc.NewClient(api, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
	var resp *sanziv1.CreateAccountResponse
	eventually(t, 30*time.Second, "the account "+account+" to be created", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err = sanziv1.NewAccountServiceClient(conn).CreateAccount(cctx, &sanziv1.CreateAccountRequest{
			Account: &sanziv1.Account{Account: account, Name: account, Org: "350505000000", Roles: roles}})
		return err == nil || status.Code(err) == codes.AlreadyExists
	})
	if err != nil {
		t.Fatalf("create %s: %v", account, err)
	}
	return districtLogin(t, caDir, api, account, resp.GetOneTimePassword())
}

// districtAdmin signs the first administrator in and returns its token.
func districtAdmin(t *testing.T, caDir, api string) string {
	t.Helper()
	return districtLogin(t, caDir, api, "admin", e2eAdminPassword)
}
