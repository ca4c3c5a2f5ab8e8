package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public/publictest"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestPublicDisclosure (issue 15) runs a real 3-member district, a town and
// a village as processes on loopback. The village records a month, opens
// its monthly disclosure, and its four steps are decided where their posts
// are (the town's agency accountant prepares, the village's supervisory
// committee audits, the town's reviewer checks, the village committees
// publish). Then every member serves the approved month on its public site,
// masked, and `sanzi verify-public` proves it from a follower; what a
// tampering site serves (a figure, an entry's hash, a checkpoint signed
// with another key, a contradicting checkpoint) fails with the reason, as
// does a member whose state file was edited while it was stopped. A
// member's public rate limit refuses a fast client.
func TestPublicDisclosure(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: a district, a town and a village")
	}
	// d3 has a low public rate limit for the last step.
	w := startPublicWorld(t, map[string][]string{"d3": {"--public-rate", "1", "--public-burst", "30"}})
	const village = pwVillage
	caDir, members, httpOf := w.caDir, w.members, w.httpOf
	m := w.discloseMonth(t)
	resident, bankAcct, phone, laborID, period := m.resident, m.bankAcct, m.phone, m.laborID, m.period

	d2http := "http://" + httpOf["d2"]
	pageURL := d2http + "/public/villages/" + village
	t.Run("every member shows it, masked, with a proof", func(t *testing.T) {
		for _, id := range []string{"d1", "d2", "d3"} {
			var pub struct {
				Proof struct {
					Checkpoint uint64 `json:"checkpoint"`
				} `json:"proof"`
			}
			eventually(t, 30*time.Second, id+" to serve the month with a checkpoint", func() bool {
				code, body := httpGet(t, "http://"+httpOf[id]+"/public/v1/villages/"+village+"/disclosures/"+period)
				return code == 200 && json.Unmarshal(body, &pub) == nil && pub.Proof.Checkpoint > 0
			})
		}
		code, body := httpGet(t, pageURL)
		page := string(body)
		if code != 200 || len(body) > 200<<10 {
			t.Fatalf("%d, %d bytes", code, len(body))
		}
		// The village's approvals (audit, publish) named the digest of the
		// content the district computes: the page says it is what the
		// committee approved.
		for _, want := range []string{"新村 财务公开", "城关镇", "张**", "12,345.00", "5,000.00", "3505**********", "链段", "即村监委会批准的内容"} {
			if !strings.Contains(page, want) {
				t.Errorf("the village's page lacks %q", want)
			}
		}
		for _, never := range []string{"张三丰", resident, bankAcct, phone} {
			if strings.Contains(page, never) {
				t.Errorf("the village's page shows %q", never)
			}
		}
		// No inline script: the one script is the optional check, from the
		// member itself.
		if scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1); len(scripts) != 1 || scripts[0] != `<script src="/public/verify.js" defer>` {
			t.Errorf("scripts on the page: %q", scripts)
		}
		_, js := httpGet(t, d2http+"/public/v1/villages/"+village+"/disclosures/"+period)
		for _, want := range []string{`"bankAccount": "6222***********3445"`, `"phone": "138****5678"`} {
			if !strings.Contains(string(js), want) {
				t.Errorf("the month's JSON lacks %s", want)
			}
		}
		if n := len(regexp.MustCompile(`title="350505100201-\d+ [0-9a-f]{64}"`).FindAllString(page, -1)); n < 2 {
			t.Errorf("%d entries shown with their hash, want every one", n)
		}
		t.Logf("the village page at d2: %d bytes, no inline script", len(body))
	})

	fpOut, code := run(t, "district", "fingerprint", "--tls-dir", caDir, "--cert", "admin")
	fp := regexp.MustCompile(`fingerprint: ([0-9a-f:]+)`).FindStringSubmatch(fpOut)
	if code != 0 || fp == nil {
		t.Fatalf("district fingerprint: %d %s", code, fpOut)
	}
	t.Run("verify-public passes", func(t *testing.T) {
		out, code := run(t, "verify-public", "--fingerprint", fp[1], pageURL)
		if code != 0 || !strings.Contains(out, "verify-public: OK") || !strings.Contains(out, "matches the one given") || !strings.Contains(out, "the one the committee's signed decisions approved") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		t.Logf("sanzi verify-public %s:\n%s", pageURL, out)
	})
	t.Run("the proof holds no personal data", func(t *testing.T) {
		var pub struct {
			Proof struct {
				Segment string `json:"segment"`
			} `json:"proof"`
		}
		if code, body := httpGet(t, d2http+"/public/v1/villages/"+village+"/disclosures/"+period); code != 200 || json.Unmarshal(body, &pub) != nil || pub.Proof.Segment == "" {
			t.Fatalf("the month's proof: %d %s", code, body)
		}
		split, entries := 0, 0
		for next := pub.Proof.Segment; next != ""; {
			var seg struct {
				Entries []string `json:"entries"`
				Next    string   `json:"next"`
			}
			code, body := httpGet(t, d2http+next)
			if code != 200 || json.Unmarshal(body, &seg) != nil {
				t.Fatalf("segment %s: %d %s", next, code, body)
			}
			for _, b64 := range seg.Entries {
				raw, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Fatal(err)
				}
				l, err := ledger.Peek(raw)
				for _, never := range []string{"张三丰", resident, bankAcct, phone} {
					if bytes.Contains(raw, []byte(never)) {
						t.Errorf("entry %d (%s) of the proof holds %q: %q", l.Seq, l.Type, never, l.PublicPayload)
					}
				}
				if err != nil || l.BodyHash() != l.Hash || len(l.Private) > 0 {
					t.Fatalf("a served entry: %v, private part %d bytes", err, len(l.Private))
				}
				if l.Redacted() {
					split++
				}
				entries++
			}
			next = seg.Next
		}
		// The labor payment (to a resident, with ID, bank account and
		// phone) is the one entry of the month with personal data.
		if split < 1 {
			t.Errorf("no entry of the proof was split, want the labor payment")
		}
		t.Logf("the proof: %d entries, %d of them split (served masked, private part withheld)", entries, split)
	})

	t.Run("the browser checks it too", func(t *testing.T) {
		ctx := csBrowser(t)
		csRun(t, ctx, "check the month in the browser", chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("#verify")),
			chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitReady(chromedp.CSS("#verify-out.ok, #verify-out.bad")))
		got := csGet(t, ctx, "read the result", chromedp.Text(chromedp.CSS("#verify-out")))
		if !strings.HasPrefix(got, "浏览器验证通过") {
			t.Fatalf("the browser's check: %s", got)
		}
		t.Logf("Chromium (WebCrypto Ed25519, SHA-256): %s", got)
	})

	admin, err := pki.LoadIssued(caDir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize))
	for _, tc := range []struct {
		name string
		edit func(path string, body []byte) []byte
		want string
		// browser is what the in-page check says of it ("": not run).
		browser string
	}{
		{"a figure altered in the page data", func(path string, body []byte) []byte {
			if !strings.Contains(path, "/disclosures/") {
				return body
			}
			return bytes.Replace(body, []byte(`"amountFen": 1234500`), []byte(`"amountFen": 1034500`), 1)
		}, "expense[0].amountFen: the page says 1034500, the chain says 1234500", ""},
		{"an entry hash changed", func(path string, body []byte) []byte {
			if !strings.Contains(path, "/chains/") {
				return body
			}
			return publictest.EditEntry(t, body, 0, func(e *sanziv1.Entry) { e.Hash[0] ^= 1 })
		}, "does not hash to its hash", "内容与哈希不符"},
		{"a forged checkpoint", func(path string, body []byte) []byte {
			if !strings.HasPrefix(path, "/public/v1/checkpoints/") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				m["signature"] = base64.StdEncoding.EncodeToString(ed25519.Sign(other, []byte(m["statement"].(string))))
			})
		}, "it was not signed by the district", "签名与区公钥不符"},
		{"a contradicting checkpoint", func(path string, body []byte) []byte {
			if path != "/public/v1/checkpoints" {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				cps := m["checkpoints"].([]any)
				st, err := checkpoint.Parse([]byte(cps[len(cps)-1].(map[string]any)["statement"].(string)))
				if err != nil {
					t.Fatal(err)
				}
				st.Number, st.Prev = st.Number+1, st.Sum()
				for i := range st.Heads {
					if st.Heads[i].Origin == village {
						st.Heads[i].Hash[0] ^= 1
					}
				}
				s := checkpoint.Sign(st, admin.Key) // the district's own key: a second history
				m["checkpoints"] = append(cps, map[string]any{"number": st.Number, "statement": string(s.Text), "signature": base64.StdEncoding.EncodeToString(s.Signature)})
			})
		}, "contradict", ""},
	} {
		t.Run("fails on "+tc.name, func(t *testing.T) {
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp, err := http.Get(d2http + r.URL.RequestURI())
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
				w.WriteHeader(resp.StatusCode)
				w.Write(tc.edit(r.URL.Path, body))
			}))
			defer proxy.Close()
			out, code := run(t, "verify-public", "--fingerprint", fp[1], proxy.URL+"/public/villages/"+village)
			if code == 0 || !strings.Contains(out, "verify-public: FAILED") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want a failure saying %q:\n%s", code, tc.want, out)
			}
			t.Logf("%s: %s", tc.name, failure(out))
			if tc.browser == "" {
				return
			}
			ctx := csBrowser(t)
			csRun(t, ctx, "check the tampered month in the browser", chromedp.Navigate(proxy.URL+"/public/villages/"+village),
				chromedp.WaitVisible(chromedp.CSS("#verify")), chromedp.Click(chromedp.CSS("#verify")),
				chromedp.WaitReady(chromedp.CSS("#verify-out.ok, #verify-out.bad")))
			if got := csGet(t, ctx, "read the result", chromedp.Text(chromedp.CSS("#verify-out"))); !strings.Contains(got, tc.browser) {
				t.Fatalf("the browser's check of %s: %s, want %q", tc.name, got, tc.browser)
			} else {
				t.Logf("Chromium: %s", got)
			}
		})
	}

	t.Run("fails on a member whose state file was edited", func(t *testing.T) {
		d3 := members["d3"]
		d3.stop()
		state := filepath.Join(d3.data, "state.db")
		b, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		n := bytes.Count(b, []byte("tamper-me"))
		if n == 0 {
			t.Fatal("the entry's bytes are not in d3's state file")
		}
		b = bytes.ReplaceAll(b, []byte("tamper-me"), []byte("tamper-mf")) // one byte of the entry's summary
		if err := os.WriteFile(state, b, 0o600); err != nil {
			t.Fatal(err)
		}
		d3.start()
		eventually(t, 30*time.Second, "d3 serving again", func() bool {
			resp, err := http.Get("http://" + httpOf["d3"] + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		out, code := run(t, "verify-public", "--fingerprint", fp[1], "http://"+httpOf["d3"]+"/public/villages/"+village)
		if code == 0 || !strings.Contains(out, "entry "+laborID+": its body does not hash to its hash") {
			t.Fatalf("exit %d, want a failure naming %s:\n%s", code, laborID, out)
		}
		t.Logf("one byte changed in %d place(s) of d3's state file: %s", n, failure(out))
	})

	t.Run("rate limit", func(t *testing.T) {
		// d3 takes 30 at once then 1 a second from one address: 60 quick
		// requests meet the limit well before the end (bounded: 60 GETs).
		var ok, refused int
		var retry string
		start := time.Now()
		for range 60 {
			resp, err := http.Get("http://" + httpOf["d3"] + "/public/v1/key")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				refused++
				retry = resp.Header.Get("Retry-After")
			default:
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		elapsed := time.Since(start)
		if maxOK := 30 + int(elapsed.Seconds()) + 1; ok > maxOK || refused == 0 || retry == "" {
			t.Fatalf("%d answered, %d refused (Retry-After %q) in %v: want at most %d answered", ok, refused, retry, elapsed, maxOK)
		}
		t.Logf("60 requests in %v from one address: %d answered, %d refused with 429 (Retry-After %s s)", elapsed.Round(time.Millisecond), ok, refused, retry)
	})
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// failure is verify-public's failure from its output: the FAILED line and
// the lines it lists.
func failure(out string) string {
	_, f, _ := strings.Cut(out, "verify-public: FAILED: ")
	f, _, _ = strings.Cut(f, "\nsanzi: ")
	return f
}

// disclosedMonth is what discloseMonth recorded and had approved.
type disclosedMonth struct {
	// The private counterparty of the labour payment, which no page shows.
	resident, bankAcct, phone string
	laborID, period           string
}

// discloseMonth has the world's village record a month (a labour payment
// to a private person and an income) and open its monthly disclosure,
// whose four steps are decided where their posts are (the town's agency
// accountant prepares, the village's supervisory committee audits, the
// town's reviewer checks, the village committees publish); it returns once
// the village's chain with the approval is at the district.
func (w *publicWorld) discloseMonth(t *testing.T) disclosedMonth {
	const town, village = pwTown, pwVillage
	d2, v, vn, tn := w.d2, w.v, w.vn, w.tn
	// Everyone who decides signs in before the procedure opens.
	vn.signIn("cai.wu", "cun.zhang")
	tn.signIn("zhen.li", "zhen.wang")

	first17 := "35050519800101123"
	ck, _ := idcode.ResidentIDCheck(first17)
	resident := first17 + string(ck)
	const bankAcct, phone = "6222020200112233445", "13800135678"
	m := disclosedMonth{resident: resident, bankAcct: bankAcct, phone: phone}
	t.Run("the village records its month", func(t *testing.T) {
		labor := set(set(set(set(tx(1), "transaction.org", village), "transaction.amountFen", 1_234_500), "transaction.summary", "修路劳务费 tamper-me"),
			"transaction.counterparty", map[string]any{"name": "张三丰", "idNumber": resident, "bankAccount": bankAcct, "phone": phone})
		labor = set(set(labor, "transaction.category", "劳务支出"), "transaction.invoiceNumber", "90000001")
		var rec recorded
		if code, raw := vn.post("/v1/transactions", labor, &rec); code != 200 {
			t.Fatalf("record: %d %s", code, raw)
		}
		m.laborID = rec.Entry.ID
		income := set(set(set(set(tx(2), "transaction.org", village), "transaction.kind", "TRANSACTION_KIND_INCOME"), "transaction.amountFen", 500_000),
			"transaction.category", "经营收入")
		income = set(set(income, "transaction.summary", "鱼塘租金"), "transaction.invoiceNumber", "90000002")
		if code, raw := vn.post("/v1/transactions", income, nil); code != 200 {
			t.Fatalf("record income: %d %s", code, raw)
		}
	})
	m.period = time.Now().UTC().Format("2006-01")
	period := m.period
	t.Run("its disclosure is prepared and approved", func(t *testing.T) {
		var opened struct {
			Procedure struct {
				Entry entryMeta `json:"entry"`
			} `json:"procedure"`
		}
		if code, raw := vn.post("/v1/workflow", map[string]any{"procedure": map[string]any{"org": village, "matterCode": "GOV-DISCLOSE", "period": period,
			"summary": period + " 财务公开"}}, &opened); code != 200 {
			t.Fatalf("open the disclosure: %d %s", code, raw)
		}
		id := opened.Procedure.Entry.ID
		for _, s := range []struct {
			n             *node
			step, post, a string
		}{{tn, "prepare", "town.agency_accountant", "zhen.li"}, {vn, "audit", "village.finance_group", "cai.wu"},
			{tn, "check", "town.reviewer", "zhen.wang"}, {vn, "publish", "village.committees", "cun.zhang"}} {
			var p struct {
				Procedure struct {
					OpenStep string `json:"openStep"`
				} `json:"procedure"`
			}
			eventually(t, 60*time.Second, "step "+s.step+" open at "+s.n.http, func() bool {
				code, _ := s.n.call("GET", "/v1/workflow/"+id, "", nil, &p)
				return code == 200 && p.Procedure.OpenStep == s.step
			})
			if code, raw := s.n.as(s.a).post("/v1/workflow/"+id+"/decisions", map[string]any{"decision": map[string]any{
				"org": village, "procedureId": id, "stepCode": s.step, "action": "STEP_ACTION_APPROVE", "post": s.post}}, nil); code != 200 {
				t.Fatalf("%s decides %s: %d %s", s.a, s.step, code, raw)
			}
		}
		var p struct {
			Procedure struct {
				Status string `json:"status"`
			} `json:"procedure"`
		}
		eventually(t, 60*time.Second, "the disclosure completed at the village", func() bool {
			code, _ := vn.call("GET", "/v1/workflow/"+id, "", nil, &p)
			return code == 200 && p.Procedure.Status == "completed"
		})
		eventually(t, 60*time.Second, "the village's chain at the district", func() bool {
			h, err := d2.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: village})
			return err == nil && h.GetHead().GetSeq() == v.head()
		})
	})

	return m
}
