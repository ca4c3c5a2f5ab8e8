package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sanzi/sanzi/node/idcode"
)

// Every end-to-end test runs signed in (issue 12): each node starts with
// --admin-password-file, the harness signs in as its administrator
// (replacing the one-time password), creates the accounts a test acts as,
// and sends each request with the bearer token of the account it acts for.
// The author of every entry is that account's id.

// Passwords of the test accounts. Every first password is a one-time
// password, replaced at the harness's first sign-in.
const (
	adminPW     = "e2e-admin-first-1"
	adminNewPW  = "e2e-admin-second-2"
	personPW    = "e2e-person-first-1"
	personNewPW = "e2e-person-second-2"
)

// adminPWFile is a file with adminPW, mode 0600 (made in TestMain), given
// to every node as --admin-password-file; cliConfig is the config folder
// the CLI runs with (XDG_CONFIG_HOME), so no test touches the user's own.
var adminPWFile, cliConfig string

func setupPeople(dir string) error {
	adminPWFile = filepath.Join(dir, "admin-password")
	cliConfig = filepath.Join(dir, "config")
	return os.WriteFile(adminPWFile, []byte(adminPW+"\n"), 0o600)
}

// persona is an account a test acts as: the people who used to be typed
// as free-text authors, now with the roles and posts their actions need.
type persona struct {
	name  string
	roles []string
	posts []string
}

// personas are keyed by account id. "e2e" is every node's default account
// (see defaultPersona); the others are the distinct authors tests used.
var personas = map[string]persona{
	// The village's accountant: records, reads personal data, reads the
	// raw chain (auditor) for the tests that compare entries.
	"e2e": {"端到端测试会计", []string{"accountant", "auditor"}, []string{"village.accountant"}},
	// Two village committee members: a rule set needs a drafter and a
	// second person to publish it.
	"li.si":   {"会计李四", []string{"village_committee"}, []string{"village.finance_group"}},
	"wang.wu": {"镇审核员王五", []string{"village_committee"}, []string{"village.head"}},
	// Village posts deciding the steps of a procedure: a second
	// accountant fills in the voucher (capture) of what "e2e" recorded.
	"bao.zhang": {"报账员", []string{"accountant"}, []string{"village.accountant"}},
	"cai.wu":    {"财务小组", []string{"village_committee"}, []string{"village.finance_group"}},
	"cun.zhang": {"村主任", []string{"village_committee"}, []string{"village.head", "village.party_branch", "village.committees"}},
	// The supervisory committee reviews alerts.
	"jian.du": {"村务监督委员会", []string{"supervisory_committee"}, nil},
	// At a town: its default account, two agency accountants and the
	// reviewer who acknowledges alerts.
	"town.e2e":   {"镇端到端测试", []string{"accountant", "town_reviewer", "auditor"}, []string{"town.agency_accountant", "town.reviewer"}},
	"zhen.li":    {"镇代理会计 李", []string{"town_reviewer"}, []string{"town.agency_accountant"}},
	"zhen.zhang": {"镇代理会计 张", []string{"town_reviewer"}, []string{"town.agency_accountant"}},
	"zhen.wang":  {"镇农经站审核员 王", []string{"town_reviewer"}, []string{"town.reviewer"}},
	// The town's leader signs the written reply to a villager's complaint.
	"zhen.zhao": {"镇分管领导 赵", []string{"town_reviewer"}, []string{"town.leader"}},
}

// defaultPersona is the account a node's requests are made as unless a
// test names another: the accountant at a village, a reviewer at a town.
func defaultPersona(org string) string {
	if lvl, err := idcode.OrgCode(org); err == nil && lvl != idcode.LevelVillage {
		return "town.e2e"
	}
	return "e2e"
}

// people are the sign-ins of one node, found by its REST or gRPC address.
type people struct {
	http, org string
	mu        sync.Mutex
	tokens    map[string]string // account → bearer token
}

var peopleByAddr sync.Map // http or gRPC address → *people

