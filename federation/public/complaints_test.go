package public

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/public/publictest"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// fakeIntake files into a publictest world's state: the member's Raft
// writes, without Raft (the end-to-end test in cmd/sanzi runs the real
// ones).
type fakeIntake struct {
	w      *publictest.World
	mu     sync.Mutex
	photos map[string][]byte
	filed  []*sanziv1.Complaint
}

func (f *fakeIntake) TownKey(town string) (ed25519.PublicKey, bool) {
	if town != publictest.Town {
		return nil, false
	}
	return publictest.TownKey.Public().(ed25519.PublicKey), true
}

func (f *fakeIntake) PutPhoto(_ context.Context, content []byte, _, _ string) (string, error) {
	sum := sha256.Sum256(content)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.photos[hex.EncodeToString(sum[:])] = content
	return hex.EncodeToString(sum[:]), nil
}

func (f *fakeIntake) File(_ context.Context, c *sanziv1.Complaint) (*ledger.Stored, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filed = append(f.filed, proto.CloneOf(c))
	return f.w.AddAt(publictest.District, "public", sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, c), nil
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// complaintSiteFor is a site over w taking complaints into a fake intake,
// on a clock the test moves, which also dates the world's entries from
// then on.
func complaintSiteFor(t *testing.T, w *publictest.World, lim ComplaintLimits) (*httptest.Server, *fakeIntake, func(time.Duration)) {
	t.Helper()
	clock := &testClock{now: w.Now}
	w.SetClock(clock.Now)
	srv, in := complaintSiteOn(t, w, lim, clock)
	return srv, in, clock.Advance
}

// complaintSiteOn is a site over w (a member of the district holding w's
// state) taking complaints into a fake intake, on clock.
func complaintSiteOn(t *testing.T, w *publictest.World, lim ComplaintLimits, clock *testClock) (*httptest.Server, *fakeIntake) {
	t.Helper()
	in := &fakeIntake{w: w, photos: map[string][]byte{}}
	site, err := New(Config{District: district, Names: map[string]string{village: "新村", publictest.Town: "城关镇"}, PublicKey: w.Public(),
		State: w.F, Limits: Limits{PerSecond: 100, Burst: 1000}, Logger: quiet,
		Complaints: &ComplaintConfig{Intake: in, ChallengeSecret: []byte("seed"), Limits: lim},
		Now:        clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	return srv, in
}

// submission is one post of the complaint form.
type submission struct {
	fields  map[string]string
	posts   []string
	photos  map[string][]byte
	headers map[string]string
}

func (s submission) post(t *testing.T, srv *httptest.Server) (int, http.Header, string) {
	t.Helper()
	req := publictest.ComplaintForm(srv.URL, s.fields, s.posts, s.photos)
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// fresh is a complete, valid submission with the form's question solved.
func fresh(t *testing.T, srv *httptest.Server) submission {
	t.Helper()
	code, _, page := get(t, srv, "GET", "/public/villages/"+village+"/complaints/new", nil)
	if code != 200 {
		t.Fatalf("the form: %d", code)
	}
	tok, ans := publictest.Solve(t, page)
	return submission{fields: map[string]string{"village": village, "category": "finance", "text": "修路款去向不明<script>alert(1)</script>，我的电话13800135678",
		"contact": "王五 13912345678", "token": tok, "answer": ans}, posts: []string{"village.head"},
		photos: map[string][]byte{"road.jpg": jpeg(2000)}}
}

func jpeg(n int) []byte { return append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{1}, n)...) }

func checkStatus(t *testing.T, srv *httptest.Server, number, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/public/complaints/check", strings.NewReader(url.Values{"number": {number}, "secret": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestComplaints files a complaint on the public site into a real FSM
// state, reads its status by number and secret before and after the
// town's procedure and reply arrive in the town's chain, and sees every
// refusal with its code.
func TestComplaints(t *testing.T) {
	w := publictest.New(t)
	srv, in, advance := complaintSiteFor(t, w, ComplaintLimits{AddressBurst: 100, AddressEvery: time.Second})

	var number, secret string
	t.Run("file with a photo", func(t *testing.T) {
		s := fresh(t, srv)
		code, h, page := s.post(t, srv)
		if code != 200 || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %v\n%s", code, h, page)
		}
		number, secret, _ = publictest.Filed(page)
		if len(in.filed) != 1 {
			t.Fatalf("filed %d", len(in.filed))
		}
		c := in.filed[0]
		if c.GetNumber() != number || c.GetVillage() != village || c.GetTown() != publictest.Town || len(c.GetPhotos()) != 1 ||
			!bytes.Equal(in.photos[c.GetPhotos()[0]], s.photos["road.jpg"]) || c.GetSecretHash() != complaint.SecretHash(number, secret) ||
			strings.Contains(string(c.GetContactSealed()), "13912345678") || c.GetChallengeNonce() == "" {
			t.Fatalf("the complaint filed: %v", c)
		}
		contact, err := complaint.Open(publictest.TownKey, c.GetContactSealed())
		if err != nil || string(contact) != "王五 13912345678" {
			t.Fatalf("the town opens the contact: %q %v", contact, err)
		}
	})
	t.Run("status by number and secret", func(t *testing.T) {
		code, page := checkStatus(t, srv, number, strings.ToLower(secret))
		if code != 200 || !strings.Contains(page, `data-status="received"`) || !strings.Contains(page, "&lt;script&gt;") || strings.Contains(page, "<script>") {
			t.Fatalf("%d\n%s", code, page)
		}
		wrong, wpage := checkStatus(t, srv, number, complaint.NewSecret())
		none, npage := checkStatus(t, srv, "20990101-000000", secret)
		if wrong != 403 || none != 403 || strings.Contains(wpage, "修路款") || strings.ReplaceAll(wpage, number, "N") != strings.ReplaceAll(npage, "20990101-000000", "N") {
			t.Fatalf("a wrong secret %d and an unknown number %d must answer alike, with nothing of the complaint", wrong, none)
		}
	})
	t.Run("the village's page lists it masked", func(t *testing.T) {
		code, _, body := get(t, srv, "GET", "/public/villages/"+village, nil)
		page := string(body)
		if code != 200 || !strings.Contains(page, `data-status="received"`) || !strings.Contains(page, "138******78") ||
			!strings.Contains(page, "/public/villages/"+village+"/complaints/new") {
			t.Fatalf("%d\n%s", code, page)
		}
		for _, never := range []string{"13800135678", "王五", "13912345678", number, "<script>"} {
			if strings.Contains(page, never) {
				t.Errorf("the village's page shows %q", never)
			}
		}
	})
	t.Run("the town's procedure and reply come up", func(t *testing.T) {
		cid := ledger.EntryID(publictest.District, 1)
		proc := w.AddAt(publictest.Town, "system", sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, &sanziv1.Procedure{Org: publictest.Town, MatterCode: complaint.Matter, SubjectId: cid, Summary: "投诉"}).ID()
		code, page := checkStatus(t, srv, number, secret)
		if code != 200 || !strings.Contains(page, `data-status="open"`) {
			t.Fatalf("%d %s", code, page)
		}
		for i, s := range []string{"register", "investigate"} {
			w.AddAt(publictest.Town, "镇审核员", sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: publictest.Town, ProcedureId: proc, StepCode: s,
				Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: "town.reviewer", Closes: i == 2})
		}
		w.AddAt(publictest.Town, "镇分管领导", sanziv1.EntryType_ENTRY_TYPE_COMPLAINT_REPLY, &sanziv1.ComplaintReply{Org: publictest.Town, ComplaintId: cid, ProcedureId: proc,
			Text: "经核实，修路款已按合同支付。来电13800135678已回复。", StepCode: "reply"})
		w.AddAt(publictest.Town, "镇分管领导", sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: publictest.Town, ProcedureId: proc, StepCode: "reply",
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: "town.leader", Closes: true})
		code, page = checkStatus(t, srv, number, secret)
		if code != 200 || !strings.Contains(page, `data-status="answered"`) || !strings.Contains(page, "经核实，修路款已按合同支付") || !strings.Contains(page, "调查核实") {
			t.Fatalf("%d %s", code, page)
		}
		_, _, body := get(t, srv, "GET", "/public/villages/"+village, nil)
		if !strings.Contains(string(body), `data-status="answered"`) || !strings.Contains(string(body), "经核实") || strings.Contains(string(body), "13800135678") {
			t.Fatalf("the village's page after the reply:\n%s", body)
		}
	})

	t.Run("many long complaints keep the village's page under its limit", func(t *testing.T) {
		long := strings.Repeat("账目", complaint.MaxText/2)
		for i := range 15 {
			cid := w.AddAt(publictest.District, "public", sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, &sanziv1.Complaint{Number: fmt.Sprintf("20260205-1000%02d", i),
				Village: village, Town: publictest.Town, Category: "other", Text: long, SecretHash: strings.Repeat("ab", 32)}).ID()
			for range 4 {
				w.AddAt(publictest.Town, "镇分管领导", sanziv1.EntryType_ENTRY_TYPE_COMPLAINT_REPLY, &sanziv1.ComplaintReply{Org: publictest.Town, ComplaintId: cid, Text: long})
			}
		}
		code, _, body := get(t, srv, "GET", "/public/villages/"+village, nil)
		if code != 200 || len(body) > PageLimit || !strings.Contains(string(body), "第 1/2 页") {
			t.Fatalf("%d, %d bytes", code, len(body))
		}
		t.Logf("a village with 16 complaints of 2,000 characters and 4 long replies each: its page is %d bytes", len(body))
	})

	big := bytes.Repeat([]byte{2}, complaint.MaxPhotoBytes)
	for _, c := range []struct {
		name string
		edit func(s *submission)
		code int
		says string
	}{
		{"from another site", func(s *submission) { s.headers = map[string]string{"Sec-Fetch-Site": "cross-site"} }, 403, "其他网站"},
		{"from another origin", func(s *submission) {
			s.headers = map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}
		}, 403, "其他网站"},
		{"a photo over 5 MB", func(s *submission) { s.photos = map[string][]byte{"big.jpg": append(jpeg(0), big...)} }, 413, "超过 5 MB"},
		{"four photos", func(s *submission) {
			s.photos = map[string][]byte{"1.jpg": jpeg(10), "2.jpg": jpeg(11), "3.jpg": jpeg(12), "4.jpg": jpeg(13)}
		}, 413, "最多 3 张"},
		{"a photo that is not a JPEG or PNG", func(s *submission) { s.photos = map[string][]byte{"x.gif": []byte("GIF89a......")} }, 415, "不是 JPEG 或 PNG"},
		{"a wrong answer", func(s *submission) { s.fields["answer"] = "1000" }, 400, "答案不对"},
		{"a token made elsewhere", func(s *submission) { s.fields["token"] = "AAAA" }, 400, "答案不对"},
		{"a text too long", func(s *submission) { s.fields["text"] = strings.Repeat("钱", complaint.MaxText+1) }, 400, "最多 2000 字"},
		{"an unknown category", func(s *submission) { s.fields["category"] = "gossip" }, 400, "投诉类别"},
		{"a post of the town", func(s *submission) { s.posts = []string{"town.leader"} }, 400, "涉及岗位"},
		{"an unknown village", func(s *submission) { s.fields["village"] = "350505100299" }, 404, "没有这个村"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			before := len(in.filed)
			s := fresh(t, srv)
			c.edit(&s)
			code, _, page := s.post(t, srv)
			if code != c.code || !strings.Contains(page, c.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", code, c.code, c.says, page)
			}
			if len(in.filed) != before {
				t.Fatal("a refused complaint was filed")
			}
		})
	}
	t.Run("refused: a question answered once", func(t *testing.T) {
		s := fresh(t, srv)
		if code, _, page := s.post(t, srv); code != 200 {
			t.Fatalf("%d %s", code, page)
		}
		code, _, page := s.post(t, srv)
		if code != 409 || !strings.Contains(page, "已经答过一次") {
			t.Fatalf("the same form again: %d\n%s", code, page)
		}
		// Another member (a site of its own, the same state) refuses it
		// too: the nonce is in the district's chain.
		other, _, _ := complaintSiteFor(t, w, ComplaintLimits{})
		if code, _, page := s.post(t, other); code != 409 {
			t.Fatalf("the same form at another member: %d\n%s", code, page)
		}
	})
	t.Run("refused: an expired question", func(t *testing.T) {
		s := fresh(t, srv)
		advance(time.Hour)
		if code, _, page := s.post(t, srv); code != 400 || !strings.Contains(page, "已过期") {
			t.Fatalf("%d\n%s", code, page)
		}
	})
	t.Run("refused: not a form, and GET", func(t *testing.T) {
		req, _ := http.NewRequest("POST", srv.URL+"/public/complaints", strings.NewReader(`{"text":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 415 {
			t.Fatalf("JSON: %d", resp.StatusCode)
		}
		code, h, _ := get(t, srv, "GET", "/public/complaints", nil)
		if code != 405 || h.Get("Allow") != "POST" {
			t.Fatalf("GET: %d %v", code, h)
		}
	})
	t.Run("wrong secrets are limited", func(t *testing.T) {
		var code int
		for i := 0; i < 11; i++ {
			code, _ = checkStatus(t, srv, number, fmt.Sprint("wrong", i))
		}
		if code != 429 {
			t.Fatalf("the 11th wrong secret: %d, want 429", code)
		}
	})
}

// TestComplaintRateLimits: a second complaint from one address right
// after the first is refused until the bucket fills; complaints about one
// village are bounded from every address together.
func TestComplaintRateLimits(t *testing.T) {
	w := publictest.New(t)
	srv, in, advance := complaintSiteFor(t, w, ComplaintLimits{AddressBurst: 1, AddressEvery: 5 * time.Minute, VillageBurst: 2, VillageEvery: time.Hour})
	if code, _, page := fresh(t, srv).post(t, srv); code != 200 {
		t.Fatalf("first: %d %s", code, page)
	}
	code, h, page := fresh(t, srv).post(t, srv)
	if code != 429 || h.Get("Retry-After") != "300" || !strings.Contains(page, "太频繁") {
		t.Fatalf("a second right after: %d %v\n%s", code, h, page)
	}
	advance(5 * time.Minute)
	if code, _, page := fresh(t, srv).post(t, srv); code != 200 {
		t.Fatalf("after five minutes: %d %s", code, page)
	}
	advance(5 * time.Minute)
	code, h, page = fresh(t, srv).post(t, srv)
	if code != 429 || !strings.Contains(page, "关于新村的投诉近期太多") || h.Get("Retry-After") == "" {
		t.Fatalf("a third about the village within the hour: %d %v\n%s", code, h, page)
	}
	if len(in.filed) != 2 {
		t.Fatalf("filed %d, want 2", len(in.filed))
	}
}

// TestVillageLimitAcrossMembers: complaints about one village filed at
// three members of a district in turn (three sites over one replicated
// state, each with its own buckets, on one clock) are refused once the
// village's limit (3 at once, then one each 10 minutes) is reached at all
// of them together, though no member alone has taken its burst; the
// limit's room comes back with time, counted from the chain.
func TestVillageLimitAcrossMembers(t *testing.T) {
	w := publictest.New(t)
	clock := &testClock{now: w.Now}
	w.SetClock(clock.Now)
	// The address (the test's loopback) is not what is limited here.
	lim := ComplaintLimits{AddressBurst: 100, AddressEvery: time.Second, VillageBurst: 3, VillageEvery: 10 * time.Minute}
	var members []*httptest.Server
	for range 3 {
		srv, _ := complaintSiteOn(t, w, lim, clock)
		members = append(members, srv)
	}
	for i, c := range []struct {
		member  int
		advance time.Duration
		code    int
		retry   string // Retry-After of a refusal
	}{
		{0, 0, 200, ""},
		{1, time.Minute, 200, ""},
		{2, time.Minute, 200, ""},
		// Three at once are taken; the bucket is full again 30 minutes
		// after the first, so room for one is there at 10 minutes.
		{0, 0, 429, "480"},
		{1, 0, 429, "480"},
		{2, 4 * time.Minute, 429, "240"},
		{2, 4 * time.Minute, 200, ""},
		{0, 0, 429, "600"},
	} {
		clock.Advance(c.advance)
		code, h, page := fresh(t, members[c.member]).post(t, members[c.member])
		if code != c.code || h.Get("Retry-After") != c.retry || (code == 429 && !strings.Contains(page, "关于新村的投诉近期太多")) {
			t.Fatalf("filing %d at member %d: %d, Retry-After %q; want %d, %q\n%s", i, c.member, code, h.Get("Retry-After"), c.code, c.retry, page)
		}
	}
	n := 0
	if err := w.F.Range(district, 1, 0, func(s *ledger.Stored) bool {
		if s.Type == sanziv1.EntryType_ENTRY_TYPE_COMPLAINT {
			n++
		}
		return true
	}); err != nil || n != 4 {
		t.Fatalf("%d complaints in the district's chain (%v), want 4", n, err)
	}
}

// TestVillageComplaintPages files more complaints than one page lists and
// reads them page by page on the village's page: newest first, each once,
// the links between pages, a page out of range clamped.
func TestVillageComplaintPages(t *testing.T) {
	w := publictest.New(t)
	srv, _, advance := complaintSiteFor(t, w, ComplaintLimits{AddressBurst: 100, AddressEvery: time.Second, VillageBurst: 100, VillageEvery: time.Second})
	const n = 2*maxListed + 3
	for i := 1; i <= n; i++ {
		s := fresh(t, srv)
		s.fields["text"], s.photos = fmt.Sprintf("第%03d件投诉", i), nil
		if code, _, page := s.post(t, srv); code != 200 {
			t.Fatalf("complaint %d: %d %s", i, code, page)
		}
		advance(time.Second)
	}
	listed := func(page string) []int {
		var got []int
		for _, part := range strings.Split(page, "第")[1:] {
			var k int
			if _, err := fmt.Sscanf(part, "%03d件投诉", &k); err == nil {
				got = append(got, k)
			}
		}
		return got
	}
	for _, tc := range []struct {
		query      string
		first      int
		count      int
		prev, next string
	}{
		{"", n, maxListed, "", "?cpage=2#complaints"},
		{"?cpage=2", n - maxListed, maxListed, "?cpage=1#complaints", "?cpage=3#complaints"},
		{"?cpage=3", 3, 3, "?cpage=2#complaints", ""},
		{"?cpage=99", 3, 3, "?cpage=2#complaints", ""},
		{"?cpage=x", n, maxListed, "", "?cpage=2#complaints"},
	} {
		t.Run("page"+tc.query, func(t *testing.T) {
			code, _, body := get(t, srv, "GET", "/public/villages/"+village+tc.query, nil)
			page := string(body)
			got := listed(page)
			if code != 200 || len(got) != tc.count || got[0] != tc.first || got[len(got)-1] != tc.first-tc.count+1 {
				t.Fatalf("%d: listed %v, want %d from %d down", code, got, tc.count, tc.first)
			}
			for link, want := range map[string]string{"较新的投诉": tc.prev, "较早的投诉": tc.next} {
				i := strings.Index(page, ">"+link+"<")
				if (i >= 0) != (want != "") || (want != "" && !strings.Contains(page[:i], `href="`+want+`"`)) {
					t.Errorf("link %s: want %q in %s", link, want, page[max(0, i-80):max(0, i)])
				}
			}
			if !strings.Contains(page, fmt.Sprintf("共 %d 件", n)) {
				t.Errorf("the count of %d is not on the page", n)
			}
		})
	}
}
