package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rest"
)

const testOrg = "350505100201"

// testNode is a village node served in-process on loopback, with its books
// in a temp folder and fsync off.
type testNode struct {
	*Node
	base string
	// token signs in as testAccount; client sends it with every request.
	token  string
	client *http.Client
}

func startTestNode(t testing.TB, tweak func(*Config)) *testNode {
	t.Helper()
	cfg := Config{
		DataDir: t.TempDir(), Orgs: []string{testOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		NoSync: true, MaxAttachment: 64 << 10, Logger: slog.New(slog.DiscardHandler),
		AccountArgon: testArgon, Stdout: io.Discard,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	tok := signIn(t, n, testAccount, cfg.Orgs[0], testRoles...)
	scheme := "http://"
	if n.tls != nil {
		scheme = "https://"
	}
	return &testNode{Node: n, base: scheme + n.HTTPAddr(), token: tok, client: clientWith(tok)}
}

func (n *testNode) head() ledger.Head { return n.ledger.Head(testOrg) }

// apiError is the gateway's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		FieldViolations []struct {
			Field string `json:"field"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func (e apiError) field() string {
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			return v.Field
		}
	}
	return ""
}

// do sends one request and returns the status, the headers and the decoded
// error body (zero when the body is not an error).
func (n *testNode) do(t testing.TB, method, path, ctype string, body io.Reader, length int64) (int, http.Header, apiError) {
	t.Helper()
	req, err := http.NewRequest(method, n.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if length != 0 {
		req.ContentLength = length
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e apiError
	json.Unmarshal(raw, &e)
	if resp.StatusCode != 200 && e.Message == "" {
		t.Logf("%s %s: %d, body not an error: %.200s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, e
}

// validTx is a transaction the node records.
func validTx(i int) string {
	return fmt.Sprintf(`{"author":"tester","transaction":{"org":%q,"kind":"TRANSACTION_KIND_EXPENSE","amountFen":%d,`+
		`"paymentMethod":"PAYMENT_METHOD_BANK_TRANSFER","counterparty":{"name":"福州某建材有限公司","idNumber":"91350100M000100Y43"},`+
		`"businessDate":%q,"summary":"材料费","voucherNumber":"记-%d","invoiceNumber":"%08d"}}`,
		testOrg, 1000+i, time.Now().Format(time.DateOnly), i, i)
}

// TestMalformedRequests sends at least 20 kinds of malformed request to a
// real node over loopback: each must be refused with its status and the
// field at fault named, and the ledger head must not move. The table is
// logged for the report.
func TestMalformedRequests(t *testing.T) {
	n := startTestNode(t, nil)
	if code, _, e := n.do(t, "POST", "/v1/transactions", "application/json", strings.NewReader(validTx(0)), 0); code != 200 {
		t.Fatalf("a valid transaction: %d %s", code, e.Message)
	}
	before := n.head()
	tx := validTx(1)
	with := func(old, new string) string {
		if !strings.Contains(tx, old) {
			t.Fatalf("%q not in the valid body", old)
		}
		return strings.Replace(tx, old, new, 1)
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	type tc struct {
		name, method, path, ctype, body string
		length                          int64 // announced Content-Length (0: the body's)
		status                          int
		field                           string
	}
	cases := []tc{
		{"number past int64", "POST", "/v1/transactions", "application/json", with(`"amountFen":1001`, `"amountFen":99999999999999999999`), 0, 400, "transaction.amountFen"},
		{"number as text", "POST", "/v1/transactions", "application/json", with(`"amountFen":1001`, `"amountFen":"12.5 yuan"`), 0, 400, "transaction.amountFen"},
		{"fraction for int64", "POST", "/v1/transactions", "application/json", with(`"amountFen":1001`, `"amountFen":10.5`), 0, 400, "transaction.amountFen"},
		{"string field given a number", "POST", "/v1/transactions", "application/json", with(`"summary":"材料费"`, `"summary":5`), 0, 400, "transaction.summary"},
		{"object given an array", "POST", "/v1/transactions", "application/json", `{"author":"tester","transaction":{"counterparty":[1]}}`, 0, 400, "transaction.counterparty"},
		{"unknown enum name", "POST", "/v1/transactions", "application/json", with("PAYMENT_METHOD_BANK_TRANSFER", "PAYMENT_METHOD_BITCOIN"), 0, 400, "transaction.paymentMethod"},
		{"unknown field", "POST", "/v1/transactions", "application/json", with(`"amountFen"`, `"amountFne"`), 0, 400, "transaction.amountFne"},
		{"unknown nested field", "POST", "/v1/transactions", "application/json", with(`"name":`, `"nmae":`), 0, 400, "transaction.counterparty.nmae"},
		{"invalid UTF-8", "POST", "/v1/transactions", "application/json", with("材料费", "\xff\xfe"), 0, 400, "transaction.summary"},
		{"invalid UTF-8 in a key", "POST", "/v1/transactions", "application/json", with(`"summary"`, "\"s\xffy\""), 0, 400, "transaction"},
		{"null body", "POST", "/v1/transactions", "application/json", "null", 0, 400, "body"},
		{"array body", "POST", "/v1/transactions", "application/json", "[1,2]", 0, 400, "body"},
		{"null for a message", "POST", "/v1/transactions", "application/json", `{"author":"tester","transaction":{"counterparty":null,"org":5}}`, 0, 400, "transaction.org"},
		{"too deep nesting", "POST", "/v1/transactions", "application/json", deep, 0, 400, strings.TrimSuffix(strings.Repeat("a.", rest.MaxDepth), ".")},
		{"truncated JSON", "POST", "/v1/transactions", "application/json", tx[:65], 0, 400, "transaction.kind"},
		{"trailing comma", "POST", "/v1/transactions", "application/json", `{"author":"tester",}`, 0, 400, "body"},
		{"duplicate field", "POST", "/v1/transactions", "application/json", `{"author":"tester","author":"u"}`, 0, 400, "author"},
		{"wrong type in path route body", "POST", "/v1/contracts/" + testOrg + "-1/payments", "application/json", `{"author":"tester","payment":{"amountFen":true}}`, 0, 400, "payment.amountFen"},
		{"array element of wrong type", "POST", "/v1/transactions", "application/json", with(`"invoiceNumber"`, `"attachments":["ab",7],"invoiceNumber"`), 0, 400, "transaction.attachments[1]"},
		{"text/plain body", "POST", "/v1/transactions", "text/plain", tx, 0, 415, "Content-Type"},
		{"no content type with a body", "POST", "/v1/transactions", "", tx, 0, 415, "Content-Type"},
		{"form body", "POST", "/v1/reversals", "application/x-www-form-urlencoded", "a=b", 0, 415, "Content-Type"},
		{"JSON sent to the upload route", "POST", "/v1/attachments", "application/json", `{"content":"YWJj"}`, 0, 415, "Content-Type"},
		{"announced body over 1 MiB", "POST", "/v1/transactions", "application/json", `{"author":"` + strings.Repeat("x", 2<<20) + `"}`, 0, 413, "body"},
		{"attachment over the limit", "POST", "/v1/attachments", "application/octet-stream", strings.Repeat("x", 64<<10+1), 0, 413, "content"},
		{"chunked body over 1 MiB", "POST", "/v1/transactions", "application/json", `{"author":"` + strings.Repeat("x", 1<<20) + `"}`, -1, 413, "body"},
		{"path parameter not UTF-8", "POST", "/v1/rules/%80/publish", "application/json", `{"author":"tester"}`, 0, 400, "version"},
		{"query parameter not UTF-8", "POST", "/v1/attachments?fileName=%ff.jpg", "application/octet-stream", "abc", 0, 400, "fileName"},
		{"wrong method", "PUT", "/v1/transactions", "application/json", tx, 0, 405, ""},
	}
	type row struct {
		name   string
		status int
		field  string
		same   bool
	}
	var rows []row
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, e := n.do(t, c.method, c.path, c.ctype, strings.NewReader(c.body), c.length)
			same := n.head() == before
			rows = append(rows, row{c.name, status, e.field(), same})
			if status != c.status {
				t.Errorf("HTTP %d, want %d: %s", status, c.status, e.Message)
			}
			if e.field() != c.field {
				t.Errorf("field %q, want %q (message %q)", e.field(), c.field, e.Message)
			}
			if !same {
				t.Errorf("the ledger head moved")
			}
			if status == 405 && hdr.Get("Allow") != "GET, POST" {
				t.Errorf("Allow %q, want \"GET, POST\"", hdr.Get("Allow"))
			}
		})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-32s %6s  %-34s %s\n", "malformed input", "status", "field named", "head unchanged")
	for _, r := range rows {
		if len(r.field) > 34 {
			r.field = r.field[:31] + "..."
		}
		fmt.Fprintf(&b, "%-32s %6d  %-34s %v\n", r.name, r.status, r.field, r.same)
	}
	t.Logf("%d kinds of malformed input:\n%s", len(rows), b.String())
}
