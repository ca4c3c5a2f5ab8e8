package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/freeport"
)

// These tests run the real binary as separate processes on loopback, so that
// kill -9, restarts and the CLI are exercised as an operator would.

var sanziBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sanzi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sanziBin = filepath.Join(dir, "sanzi")
	if err := setupPeople(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if out, err := exec.Command("go", "build", "-o", sanziBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sanzi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const org = "350505100201"

// freePort is a loopback port below the ephemeral range (freeport).
func freePort(t testing.TB) string { return freeport.Loopback(t) }

// node is a village node running as a child process.
type node struct {
	t          testing.TB
	data       string
	http, grpc string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	extra      []string
	// who is the account requests are made as (personas); "" is the
	// node's default account.
	who string
	// bearer is who's token, for requests made off the test's goroutine.
	bearer string
}

// accountEntries is how many entries a node's chain holds before a test
// records anything: the administrator made at the first start, and the
// default account the harness creates (people_e2e_test.go).
const accountEntries = 2

// id is the id of the k-th entry a test makes (1-based), after the
// account entries, when it created no other persona before it.
func id(k int) string { return fmt.Sprintf("%s-%d", org, accountEntries+k) }

// signIn creates the personas a test acts as now, so that their account
// entries come before what the test records.
func (n *node) signIn(accounts ...string) {
	n.t.Helper()
	for _, a := range accounts {
		peopleAt(n.http).token(n.t, a, false)
	}
}

// as is the node with requests made as account (a persona).
func (n *node) as(account string) *node {
	c := *n
	c.who = account
	return &c
}

func startNode(t testing.TB, data string, extra ...string) *node {
	t.Helper()
	n := &node{t: t, data: data, http: freePort(t), grpc: freePort(t), extra: extra}
	n.start()
	t.Cleanup(func() {
		if n.cmd != nil && n.cmd.ProcessState == nil {
			n.cmd.Process.Kill()
			n.cmd.Wait()
		}
	})
	return n
}

func (n *node) start() {
	t := n.t
	t.Helper()
	args := append([]string{"village", "serve", "--data", n.data, "--org", org, "--http-addr", n.http, "--grpc-addr", n.grpc, "--admin-password-file", adminPWFile}, n.extra...)
	n.log = &bytes.Buffer{}
	n.cmd = exec.Command(sanziBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + n.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				// The administrator and the default account are the
				// chain's first entries (seq 1 and 2): see n.id.
				signInNode(n.http, n.grpc, org).token(t, "", false)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not come up: %v\n%s", err, n.log)
		}
		time.Sleep(20 * time.Millisecond) // polling for the port, not waiting on a deadline
	}
}

func (n *node) kill9() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()
}

func (n *node) stop() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	if err := n.cmd.Wait(); err != nil {
		n.t.Fatalf("node exit: %v\n%s", err, n.log)
	}
}

// call sends a REST request as n.who (with its bearer token, when the
// node is one the harness signed in to) and decodes the JSON answer into
// out (if given).
func (n *node) call(method, path, ctype string, body []byte, out any) (int, []byte) {
	n.t.Helper()
	code, raw := n.callOnce(method, path, ctype, body, out, false)
	if code == http.StatusUnauthorized && peopleAt(n.http) != nil {
		// A node whose data folder a test wiped: sign in afresh.
		code, raw = n.callOnce(method, path, ctype, body, out, true)
	}
	return code, raw
}

func (n *node) callOnce(method, path, ctype string, body []byte, out any, fresh bool) (int, []byte) {
	n.t.Helper()
	req, err := http.NewRequest(method, "http://"+n.http+path, bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if p := peopleAt(n.http); p != nil {
		req.Header.Set("Authorization", "Bearer "+p.token(n.t, n.who, fresh))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			n.t.Fatalf("decode %s: %v: %s", path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

func (n *node) post(path string, v any, out any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		n.t.Fatal(err)
	}
	return n.call("POST", path, "application/json", b, out)
}

// run runs the CLI as the default account of the node it talks to (its
// token in SANZI_TOKEN) and returns its combined output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runAs(t, "", args...)
}

// runAs runs the CLI signed in as account (a persona; "" the node's
// default) at the node named by --server or SANZI_SERVER, if the harness
// started it.
func runAs(t *testing.T, account string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sanziBin, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+cliConfig)
	if p := peopleAt(serverOf(args)); p != nil {
		cmd.Env = append(cmd.Env, "SANZI_TOKEN="+p.token(t, account, false))
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return string(out), code
}

type entryMeta struct {
	ID   string `json:"id"`
	Seq  string `json:"seq"`
	Hash string `json:"hash"`
}

type recorded struct {
	Entry entryMeta `json:"entry"`
}

type head struct {
	Head struct {
		Seq  string `json:"seq"`
		Hash string `json:"hash"`
	} `json:"head"`
}

func (n *node) head() head {
	var h head
	if code, raw := n.call("GET", "/v1/ledger/"+org+"/head", "", nil, &h); code != 200 {
		n.t.Fatalf("head: %d %s", code, raw)
	}
	return h
}

func today() string { return time.Now().Format(time.DateOnly) }

// tx is a valid transaction request body; change fields to break it.
func tx(i int) map[string]any {
	return map[string]any{
		"transaction": map[string]any{
			"org": org, "kind": "TRANSACTION_KIND_EXPENSE", "amountFen": 1000 + i, "paymentMethod": "PAYMENT_METHOD_BANK_TRANSFER",
			"counterparty": map[string]any{"name": "福州某建材有限公司", "idNumber": "91350100M000100Y43", "bankAccount": "6222020200112233445"},
			"businessDate": today(), "summary": fmt.Sprintf("材料费 %d", i), "voucherNumber": fmt.Sprintf("记-%d", i),
			"invoiceNumber": fmt.Sprintf("%08d", i),
		},
	}
}

func set(m map[string]any, path string, v any) map[string]any {
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	if v == nil {
		delete(cur, parts[len(parts)-1])
	} else {
		cur[parts[len(parts)-1]] = v
	}
	return m
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
