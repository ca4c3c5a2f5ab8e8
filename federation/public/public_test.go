package public

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public/publictest"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	district = publictest.District
	village  = publictest.Village
)

var quiet = publictest.Quiet

func get(t *testing.T, srv *httptest.Server, method, path string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, body)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestSite serves a village's disclosures from a real FSM state and checks
// what a villager and a verifier get, and what the site refuses.
func TestSite(t *testing.T) {
	w := publictest.New(t)
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	exp, inc := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	w.Tx(exp, 1_234_500, bank, "劳务支出", "劳务费<script>", publictest.Person())
	w.Tx(inc, 500_000, bank, "经营收入", "租金", publictest.Company())
	w.Disclose("2026-01")
	// Many small February expenses: the month's page splits them.
	for i := range 600 {
		w.Tx(exp, int64(100+i), bank, "管理费用", fmt.Sprintf("零星支出 %d", i), publictest.Person())
	}
	w.Disclose("2026-02")
	w.Sign()

	var clock sync.Mutex
	now := w.Now
	site, err := New(Config{District: district, Names: map[string]string{village: "新村", "350505100000": "城关镇"}, PublicKey: w.Public(),
		State: w.F, Proofs: true, Limits: Limits{PerSecond: 1, Burst: 1000}, Logger: quiet,
		Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()

	t.Run("index", func(t *testing.T) {
		code, _, body := get(t, srv, "GET", "/public/", nil)
		if code != 200 || !strings.Contains(string(body), "城关镇") || !strings.Contains(string(body), `href="/public/villages/350505100201"`) {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("village page masked", func(t *testing.T) {
		code, h, body := get(t, srv, "GET", "/public/villages/"+village+"/2026-01", nil)
		page := string(body)
		if code != 200 || h.Get("Content-Security-Policy") == "" {
			t.Fatalf("%d %v", code, h)
		}
		for _, want := range []string{"张*", "福州某建材有限公司", "12,345.00", "劳务费&lt;script&gt;", "链段", "3505**********"} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		for _, never := range []string{"张三", publictest.Resident(), "6222020200112233445", "13800135678", "<script>"} {
			if strings.Contains(page, never) {
				t.Errorf("the page shows %q", never)
			}
		}
	})
	t.Run("pages under the limit", func(t *testing.T) {
		code, _, body := get(t, srv, "GET", "/public/villages/"+village+"/2026-02", nil)
		if code != 200 || len(body) > PageLimit || !strings.Contains(string(body), "第 1 / 4 页") {
			t.Fatalf("%d, %d bytes", code, len(body))
		}
		first := len(body)
		code, _, body = get(t, srv, "GET", "/public/villages/"+village+"/2026-02?page=4", nil)
		if code != 200 || !strings.Contains(string(body), "零星支出 599") {
			t.Fatalf("page 4: %d", code)
		}
		t.Logf("a month of 600 itemized transactions: page 1 is %d bytes", first)
	})
	var pub Published
	t.Run("disclosure json and its proof", func(t *testing.T) {
		code, _, body := get(t, srv, "GET", "/public/v1/villages/"+village+"/disclosures/2026-01", nil)
		if code != 200 || json.Unmarshal(body, &pub) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if pub.Proof.Checkpoint != 1 || pub.Proof.FromSeq != 1 || pub.Proof.Segment == "" || pub.Disclosure.ExpenseFen != 1_234_500 {
			t.Fatalf("%+v", pub.Proof)
		}
		code, _, body = get(t, srv, "GET", pub.Proof.Segment, nil)
		var seg Segment
		if code != 200 || json.Unmarshal(body, &seg) != nil || seg.From != 1 || seg.Next == "" || len(seg.Entries) != MaxEntries {
			t.Fatalf("segment: %d from %d next %q entries %d", code, seg.From, seg.Next, len(seg.Entries))
		}
		var rest Segment
		code, _, body = get(t, srv, "GET", seg.Next, nil)
		if code != 200 || json.Unmarshal(body, &rest) != nil || rest.From != MaxEntries+1 || rest.Next != "" || uint64(len(seg.Entries)+len(rest.Entries)) != pub.Proof.ToSeq {
			t.Fatalf("the rest of the segment: %d from %d next %q entries %d of %d", code, rest.From, rest.Next, len(rest.Entries), pub.Proof.ToSeq)
		}
		raw, _ := base64.StdEncoding.DecodeString(seg.Entries[0])
		st, err := ledger.Decode(raw)
		if err != nil || st.Seq != 1 || fmt.Sprintf("%x", st.Hash) != pub.Disclosure.Transactions[0].Ref.Hash {
			t.Fatalf("first entry %v %v", st, err)
		}
		// Every entry is served without its private part: the personal
		// data the village recorded is nowhere in the proof.
		redacted := 0
		for _, b64 := range append(seg.Entries, rest.Entries...) {
			raw, _ := base64.StdEncoding.DecodeString(b64)
			if l, err := ledger.Peek(raw); err != nil || len(l.Private) > 0 || l.BodyHash() != l.Hash {
				t.Fatalf("served entry %v: private part %d bytes, want none and a hash that verifies", err, len(l.Private))
			} else if l.Redacted() {
				redacted++
			}
			p := publictest.Person()
			for _, secret := range []string{p.GetIdNumber(), p.GetBankAccount(), p.GetPhone(), p.GetName()} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Fatalf("a served entry holds %q", secret)
				}
			}
		}
		// 601 paid to a person, and the company's income (its credit
		// code is masked like every ID number).
		if redacted != 602 {
			t.Errorf("%d redacted entries served, want 602", redacted)
		}
		var cp Checkpoint
		code, _, body = get(t, srv, "GET", "/public/v1/checkpoints/latest", nil)
		if code != 200 || json.Unmarshal(body, &cp) != nil {
			t.Fatal(code)
		}
		sig, _ := base64.StdEncoding.DecodeString(cp.Signature)
		if _, err := checkpoint.Open([]byte(cp.Statement), sig, w.Public()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         io.Reader
			code         int
			allow        string
		}{
			{"POST", "/public/villages/" + village, nil, 405, "GET, HEAD"},
			{"DELETE", "/public/v1/checkpoints/1", nil, 405, "GET, HEAD"},
			{"GET", "/public/villages/350505100201/2030-01", nil, 404, ""},
			{"GET", "/public/villages/350506100201", nil, 404, ""},
			{"GET", "/public/admin", nil, 404, ""},
			{"GET", "/public/v1/chains/" + village + "/entries?from=1&to=99999", nil, 404, ""},
			{"GET", "/public/v1/chains/350505100000/entries?from=1&to=2", nil, 404, ""},
			{"GET", "/public/v1/chains/" + village + "/entries?from=x&to=2", nil, 400, ""},
			{"GET", "/public/v1/checkpoints?limit=500", nil, 400, ""},
			{"GET", "/public/?" + strings.Repeat("a", 2000), nil, 414, ""},
			{"GET", "/public/key", strings.NewReader("body"), 413, ""},
		} {
			code, h, body := get(t, srv, tc.method, tc.path, tc.body)
			if code != tc.code || h.Get("Allow") != tc.allow {
				t.Errorf("%s %.60s: %d Allow %q, want %d %q: %s", tc.method, tc.path, code, h.Get("Allow"), tc.code, tc.allow, body)
			}
		}
		off, _ := New(Config{District: district, PublicKey: w.Public(), State: w.F, Logger: quiet})
		offSrv := httptest.NewServer(off)
		defer offSrv.Close()
		if code, _, _ := get(t, offSrv, "GET", pub.Proof.Segment, nil); code != 404 {
			t.Errorf("a segment from a site without proofs: %d", code)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		lim, _ := New(Config{District: district, PublicKey: w.Public(), State: w.F, Logger: quiet,
			Limits: Limits{PerSecond: 1, Burst: 3}, Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
		ls := httptest.NewServer(lim)
		defer ls.Close()
		var codes []int
		for range 5 {
			code, h, _ := get(t, ls, "GET", "/public/key", nil)
			codes = append(codes, code)
			if code == 429 && h.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", h.Get("Retry-After"))
			}
		}
		if fmt.Sprint(codes) != "[200 200 200 429 429]" {
			t.Fatalf("codes %v, want 3 then refused", codes)
		}
		clock.Lock()
		now = now.Add(2 * time.Second)
		clock.Unlock()
		if code, _, _ := get(t, ls, "GET", "/public/key", nil); code != 200 {
			t.Fatalf("after 2 s: %d", code)
		}
	})
	t.Run("openapi", func(t *testing.T) {
		doc, err := Describe([]byte(`{"swagger":"2.0","paths":{"/v1/x":{}},"tags":[{"name":"X"}]}`))
		if err != nil || !bytes.Contains(doc, []byte(`"/public/v1/checkpoints/{number}"`)) || !bytes.Contains(doc, []byte(`"/v1/x"`)) || !bytes.Contains(doc, []byte(`"PublicSite"`)) {
			t.Fatalf("%v %s", err, doc)
		}
	})
}

// TestSiteVillages: a town's site (Config.Villages, its nine digits)
// serves its own villages and no other, pages and JSON alike; a member's
// (empty) every village of the district.
func TestSiteVillages(t *testing.T) {
	w := publictest.New(t)
	w.Tx(sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, 1_000, sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, "劳务支出", "劳务费", publictest.Person())
	w.Disclose("2026-01")
	w.Sign()
	for _, tc := range []struct {
		villages string
		want     int
	}{{"", 200}, {village[:9], 200}, {"350505200", 404}} {
		t.Run("villages "+tc.villages, func(t *testing.T) {
			site, err := New(Config{District: district, Villages: tc.villages, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(site)
			defer srv.Close()
			for _, path := range []string{"/public/villages/" + village, "/public/villages/" + village + "/2026-01",
				"/public/v1/villages/" + village + "/disclosures", "/public/v1/chains/" + village + "/entries?from=1&to=1"} {
				if code, _, body := get(t, srv, "GET", path, nil); code != tc.want {
					t.Errorf("GET %s: %d, want %d: %.200s", path, code, tc.want, body)
				}
			}
			_, _, index := get(t, srv, "GET", "/public/", nil)
			if listed := strings.Contains(string(index), `href="/public/villages/`+village+`"`); listed != (tc.want == 200) {
				t.Errorf("the index lists %s: %v, want %v", village, listed, tc.want == 200)
			}
		})
	}
}

// TestUnmaskedEntryNotServed: an entry sealed before personal data was
// split out of entries' hashes holds it unmasked, so the site serves no
// segment that spans it (451) and the month's proof says why; a later
// month whose entries are all split is proven as usual.
func TestUnmaskedEntryNotServed(t *testing.T) {
	w := publictest.New(t)
	w.AcrossTheSplit()
	site, err := New(Config{District: district, PublicKey: w.Public(), State: w.F, Proofs: true, Limits: Limits{PerSecond: 1000, Burst: 1000}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	proofOf := func(period string) Proof {
		code, _, body := get(t, srv, "GET", "/public/v1/villages/"+village+"/disclosures/"+period, nil)
		var pub Published
		if code != 200 || json.Unmarshal(body, &pub) != nil {
			t.Fatalf("%s: %d %s", period, code, body)
		}
		return pub.Proof
	}
	for _, tc := range []struct {
		period  string
		served  bool
		segment string
	}{
		{"2026-01", false, "/public/v1/chains/" + village + "/entries?from=1&to=1"},
		{"2026-02", true, ""},
	} {
		t.Run(tc.period, func(t *testing.T) {
			p := proofOf(tc.period)
			if served := p.Segment != ""; served != tc.served || !tc.served && !strings.Contains(p.Note, village+"-1 was recorded before personal data was sealed apart") {
				t.Fatalf("proof %+v: served %v, want %v", p, served, tc.served)
			}
			seg := cmpOr(p.Segment, tc.segment)
			code, _, body := get(t, srv, "GET", seg, nil)
			if want := map[bool]int{true: 200, false: http.StatusUnavailableForLegalReasons}[tc.served]; code != want {
				t.Fatalf("segment %s: %d, want %d: %s", seg, code, want, body)
			}
			if bytes.Contains(body, []byte(publictest.Person().GetIdNumber())) {
				t.Fatal("the answer holds the resident's ID number")
			}
		})
	}
	t.Run("page still shown, masked", func(t *testing.T) {
		code, _, body := get(t, srv, "GET", "/public/villages/"+village+"/2026-01", nil)
		if code != 200 || !strings.Contains(string(body), "张*") || strings.Contains(string(body), publictest.Person().GetIdNumber()) {
			t.Fatalf("%d", code)
		}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDistrictComplaintLinks: a site that takes no complaints (a town's)
// links each village's page to the village's complaint form and list at
// the district's site when it is given one, escaped, and shows no
// complaint section without one; a district site that is not a plain
// absolute http(s) address is refused.
func TestDistrictComplaintLinks(t *testing.T) {
	w := publictest.New(t)
	w.Tx(sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, 500_000, sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, "经营收入", "租金", publictest.Company())
	w.Disclose("2026-01")
	w.Sign()
	siteWith := func(t *testing.T, district string) (*httptest.Server, error) {
		site, err := New(Config{District: publictest.District, Villages: publictest.Town[:9], PublicKey: w.Public(), State: w.F, Logger: quiet,
			DistrictSite: district, Now: func() time.Time { return w.Now }})
		if err != nil {
			return nil, err
		}
		srv := httptest.NewServer(site)
		t.Cleanup(srv.Close)
		return srv, nil
	}
	for _, c := range []struct {
		name, district string
		want, never    []string
	}{
		{"none", "", nil, []string{"村民投诉", "complaints/new", "complaints/check"}},
		{"the district's site", "https://gongkai.qu.example.cn/", []string{`id="complaints"`,
			`<a id="district-complaint" href="https://gongkai.qu.example.cn/public/villages/350505100201/complaints/new">`,
			`href="https://gongkai.qu.example.cn/public/villages/350505100201#complaints"`, `href="https://gongkai.qu.example.cn/public/complaints/check"`},
			[]string{`action=`, `href="/public/villages/350505100201/complaints/new"`}},
		{"under a path, escaped", `http://10.0.0.5:8080/sanzi"><b>`, []string{`href="http://10.0.0.5:8080/sanzi%22%3E%3Cb%3E/public/villages/350505100201/complaints/new"`},
			[]string{`"><b>`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, err := siteWith(t, c.district)
			if err != nil {
				t.Fatal(err)
			}
			code, _, body := get(t, srv, "GET", "/public/villages/"+village, nil)
			page := string(body)
			if code != 200 {
				t.Fatalf("%d %s", code, page)
			}
			for _, s := range c.want {
				if !strings.Contains(page, s) {
					t.Errorf("the village's page lacks %s", s)
				}
			}
			for _, s := range c.never {
				if strings.Contains(page, s) {
					t.Errorf("the village's page has %s", s)
				}
			}
		})
	}
	for _, bad := range []string{"gongkai.qu.example.cn", "/public", "ftp://qu.example.cn", "javascript:alert(1)", "https://", "https:qu.example.cn",
		"https://admin:pw@qu.example.cn", "https://qu.example.cn/?x=1", "https://qu.example.cn/#top", "https://qu.example.cn/public/", "https://qu.example.cn/" + strings.Repeat("a", 300)} {
		if _, err := siteWith(t, bad); err == nil {
			t.Errorf("district site %q taken", bad)
		}
	}
}