// signInNode registers a node that has just come up (or came up again on
// the same addresses: its tokens live in its credentials.db).
func signInNode(httpAddr, grpcAddr, org string) *people {
	if p, ok := peopleByAddr.Load(httpAddr); ok {
		return p.(*people)
	}
	p := &people{http: httpAddr, org: org, tokens: map[string]string{}}
	actual, _ := peopleByAddr.LoadOrStore(httpAddr, p)
	if grpcAddr != "" {
		peopleByAddr.Store(grpcAddr, actual)
	}
	return actual.(*people)
}

// peopleAt is the node registered at a REST or gRPC address, if any.
func peopleAt(addr string) *people {
	p, ok := peopleByAddr.Load(addr)
	if !ok {
		return nil
	}
	return p.(*people)
}

// token is account's bearer token at the node, signing in (and creating the
// account from personas, as the administrator) the first time. fresh drops
// a cached token first (the node answered 401: a wiped data folder).
func (p *people) token(t testing.TB, account string, fresh bool) string {
	t.Helper()
	if account == "" {
		account = defaultPersona(p.org)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if fresh {
		delete(p.tokens, account)
		delete(p.tokens, "admin")
	}
	if tok, ok := p.tokens[account]; ok {
		return tok
	}
	if account == "admin" {
		tok := p.login(t, "admin", adminPW, adminNewPW)
		p.tokens["admin"] = tok
		return tok
	}
	who, ok := personas[account]
	if !ok {
		t.Fatalf("no persona %q in people_e2e_test.go", account)
	}
	admin, ok := p.tokens["admin"]
	if !ok {
		admin = p.login(t, "admin", adminPW, adminNewPW)
		p.tokens["admin"] = admin
	}
	body := map[string]any{"account": map[string]any{"account": account, "name": who.name, "org": p.org, "roles": who.roles, "posts": who.posts}, "password": personPW}
	if code, raw := p.post("/v1/accounts", admin, body, nil); code != 200 && code != 409 {
		t.Fatalf("create account %s at %s: %d %s", account, p.org, code, raw)
	}
	tok := p.login(t, account, personPW, personNewPW)
	p.tokens[account] = tok
	return tok
}

// login signs in with the first password, replacing it, or with the
// replacement when that was done before (a restarted node).
func (p *people) login(t testing.TB, account, first, second string) string {
	t.Helper()
	var out struct {
		Secret string `json:"secret"`
	}
	code, raw := p.post("/v1/login", "", map[string]any{"account": account, "password": first, "newPassword": second}, &out)
	if code == 401 {
		code, raw = p.post("/v1/login", "", map[string]any{"account": account, "password": second}, &out)
	}
	if code != 200 || out.Secret == "" {
		t.Fatalf("sign in as %s at %s: %d %s", account, p.http, code, raw)
	}
	return out.Secret
}

func (p *people) post(path, token string, v, out any) (int, []byte) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequest("POST", "http://"+p.http+path, bytes.NewReader(b))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, []byte(fmt.Sprintf("decode %s: %v", raw, err))
		}
	}
	return resp.StatusCode, raw
}

// serverOf is the node a CLI invocation talks to: --server (or --http of
// sync status), else SANZI_SERVER.
func serverOf(args []string) string {
	for _, flag := range []string{"--server", "--http"} {
		if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
	}
	return os.Getenv("SANZI_SERVER")
}

// get sends a GET as n.who and returns the open response (for streams).
func (n *node) get(path string) (*http.Response, error) {
	req, err := http.NewRequest("GET", "http://"+n.http+path, nil)
	if err != nil {
		return nil, err
	}
	if p := peopleAt(n.http); p != nil {
		req.Header.Set("Authorization", "Bearer "+p.token(n.t, n.who, false))
	}
	return http.DefaultClient.Do(req)
}

// dial connects to the node's gRPC API as n.who.
func (n *node) dial() *grpc.ClientConn {
	n.t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if p := peopleAt(n.grpc); p != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: p.token(n.t, n.who, false), insecureOK: true}))
	}
	conn, err := grpc.NewClient(n.grpc, opts...)
	if err != nil {
		n.t.Fatal(err)
	}
	return conn
}
