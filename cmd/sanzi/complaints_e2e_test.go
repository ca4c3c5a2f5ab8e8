package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/federation/public/publictest"
	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// villager is a browser without script at one member's public site, from
// one loopback address (127.0.0.x): it fetches the form, does the sum on
// it, and posts it as a browser posts a form.
type villager struct {
	t    *testing.T
	site string // http://host:port
	c    *http.Client
}

func villagerAt(t *testing.T, hostport, from string) *villager {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	return &villager{t: t, site: "http://" + hostport, c: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: time.Minute}}
}

// form opens the village's complaint form and answers its question.
func (v *villager) form(village string) (token, answer string) {
	v.t.Helper()
	resp, err := v.c.Get(v.site + "/public/villages/" + village + "/complaints/new")
	if err != nil {
		v.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		v.t.Fatalf("the complaint form: %d\n%s", resp.StatusCode, page)
	}
	return publictest.Solve(v.t, page)
}

// file posts a complaint form with fields and photos (name → content).
func (v *villager) file(fields map[string]string, photos map[string][]byte) (int, string) {
	v.t.Helper()
	var posts []string
	if p, ok := fields["posts"]; ok {
		posts = []string{p}
	}
	return v.do(publictest.ComplaintForm(v.site, fields, posts, photos))
}

// do sends a form post as the site's own page does (its Origin) and
// reads the answer.
func (v *villager) do(req *http.Request) (int, string) {
	v.t.Helper()
	req.Header.Set("Origin", v.site)
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// status posts the status form.
func (v *villager) status(number, secret string) (int, string) {
	v.t.Helper()
	req, _ := http.NewRequest("POST", v.site+"/public/complaints/check", strings.NewReader(url.Values{"number": {number}, "secret": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// photoJPEG is a real JPEG of a small grey picture.
func photoJPEG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// townComplaint is the town desk's view of one complaint (GET /v1/complaints).
type townComplaint struct {
	Entry     entryMeta `json:"entry"`
	Complaint struct {
		Number string   `json:"number"`
		Photos []string `json:"photos"`
		Posts  []string `json:"posts"`
	} `json:"complaint"`
	Contact   string `json:"contact"`
	Procedure *struct {
		Entry    entryMeta `json:"entry"`
		Status   string    `json:"status"`
		OpenStep string    `json:"openStep"`
	} `json:"procedure"`
	Replies []struct {
		Reply struct {
			Text string `json:"text"`
		} `json:"reply"`
	} `json:"replies"`
}

// pwVillageBurst is the complaints about the village d2 and d3 take in an
// hour: more than the test files before its refusals (22), fewer than d1's
// 30 at once so that d1 still takes the browser's.
const pwVillageBurst = 26

// pwComplaintCount is how many complaints about the village v's member
// lists on the village's public page (0 for none); -1 when the page is
// not there (v's rate met). v's address is its own, so that polling it
// does not spend the filers' requests.
func pwComplaintCount(v *villager) int {
	resp, err := v.c.Get(v.site + "/public/villages/" + pwVillage)
	if err != nil {
		return -1
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, after, ok := strings.Cut(string(b), "共 ")
	n := 0
	if ok {
		fmt.Sscanf(after, "%d 件", &n)
	}
	return n
}

// TestPublicComplaints (issue 15, part 2) runs a real 3-member district
// (loading a real ClickHouse), a town and a village on loopback. A villager
// files a complaint with a photo on a follower's public site, answering
// the form's question as a browser user would, and gets a number and a
// secret; the complaint comes down the district's chain to the town, which
// opens GOV-COMPLAINT; the town's reviewer and leader decide its steps and
// reply over REST (the last step refused until the reply is recorded); the
// reply comes up to every member's status page (a wrong secret refused
// with nothing shown) and to the village's page, masked; ClickHouse counts
// it in the village's risk index. Then the refusals at d3, whose limits are
// low: a photo over 5 MB, a photo that is not a JPEG or PNG, a wrong
// answer, the first filing's question replayed at another member, a
// second complaint from one address, and, at d2 and d3 in turn, one over
// the village's limit, which counts the complaints filed at every member.
func TestPublicComplaints(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: a district, a town, a village and ClickHouse")
	}
	ctx := context.Background()
	ch, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	w := startPublicWorld(t, map[string][]string{
		"":   {"--clickhouse", ch.Addr(), "--complaint-address-burst", "10"},
		"d2": {"--complaint-village-burst", fmt.Sprint(pwVillageBurst), "--complaint-village-every", "1h"},
		"d3": {"--complaint-address-burst", "1", "--complaint-address-every", "10m", "--complaint-village-burst", fmt.Sprint(pwVillageBurst), "--complaint-village-every", "1h"},
	})
	// The town's reviewer and leader sign in; the town's chain (their
	// accounts) reaches the district, which then knows the town's key to
	// seal a complainant's contact to.
	w.tn.signIn("zhen.wang", "zhen.zhao")
	eventually(t, 60*time.Second, "the town's chain at the district", func() bool {
		h, err := w.d2.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: pwTown})
		return err == nil && h.GetHead().GetSeq() > 0
	})

	photo := photoJPEG(t)
	const text = "村里修路的钱去向不明<b>请查</b>，村主任说已付清。我的电话13800135678"
	alice := villagerAt(t, w.httpOf["d2"], "127.0.0.1")
	var number, secret, firstToken, firstAnswer string
	t.Run("a villager files a complaint with a photo", func(t *testing.T) {
		tok, ans := alice.form(pwVillage)
		firstToken, firstAnswer = tok, ans
		code, page := alice.file(map[string]string{"village": pwVillage, "category": "works", "text": text, "posts": "village.head",
			"contact": "李大姐 13912345678", "token": tok, "answer": ans}, map[string][]byte{"road.jpg": photo})
		n, s, ok := publictest.Filed(page)
		if code != 200 || !ok {
			t.Fatalf("%d\n%s", code, page)
		}
		number, secret = n, s
		t.Logf("filed at d2 (a follower, or the leader): number %s, secret %s", number, secret)
	})

	sum := sha256.Sum256(photo)
	photoHash := hex.EncodeToString(sum[:])
	var c townComplaint
	t.Run("it reaches the town and opens GOV-COMPLAINT", func(t *testing.T) {
		reviewer := w.tn.as("zhen.wang")
		eventually(t, 60*time.Second, "the complaint's procedure open at the town", func() bool {
			var list struct {
				Complaints []townComplaint `json:"complaints"`
			}
			if code, _ := reviewer.call("GET", "/v1/complaints", "", nil, &list); code != 200 {
				return false
			}
			for _, x := range list.Complaints {
				if x.Complaint.Number == number && x.Procedure != nil {
					c = x
					return true
				}
			}
			return false
		})
		if c.Procedure.Status != "open" || c.Procedure.OpenStep != "register" || !strings.HasPrefix(c.Procedure.Entry.ID, pwTown+"-") ||
			len(c.Complaint.Photos) != 1 || c.Complaint.Photos[0] != photoHash || c.Contact != "李大姐 13912345678" {
			t.Fatalf("the town's complaint: %+v", c)
		}
		// The district holds the photo whole, locked by the complaint, at
		// every member once it has applied the complaint (the town may
		// have had it from another member first).
		for _, id := range []string{"d3", "d2"} {
			var att *sanziv1.GetAttachmentResponse
			var err error
			eventually(t, 30*time.Second, "the photo locked at "+id, func() bool {
				att, err = sanziv1.NewAttachmentServiceClient(connFor(t, w.caDir, w.members[id].api)).GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: photoHash})
				return err == nil && att.GetAttachment().GetLockedBy() != ""
			})
			if !bytes.Equal(att.GetContent(), photo) || att.GetAttachment().GetLockedBy() != c.Entry.ID || att.GetAttachment().GetContentType() != "image/jpeg" {
				t.Fatalf("the photo at %s: %v %v", id, att.GetAttachment(), err)
			}
		}
		// The photo is for the town that answers: the village complained
		// about pulls the district's chain, but not its complaints' photos.
		for name, want := range map[string]codes.Code{pwTown: codes.OK, pwVillage: codes.PermissionDenied} {
			_, err := sanziv1.NewAttachmentServiceClient(connAs(t, w.caDir, name, w.members["d2"].api)).GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: photoHash})
			if status.Code(err) != want || (want != codes.OK && !strings.Contains(err.Error(), "for town "+pwTown+" only")) {
				t.Errorf("the photo read with %s's certificate: %v, want %s", name, err, want)
			}
		}
		// The town fetches the photo from the district for its reviewers,
		// locked by the complaint there too.
		eventually(t, 60*time.Second, "the photo at the town", func() bool {
			var got struct {
				Attachment struct {
					LockedBy string `json:"lockedBy"`
				} `json:"attachment"`
				Content []byte `json:"content"`
			}
			code, _ := reviewer.call("GET", "/v1/attachments/"+photoHash, "", nil, &got)
			return code == 200 && bytes.Equal(got.Content, photo) && got.Attachment.LockedBy == c.Entry.ID
		})
		// The village's node pulls the district's chain too: the contact
		// is sealed there, not readable.
		if strings.Contains(w.v.log.String(), "13912345678") {
			t.Fatal("the village's log shows the complainant's phone")
		}
	})

	pid := ""
	t.Run("the town answers", func(t *testing.T) {
		pid = c.Procedure.Entry.ID
		decide := func(who, step, post string) (int, []byte) {
			return w.tn.as(who).post("/v1/workflow/"+pid+"/decisions", map[string]any{"decision": map[string]any{
				"org": pwTown, "procedureId": pid, "stepCode": step, "action": "STEP_ACTION_APPROVE", "post": post}}, nil)
		}
		for _, s := range []string{"register", "investigate"} {
			if code, raw := decide("zhen.wang", s, "town.reviewer"); code != 200 {
				t.Fatalf("%s: %d %s", s, code, raw)
			}
		}
		if code, raw := decide("zhen.zhao", "reply", "town.leader"); code != 400 || !strings.Contains(string(raw), "reply") {
			t.Fatalf("closing before a reply: %d %s, want 400 asking for the reply", code, raw)
		}
		reply := func(who, text string) (int, []byte) {
			return w.tn.as(who).post("/v1/complaints/"+c.Entry.ID+"/replies", map[string]any{"reply": map[string]any{
				"org": pwTown, "complaintId": c.Entry.ID, "text": text}}, nil)
		}
		if code, raw := reply("zhen.wang", "我来答"); code != 403 {
			t.Fatalf("a reply by the reviewer when the leader's step is open: %d %s, want 403", code, raw)
		}
		if code, raw := reply("zhen.zhao", "经核实，修路款已按合同分两次支付，凭证已在村务公开栏公示。联系电话13800135678已回访。"); code != 200 {
			t.Fatalf("the leader's reply: %d %s", code, raw)
		}
		if code, raw := decide("zhen.zhao", "reply", "town.leader"); code != 200 {
			t.Fatalf("closing with the reply: %d %s", code, raw)
		}
	})

	t.Run("the reply appears on the status page", func(t *testing.T) {
		bob := villagerAt(t, w.httpOf["d3"], "127.0.0.1")
		var page string
		eventually(t, 60*time.Second, "d3's status page to say answered", func() bool {
			code, p := bob.status(number, strings.ToLower(secret))
			page = p
			return code == 200 && strings.Contains(p, `data-status="answered"`)
		})
		for _, want := range []string{"经核实，修路款已按合同分两次支付", "&lt;b&gt;请查&lt;/b&gt;", "村主任/村书记", "照片</th><td>1 张"} {
			if !strings.Contains(page, want) {
				t.Errorf("the status page lacks %q", want)
			}
		}
		code, wrong := bob.status(number, "AAAA-BBBB-CCCC-DDDD")
		if code != 403 || strings.Contains(wrong, "修路") || !strings.Contains(wrong, "不正确") {
			t.Fatalf("a wrong secret: %d\n%s", code, wrong)
		}
		resp, err := http.Get("http://" + w.httpOf["d1"] + "/public/villages/" + pwVillage)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		vp := string(body)
		if !strings.Contains(vp, `data-status="answered"`) || !strings.Contains(vp, "138******78") || !strings.Contains(vp, "经核实") {
			t.Fatalf("the village's page at d1:\n%s", vp)
		}
		for _, never := range []string{"13800135678", "13912345678", "李大姐", number, secret} {
			if strings.Contains(vp, never) {
				t.Errorf("the village's page shows %q", never)
			}
		}
	})

	t.Run("the village's risk index counts it in ClickHouse", func(t *testing.T) {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var rows []*sanziv1.RiskRow
		eventually(t, 60*time.Second, "the complaint in ClickHouse", func() bool {
			rows, err = stats.New(conn).Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{Parent: pwTown[:9]}})
			return err == nil && len(rows) > 0 && rows[0].GetComplaints() == 1
		})
		if rows[0].GetOrg() != pwVillage {
			t.Fatalf("risk rows: %v", rows)
		}
		posts, err := stats.New(conn).Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{Parent: pwTown[:9]}, GroupBy: "post"})
		found := false
		for _, p := range posts {
			found = found || p.GetOrg() == "village.head" && p.GetComplaints() == 1
		}
		if err != nil || !found {
			t.Fatalf("risk by post: %v %v", posts, err)
		}
		t.Logf("village %s: %d complaint, risk score %.2f (%s)", rows[0].GetOrg(), rows[0].GetComplaints(), rows[0].GetScore(), rows[0].GetLevel())
	})

	t.Run("filing rate", func(t *testing.T) {
		// Bounded: 20 complaints from 20 addresses, 4 at a time (a
		// member's filings run 4 at once), each through Raft, at d1 whose
		// limit for the village is 30 at once. A figure, not a check.
		const n, workers = 20, 4
		start := time.Now()
		errs := make(chan string, n)
		var wg sync.WaitGroup
		for wk := range workers {
			wg.Go(func() {
				for i := wk; i < n; i += workers {
					v := villagerAt(t, w.httpOf["d1"], fmt.Sprintf("127.0.1.%d", i+1))
					tok, ans := v.form(pwVillage)
					if code, page := v.file(map[string]string{"village": pwVillage, "category": "other", "text": fmt.Sprintf("第 %d 件", i), "token": tok, "answer": ans}, nil); code != 200 {
						errs <- fmt.Sprintf("filing %d: %d %s", i, code, page)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		el := time.Since(start)
		t.Logf("%d complaints filed at d1 from %d addresses, %d at a time: %v, %.1f a second", n, n, workers, el.Round(time.Millisecond), float64(n)/el.Seconds())
	})

	t.Run("refusals", func(t *testing.T) {
		carol := villagerAt(t, w.httpOf["d3"], "127.0.0.1")
		big := append(bytes.Clone(photo), bytes.Repeat([]byte{0}, 5<<20)...)
		for _, tc := range []struct {
			name   string
			edit   func(f map[string]string) map[string][]byte
			code   int
			reason string
		}{
			{"a photo over 5 MB", func(map[string]string) map[string][]byte { return map[string][]byte{"big.jpg": big} }, 413, "超过 5 MB"},
			{"a photo that is not a JPEG or PNG", func(map[string]string) map[string][]byte {
				return map[string][]byte{"x.gif": []byte("GIF89a\x01\x00\x01\x00")}
			}, 415, "不是 JPEG 或 PNG"},
			{"a wrong answer", func(f map[string]string) map[string][]byte { f["answer"] = "-1"; return nil }, 400, "答案不对"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tok, ans := carol.form(pwVillage)
				f := map[string]string{"village": pwVillage, "category": "finance", "text": "账目不清", "token": tok, "answer": ans}
				photos := tc.edit(f)
				code, page := carol.file(f, photos)
				if code != tc.code || !strings.Contains(page, tc.reason) {
					t.Fatalf("%d, want %d saying %q:\n%s", code, tc.code, tc.reason, page)
				}
				t.Logf("%s: %d %s", tc.name, code, tc.reason)
			})
		}
		t.Run("the first filing's question replayed at another member", func(t *testing.T) {
			// Asked and answered at d2; its nonce is in the district's chain.
			code, page := carol.file(map[string]string{"village": pwVillage, "category": "finance", "text": "重放", "token": firstToken,
				"answer": firstAnswer}, nil)
			if code != 409 || !strings.Contains(page, "已经答过一次") {
				t.Fatalf("the replayed question at d3: %d\n%s", code, page)
			}
		})
		t.Run("per address, and per village across members", func(t *testing.T) {
			fileFrom := func(v *villager) (int, string) {
				tok, ans := v.form(pwVillage)
				return v.file(map[string]string{"village": pwVillage, "category": "other", "text": "再次反映", "token": tok, "answer": ans}, nil)
			}
			// d2 and d3 take pwVillageBurst complaints about the village
			// an hour, counted from the district's chain: what the
			// village has had (at every member) leaves room for the rest.
			// Each filing is made once the member has applied the one
			// before (at the leader, maybe not yet here).
			reader := map[string]*villager{}
			for _, id := range []string{"d1", "d2", "d3"} {
				reader[id] = villagerAt(t, w.httpOf[id], "127.0.0.250")
			}
			var had int
			eventually(t, 30*time.Second, "every member to hold the village's complaints", func() bool {
				a, b, c := pwComplaintCount(reader["d1"]), pwComplaintCount(reader["d2"]), pwComplaintCount(reader["d3"])
				had = a
				return a > 0 && a == b && b == c
			})
			room := pwVillageBurst - had
			if room < 3 {
				t.Fatalf("the village has had %d complaints; the test needs room for 3 under its limit of %d", had, pwVillageBurst)
			}
			if code, page := fileFrom(carol); code != 200 {
				t.Fatalf("a first complaint at d3: %d\n%s", code, page)
			}
			if code, page := fileFrom(carol); code != 429 || !strings.Contains(page, "同一网络地址提交投诉太频繁") {
				t.Fatalf("a second from the same address: %d\n%s", code, page)
			}
			at := func(i int) string { return []string{"d2", "d3"}[i%2] }
			for i := range room + 1 {
				member := at(i)
				eventually(t, 30*time.Second, member+" to hold the complaints filed", func() bool {
					return pwComplaintCount(reader[member]) == had+min(i+1, room)
				})
				code, page := fileFrom(villagerAt(t, w.httpOf[member], fmt.Sprintf("127.0.0.%d", 10+i)))
				switch {
				case i < room-1 && code != 200:
					t.Fatalf("complaint %d of %d about the village, at %s: %d\n%s", had+i+2, pwVillageBurst, member, code, page)
				case i >= room-1 && (code != 429 || !strings.Contains(page, "关于新村的投诉近期太多")):
					t.Fatalf("a complaint over the village's %d within the hour, at %s (which took few of them itself): %d\n%s", pwVillageBurst, member, code, page)
				}
			}
			t.Logf("the village's limit (%d an hour): %d filed before (at d1 and d2), %d more at d3 and d2 in turn, then refused at both", pwVillageBurst, had, room)
		})
	})

	t.Run("in Chromium: filed on the form, answered in the town's console, read on the status page", func(t *testing.T) {
		ctx := csBrowser(t)
		shots := csShots(t)
		jpg := filepath.Join(t.TempDir(), "ditch.jpg")
		if err := os.WriteFile(jpg, photo, 0o644); err != nil {
			t.Fatal(err)
		}
		// The villager: the village's page at d1, its complaint link, the
		// form filled as a person does, the sum done by hand.
		d1 := "http://" + w.httpOf["d1"]
		csRun(t, ctx, "open the village's page", chromedp.Navigate(d1+"/public/villages/"+pwVillage),
			chromedp.Click(chromedp.CSS(`a[href="/public/villages/`+pwVillage+`/complaints/new"]`)), chromedp.WaitVisible(chromedp.ID("text")))
		sum := publictest.Question(t, csText(t, ctx, `label[for="answer"]`))
		csSelect(t, ctx, "category", "assets")
		csRun(t, ctx, "fill the complaint form",
			chromedp.SendKeys(chromedp.ID("text"), "水渠维修费用是否公开招标？"),
			chromedp.Click(chromedp.CSS(`input[name="posts"][value="village.accountant"]`)),
			chromedp.SetUploadFiles(chromedp.ID("photo"), []string{jpg}),
			chromedp.SendKeys(chromedp.ID("answer"), sum))
		csShot(t, ctx, shots, "complaint-form")
		csRun(t, ctx, "submit the complaint", chromedp.Click(chromedp.CSS(`form.complaint button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("number")))
		number, secret := csText(t, ctx, "#number"), csText(t, ctx, "#secret")
		csShot(t, ctx, shots, "complaint-filed")
		t.Logf("filed in Chromium at d1: number %s", number)

		// The town: the reviewer registers and investigates over REST; the
		// leader replies and closes in the console.
		var pid, cid string
		eventually(t, 60*time.Second, "the browser's complaint open at the town", func() bool {
			var list struct {
				Complaints []townComplaint `json:"complaints"`
			}
			w.tn.as("zhen.wang").call("GET", "/v1/complaints", "", nil, &list)
			for _, x := range list.Complaints {
				if x.Complaint.Number == number && x.Procedure != nil {
					pid, cid = x.Procedure.Entry.ID, x.Entry.ID
					return len(x.Complaint.Photos) == 1
				}
			}
			return false
		})
		for _, st := range []string{"register", "investigate"} {
			if code, raw := w.tn.as("zhen.wang").post("/v1/workflow/"+pid+"/decisions", map[string]any{"decision": map[string]any{
				"org": pwTown, "procedureId": pid, "stepCode": st, "action": "STEP_ACTION_APPROVE", "post": "town.reviewer"}}, nil); code != 200 {
				t.Fatalf("%s: %d %s", st, code, raw)
			}
		}
		const leader = "cp.zhou"
		csAccount(t, w.tn, leader, "镇分管领导 周", []string{string(authz.RoleTownReviewer)}, []string{"town.leader"})
		tbase := "http://" + w.tw.http + "/"
		csRun(t, ctx, "open the town's console", chromedp.Navigate(tbase), chromedp.WaitVisible(chromedp.ID("#account")))
		csLang(t, ctx, "zh")
		csSignIn(t, ctx, leader, personPW, personNewPW)
		card := `article[data-complaint="` + cid + `"]`
		csRun(t, ctx, "open the town's complaints", chromedp.Navigate(tbase+"#/town/complaints"),
			chromedp.WaitVisible(chromedp.CSS(card+` [data-testid="cp-send"]`)))
		csRun(t, ctx, "the complaint's photo in the console", chromedp.WaitVisible(chromedp.CSS(card+` img[data-testid="cp-photo"]`)))
		if txt := csText(t, ctx, card+` [data-testid="cp-text"]`); txt != "水渠维修费用是否公开招标？" {
			t.Fatalf("the complaint's text in the console: %q", txt)
		}
		csAxe(t, ctx, "the town's complaints")
		csRun(t, ctx, "close before replying", chromedp.Click(chromedp.CSS(card+` [data-testid="cp-approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="cp-refused"]`)))
		csRun(t, ctx, "reply", chromedp.SendKeys(chromedp.CSS(card+` [data-testid="cp-reply-text"]`), "水渠维修已于上月公开招标，结果已公示。"),
			chromedp.Click(chromedp.CSS(card+` [data-testid="cp-send"]`)), chromedp.WaitVisible(chromedp.CSS(card+` [data-testid="cp-reply"]`)))
		csRun(t, ctx, "close the complaint", chromedp.Click(chromedp.CSS(card+` [data-testid="cp-approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`article[data-complaint="`+cid+`"][data-state="completed"]`)))
		csShot(t, ctx, shots, "town-complaints-zh")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the complaints page in English", chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Villagers' complaints")]`)))
		csShot(t, ctx, shots, "town-complaints-en")
		csLang(t, ctx, "zh")

		// The villager reads the answer on another member's status page.
		d3 := "http://" + w.httpOf["d3"]
		eventually(t, 60*time.Second, "the answer on d3's status page in the browser", func() bool {
			csRun(t, ctx, "ask for the status", chromedp.Navigate(d3+"/public/complaints/check"), chromedp.WaitVisible(chromedp.ID("number")),
				chromedp.SendKeys(chromedp.ID("number"), number), chromedp.SendKeys(chromedp.ID("secret"), secret),
				chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("status")))
			return strings.Contains(csBody(ctx), "水渠维修已于上月公开招标") &&
				csGet(t, ctx, "read the status", chromedp.AttributeValue(chromedp.ID("status"), "data-status")).Value == "answered"
		})
		csShot(t, ctx, shots, "complaint-answered")

		// Refused with a reason: a photo over 5 MB at d1, and a second
		// complaint from this address right after its first at d3.
		huge := filepath.Join(t.TempDir(), "huge.jpg")
		if err := os.WriteFile(huge, append(bytes.Clone(photo), bytes.Repeat([]byte{0}, 5<<20)...), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ site, photo, says string }{
			{d1, huge, "超过 5 MB"},
			{d3, "", "同一网络地址提交投诉太频繁"},
		} {
			// From a blank page: a navigation right after a refused upload
			// may be aborted by the browser, leaving the refusal's page
			// (another member's form) in place.
			csRun(t, ctx, "leave the refusal", chromedp.Navigate("about:blank"))
			csRun(t, ctx, "open the form at "+c.site, chromedp.Navigate(c.site+"/public/villages/"+pwVillage+"/complaints/new"), chromedp.WaitVisible(chromedp.ID("text")))
			if at := csGet(t, ctx, "read where the form is", chromedp.Evaluate[string](`location.origin`)); at != c.site {
				t.Fatalf("the form is at %s, not %s", at, c.site)
			}
			acts := []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.ID("text"), "再反映一次"), chromedp.SendKeys(chromedp.ID("answer"), "1")}
			if c.photo != "" {
				acts = append(acts, chromedp.SetUploadFiles(chromedp.ID("photo"), []string{c.photo}))
			}
			csRun(t, ctx, "fill the form at "+c.site, acts...)
			csRun(t, ctx, "submit at "+c.site, chromedp.Click(chromedp.CSS(`form.complaint button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.Search(`//*[contains(., "`+c.says+`")]`)))
			t.Logf("refused in the browser at %s: %s", c.site, c.says)
		}
	})
}
