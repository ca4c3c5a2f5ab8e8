package public

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sanzi/sanzi/federation/complaints"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Complaints (issue 15, part 2): a villager files a complaint on the
// village's page with no account, and reads its status with the number and
// the secret the filing returned. Routes:
//
//	GET  /public/villages/{code}/complaints/new   the form (an arithmetic question in it)
//	POST /public/complaints                       file (multipart/form-data: text, photos)
//	GET  /public/complaints/check                 the status form (number, secret)
//	POST /public/complaints/check                 the status page
//
// and the village's page lists its complaints, open and answered, masked,
// never naming the complainant. Every refusal is a page that says what was
// refused and why, with its status code: 403 a form posted from another
// site, 415 a body that is not a form or a photo that is not a JPEG or PNG,
// 413 a photo over 5 MB, more than 3 photos or a body over their sum, 400
// a wrong, expired or missing answer and a field out of its limits, 409 a
// question answered before, 429 too many complaints from one address or
// about one village (with Retry-After), 503 too many filings at once.
//
// Cross-site posts: there is no session here, so no ambient authority a
// forged post could borrow; the harm of a form posted from another site is
// that visitors' browsers file what someone else wrote, against their own
// address's limit. A browser says where a post comes from (Sec-Fetch-Site;
// older ones, Origin): one that says another site is refused. A client that
// says neither (a script) is let through: it must still have fetched the
// form, since the question's token is on it and another site cannot read
// our pages across origins.

// Intake is how the member files a complaint through Raft (federation/member).
type Intake interface {
	// TownKey is the key the town's chain is signed with, if the district
	// holds that chain: the complainant's contact is sealed to it.
	TownKey(town string) (ed25519.PublicKey, bool)
	// PutPhoto stores a photo whole in the replicated state and returns its
	// hex SHA-256.
	PutPhoto(ctx context.Context, content []byte, contentType, fileName string) (string, error)
	// File appends the complaint to the district's chain (through the
	// leader) and returns its entry once committed.
	File(ctx context.Context, c *sanziv1.Complaint) (*ledger.Stored, error)
}

// ComplaintLimits bound the filing of complaints; zero fields take the
// defaults. Every member of a district should have the same.
type ComplaintLimits struct {
	// AddressEvery and AddressBurst: one address files AddressBurst
	// complaints at once, then one each AddressEvery (default 1, then one
	// every 5 minutes: a second complaint right after the first is
	// refused). Refused filings do not count. Each member counts its own:
	// behind a balancer of n members an address may file n times as many,
	// since addresses are never stored (the complainant's privacy), so
	// there is nothing replicated to count them from.
	AddressEvery time.Duration
	AddressBurst int
	// VillageEvery and VillageBurst: complaints about one village, from
	// everyone together at every member of the district (default 30, then
	// one a minute), so that a flood about one village does not bury the
	// town's desk. They are counted from the village's complaints in the
	// district's chain, which every member holds (villageRoom), and from
	// this member's own filings not yet there.
	VillageEvery time.Duration
	VillageBurst int
	// Concurrent is how many filings (uploads of up to 15 MB on a slow
	// line) run at once, apart from the pages' own bound (default 4).
	Concurrent int
	// LookupBurst and LookupEvery bound the wrong number-and-secret pairs
	// an address may try (default 10, then one every 30 s).
	LookupEvery time.Duration
	LookupBurst int
}

func (l *ComplaintLimits) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defN := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&l.AddressEvery, 5*time.Minute)
	defN(&l.AddressBurst, 1)
	def(&l.VillageEvery, time.Minute)
	defN(&l.VillageBurst, 30)
	defN(&l.Concurrent, 4)
	def(&l.LookupEvery, 30*time.Second)
	defN(&l.LookupBurst, 10)
}

// ComplaintConfig turns complaints on.
type ComplaintConfig struct {
	Intake Intake
	// ChallengeSecret derives the key of the form's questions; every
	// member must have the same (the district chain's key seed).
	ChallengeSecret []byte
	Limits          ComplaintLimits
}

// complaintSite is the site's complaint side.
type complaintSite struct {
	cfg      ComplaintConfig
	ask      *complaints.Challenger
	index    *complaints.Index
	address  *limiter
	village  *limiter
	lookups  *limiter
	filings  chan struct{}
	posts    []org // the village posts a complaint may name
	district string

	// filedMu guards filed: by village, its complaints in the district's
	// chain counted so far (villageRoom).
	filedMu sync.Mutex
	filed   map[string]*villageFiled
}

// villageFiled is a village's complaints in the district's chain as a
// token bucket: how many were counted, and when the bucket is full again
// (its theoretical arrival time: each complaint moves it one VillageEvery
// on from itself or from the complaint's time, whichever is later, and
// never more than VillageBurst of them ahead of the complaint, as a
// bucket never goes below empty).
type villageFiled struct {
	n    int
	full time.Time
}

// villageRoom says whether the village's limit leaves room for one more
// complaint, counting the village's complaints in the district's chain,
// filed at any member (the replicated state decides, so a district of n
// members does not take n times the limit about one village), and if not,
// how long until it does. The same token bucket as a member's own
// (VillageBurst at once, then one each VillageEvery), judged from when
// each complaint was recorded. Each call reads only the complaints
// recorded since the last (the first, once a village's whole list, from
// the index's memory).
//
// Two members may both take the last place in the time a filing takes to
// be applied at the other (a Raft round); the member's own bucket
// (c.village) still bounds its own filings in flight.
func (c *complaintSite) villageRoom(village string, now time.Time) (bool, time.Duration, error) {
	c.filedMu.Lock()
	defer c.filedMu.Unlock()
	v := c.filed[village]
	if v == nil {
		v = &villageFiled{}
		c.filed[village] = v
	}
	times, err := c.index.Filed(village, v.n)
	if err != nil {
		return false, 0, fmt.Errorf("count the complaints about %s: %w", village, err)
	}
	every, burst := c.cfg.Limits.VillageEvery, time.Duration(c.cfg.Limits.VillageBurst)
	for _, t := range times {
		// A leader's clock ahead of ours does not hold the village back.
		if t.After(now) {
			t = now
		}
		if v.full.Before(t) {
			v.full = t
		}
		if v.full = v.full.Add(every); v.full.After(t.Add(burst * every)) {
			v.full = t.Add(burst * every)
		}
	}
	v.n += len(times)
	if !v.full.After(now) {
		return true, 0, nil // full (never a complaint: the zero time)
	}
	if over := v.full.Sub(now) - (burst-1)*every; over > 0 {
		return false, over, nil
	}
	return true, 0, nil
}

// complaintChains is what the index reads of the state.
type complaintChains interface {
	complaints.Chains
}

func newComplaintSite(cfg Config) (*complaintSite, error) {
	cc := cfg.Complaints
	if cc.Intake == nil || len(cc.ChallengeSecret) == 0 {
		return nil, errors.New("public site: complaints need the member's intake and a challenge secret")
	}
	chains, ok := cfg.State.(complaintChains)
	if !ok {
		return nil, errors.New("public site: complaints need a state that reads chains by origin (Head)")
	}
	cc.Limits.fill()
	bucket := func(every time.Duration, burst int) *limiter {
		return newLimiter(Limits{PerSecond: 1 / every.Seconds(), Burst: burst, Addresses: cfg.Limits.Addresses}, cfg.Now)
	}
	c := &complaintSite{cfg: *cc, ask: complaints.NewChallenger(cc.ChallengeSecret, 0, cfg.Now), index: complaints.NewIndex(chains, cfg.District),
		address: bucket(cc.Limits.AddressEvery, cc.Limits.AddressBurst), village: bucket(cc.Limits.VillageEvery, cc.Limits.VillageBurst),
		lookups: bucket(cc.Limits.LookupEvery, cc.Limits.LookupBurst), filings: make(chan struct{}, cc.Limits.Concurrent), district: cfg.District,
		filed: map[string]*villageFiled{}}
	c.cfg.Limits = cc.Limits
	for _, p := range catalog.Default(cfg.District[:6]).GetPosts() {
		if p.GetTier() == sanziv1.Tier_TIER_VILLAGE {
			c.posts = append(c.posts, org{p.GetCode(), p.GetName()})
		}
	}
	return c, nil
}

func (s *Site) complaintRoutes() []route {
	if s.cmp == nil {
		return nil
	}
	return []route{
		{segs: []string{"villages", "{}", "complaints", "new"}, h: s.complaintForm},
		{segs: []string{"complaints"}, h: s.fileComplaint, methods: "POST"},
		{segs: []string{"complaints", "check"}, h: s.checkComplaint, methods: "GET, HEAD, POST"},
	}
}

// knownVillage says whether code is a village of the district the site
// knows: named in the district's org list or holding a chain here.
func (s *Site) knownVillage(code string) bool {
	if !s.serves(code) {
		return false
	}
	if _, ok := s.cfg.Names[code]; ok {
		return true
	}
	_, ok := s.cfg.State.Heads()[code]
	return ok
}

// form is what the complaint form shows: the village, the choices, what
// was typed (after a refusal), the question and the refusal.
type form struct {
	Village, Name, Town string
	Categories          []complaint.Category
	Posts               []org
	Values              filed
	Question, Token     string
	Code                int
	Zh, En              string
	MaxText             int
}

// complaintForm is GET /public/villages/{code}/complaints/new.
func (s *Site) complaintForm(w http.ResponseWriter, r *http.Request, args []string) {
	if !s.knownVillage(args[0]) {
		s.fail(w, r, http.StatusNotFound, "本区没有这个村", fmt.Sprintf("%q is not a village of district %s", args[0], s.cfg.District[:6]))
		return
	}
	s.renderForm(w, r, http.StatusOK, args[0], filed{Category: "finance"}, "", "")
}

// renderForm writes the form for village with values, a fresh question,
// and, when code is not 200, the refusal (zh, en) at its top.
func (s *Site) renderForm(w http.ResponseWriter, r *http.Request, code int, village string, values filed, zh, en string) {
	q := s.cmp.ask.New(village)
	f := form{Village: village, Name: s.name(village), Town: s.townName(village[:9]), Categories: complaint.Categories, Posts: s.cmp.posts,
		Values: values, Question: q.Question, Token: q.Token, Code: code, Zh: zh, En: en, MaxText: complaint.MaxText}
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, r, code, "complaint-new", map[string]any{"F": f})
}

// refuse answers a refused filing: the form again, with what was typed,
// when the village is known; the error page otherwise.
func (s *Site) refuse(w http.ResponseWriter, r *http.Request, code int, values filed, zh, en string) {
	if s.knownVillage(values.Village) {
		s.renderForm(w, r, code, values.Village, values, zh, en)
		return
	}
	s.fail(w, r, code, zh, en)
}

// retryAfter sets Retry-After to wait, in whole seconds.
func retryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(wait.Seconds())))))
}

// fileComplaint is POST /public/complaints.
func (s *Site) fileComplaint(w http.ResponseWriter, r *http.Request, _ []string) {
	c := s.cmp
	if ok, why := sameSite(r); !ok {
		s.fail(w, r, http.StatusForbidden, "不能从其他网站提交投诉", why)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		s.fail(w, r, http.StatusUnsupportedMediaType, "投诉须用本站的投诉表提交", "a complaint is posted as multipart/form-data (the site's form), not "+r.Header.Get("Content-Type"))
		return
	}
	addr := clientAddr(r, s.cfg.Limits.TrustedProxies)
	if ok, wait := c.address.peek(addr); !ok {
		retryAfter(w, wait)
		s.fail(w, r, http.StatusTooManyRequests, fmt.Sprintf("同一网络地址提交投诉太频繁，请 %s 后再提交", waitZh(wait)),
			fmt.Sprintf("too many complaints from your address: %d at once, then one every %s; retry after %s", c.cfg.Limits.AddressBurst, c.cfg.Limits.AddressEvery, wait.Round(time.Second)))
		return
	}
	select {
	case c.filings <- struct{}{}:
		defer func() { <-c.filings }()
	default:
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, http.StatusServiceUnavailable, "提交的人太多，请稍后再试", fmt.Sprintf("%d complaints are being filed at once here; retry in a few seconds", c.cfg.Limits.Concurrent))
		return
	}
	values, photos, ferr := readFiling(w, r)
	if ferr != nil {
		s.refuse(w, r, ferr.code, values, ferr.zh, ferr.en)
		return
	}
	if !s.knownVillage(values.Village) {
		s.fail(w, r, http.StatusNotFound, "本区没有这个村", fmt.Sprintf("%q is not a village of district %s", values.Village, s.cfg.District[:6]))
		return
	}
	nonce, until, err := c.ask.Check(values.Token, values.Answer, values.Village)
	if err == nil {
		var used bool
		if used, err = c.index.NonceUsed(nonce); err == nil && used {
			err = complaints.ErrChallengeUsed
		}
	}
	switch {
	case errors.Is(err, complaints.ErrChallengeUsed):
		s.refuse(w, r, http.StatusConflict, values, "这道验证题已经答过一次，请回答新的验证题后再提交", "the form's question was answered once already (a form is sent once); answer the new question")
		return
	case errors.Is(err, complaints.ErrChallengeExpired):
		s.refuse(w, r, http.StatusBadRequest, values, "验证题已过期，请回答新的验证题", "the form's question expired; answer the new one")
		return
	case errors.Is(err, complaints.ErrChallengeWrong), errors.Is(err, complaints.ErrChallengeMalformed):
		s.refuse(w, r, http.StatusBadRequest, values, "验证题答案不对，请重新计算", "the answer to the form's question is wrong (or the question was not asked here)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	cm := &sanziv1.Complaint{Village: values.Village, Town: values.Village[:9] + "000", Category: values.Category, Text: strings.TrimSpace(values.Text),
		Posts: values.Posts, ChallengeNonce: nonce, Number: "00000000-000000", SecretHash: strings.Repeat("0", 64)}
	for range len(photos) {
		cm.Photos = append(cm.Photos, strings.Repeat("0", 64)) // counted now, hashed when stored
	}
	var v *complaint.Violation
	if err := complaint.Check(cm, s.cfg.District, postCodes(c.posts)); errors.As(err, &v) {
		s.refuse(w, r, http.StatusBadRequest, values, "投诉内容不符合要求："+fieldZh(v.Field)+"（"+v.Reason+"）", v.Error())
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	cm.Photos = nil
	if contact := strings.TrimSpace(values.Contact); contact != "" {
		key, ok := c.cfg.Intake.TownKey(cm.GetTown())
		if !ok {
			s.refuse(w, r, http.StatusServiceUnavailable, values, "负责该村的镇尚未接入平台，暂时无法加密保存联系方式；可以不留联系方式提交",
				"the town of this village has not connected to the district yet, so a contact cannot be sealed to it; file without one")
			return
		}
		if cm.ContactSealed, err = complaint.Seal(key, []byte(contact)); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	ok, wait := c.village.peek(values.Village)
	if room, rwait, err := c.villageRoom(values.Village, s.cfg.Now()); err != nil {
		s.internal(w, r, err)
		return
	} else if !room {
		ok, wait = false, max(wait, rwait)
	}
	if !ok {
		retryAfter(w, wait)
		s.refuse(w, r, http.StatusTooManyRequests, values, fmt.Sprintf("关于%s的投诉近期太多，请 %s 后再提交", s.name(values.Village), waitZh(wait)),
			fmt.Sprintf("too many complaints about village %s: %d at once, then one every %s; retry after %s", values.Village, c.cfg.Limits.VillageBurst, c.cfg.Limits.VillageEvery, wait.Round(time.Second)))
		return
	}
	// Everything is checked: count it against both limits now (another
	// filing may have taken the last token since the peeks).
	if ok, wait := c.address.allow(addr); !ok {
		retryAfter(w, wait)
		s.refuse(w, r, http.StatusTooManyRequests, values, "同一网络地址提交投诉太频繁，请稍后再提交", "too many complaints from your address; retry after "+wait.Round(time.Second).String())
		return
	}
	if ok, wait := c.village.allow(values.Village); !ok {
		retryAfter(w, wait)
		s.refuse(w, r, http.StatusTooManyRequests, values, "关于该村的投诉近期太多，请稍后再提交", "too many complaints about village "+values.Village+"; retry after "+wait.Round(time.Second).String())
		return
	}
	c.ask.Spend(nonce, until)
	ctx := r.Context()
	for _, p := range photos {
		h, err := c.cfg.Intake.PutPhoto(ctx, p.content, p.contentType, p.name)
		if err != nil {
			s.unavailable(w, r, values, fmt.Errorf("store a photo of a complaint about %s: %w", values.Village, err))
			return
		}
		cm.Photos = append(cm.Photos, h)
	}
	secret := complaint.NewSecret()
	for try := 0; ; try++ {
		cm.Number = complaint.NewNumber(s.cfg.Now())
		taken, err := c.index.Taken(cm.Number)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if !taken || try == 5 {
			break
		}
	}
	cm.SecretHash = complaint.SecretHash(cm.Number, secret)
	st, err := c.cfg.Intake.File(ctx, cm)
	if err != nil {
		s.unavailable(w, r, values, fmt.Errorf("file a complaint about %s: %w", values.Village, err))
		return
	}
	s.cfg.Logger.Info("complaint filed", "entry", st.ID(), "number", cm.Number, "village", cm.Village, "photos", len(cm.Photos))
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, "complaint-filed", map[string]any{"Number": cm.Number, "Secret": secret, "Village": cm.Village, "Name": s.name(cm.Village),
		"Town": s.townName(cm.Village[:9]), "Entry": st.ID()})
}

// unavailable answers a filing the cluster could not take (no leader, an
// election): 503, the form again, the cause logged.
func (s *Site) unavailable(w http.ResponseWriter, r *http.Request, values filed, err error) {
	s.cfg.Logger.Warn("public: a complaint could not be filed", "err", err)
	w.Header().Set("Retry-After", "10")
	s.refuse(w, r, http.StatusServiceUnavailable, values, "平台暂时无法保存投诉，请稍后重新提交", "the district could not record the complaint just now (its cluster may be electing a leader); file it again in a moment")
}

func postCodes(posts []org) []string {
	var out []string
	for _, p := range posts {
		out = append(out, p.Code)
	}
	return out
}

// fieldZh names a form field in Chinese.
func fieldZh(f string) string {
	switch f {
	case "village":
		return "村"
	case "category":
		return "投诉类别"
	case "text":
		return "投诉内容"
	case "posts":
		return "涉及岗位"
	case "photos":
		return "照片"
	case "contact":
		return "联系方式"
	}
	return f
}

// waitZh is a wait in Chinese minutes or seconds.
func waitZh(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%d 分钟", int(math.Ceil(d.Minutes())))
	}
	return fmt.Sprintf("%d 秒", max(1, int(math.Ceil(d.Seconds()))))
}

// maxCheckBody bounds the status form's body: a number and a secret.
const maxCheckBody = 4 << 10

// checkComplaint is GET (the form) and POST (the status) of
// /public/complaints/check. A wrong secret and an unknown number get the
// same answer, and each costs the address one of its few tries.
func (s *Site) checkComplaint(w http.ResponseWriter, r *http.Request, _ []string) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		s.render(w, r, "complaint-check", map[string]any{})
		return
	}
	if ok, why := sameSite(r); !ok {
		s.fail(w, r, http.StatusForbidden, "不能从其他网站查询投诉", why)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") && !strings.HasPrefix(ct, "multipart/form-data") {
		s.fail(w, r, http.StatusUnsupportedMediaType, "请用本站的查询表查询", "the status form is posted as application/x-www-form-urlencoded, not "+ct)
		return
	}
	addr := clientAddr(r, s.cfg.Limits.TrustedProxies)
	if ok, wait := s.cmp.lookups.peek(addr); !ok {
		retryAfter(w, wait)
		s.fail(w, r, http.StatusTooManyRequests, fmt.Sprintf("查询码错误次数太多，请 %s 后再试", waitZh(wait)),
			fmt.Sprintf("too many wrong numbers or secrets from your address: %d, then one every %s; retry after %s", s.cmp.cfg.Limits.LookupBurst, s.cmp.cfg.Limits.LookupEvery, wait.Round(time.Second)))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCheckBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "查询内容太长", fmt.Sprintf("the status form takes a number and a secret, at most %d bytes: %v", maxCheckBody, err))
		return
	}
	number, secret := strings.TrimSpace(r.PostForm.Get("number")), strings.TrimSpace(r.PostForm.Get("secret"))
	it, ok, err := s.cmp.index.Lookup(number, secret)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		s.cmp.lookups.allow(addr)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		s.renderStatus(w, r, http.StatusForbidden, "complaint-check", map[string]any{"Refused": true, "Number": number})
		return
	}
	s.render(w, r, "complaint-status", map[string]any{"C": it, "Name": s.name(it.C.GetVillage()), "Town": s.townName(it.C.GetVillage()[:9]),
		"Category": complaint.CategoryName(it.C.GetCategory()), "Posts": s.postNames(it.C.GetPosts())})
}

// postNames are the names of post codes, for the status page.
func (s *Site) postNames(codes []string) []string {
	var out []string
	for _, c := range codes {
		i := slices.IndexFunc(s.cmp.posts, func(p org) bool { return p.Code == c })
		if i >= 0 {
			out = append(out, s.cmp.posts[i].Name)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// listed is a complaint on the village's page: masked, no number, no
// complainant.
type listed struct {
	FiledAt, Answered time.Time
	Category, Text    string
	Status            complaints.Status
	Replies           []complaints.Reply
	Photos            int
}

// villageComplaints are the village's complaints for its page, newest
// first, page by page (?cpage=, from 1, clamped to the pages there are):
// the page and the count of complaints and of pages.
func (s *Site) villageComplaints(village string, page int) ([]listed, int, int, error) {
	if s.cmp == nil {
		return nil, 0, 0, nil
	}
	all, err := s.cmp.index.Village(village)
	if err != nil {
		return nil, 0, 0, err
	}
	pages := max(1, (len(all)+maxListed-1)/maxListed)
	page = min(max(page, 1), pages)
	var out []listed
	for _, c := range all[(page-1)*maxListed : min(len(all), page*maxListed)] {
		l := listed{FiledAt: c.FiledAt, Answered: c.Answered, Category: complaint.CategoryName(c.C.GetCategory()),
			Text: excerpt(authz.MaskText(c.C.GetText()), listedText), Status: c.Status, Photos: len(c.C.GetPhotos())}
		for _, r := range c.Replies[max(0, len(c.Replies)-listedReplies):] {
			r.Text = excerpt(authz.MaskText(r.Text), listedReply)
			l.Replies = append(l.Replies, r)
		}
		out = append(out, l)
	}
	return out, len(all), pages, nil
}

// What a village's page lists of its complaints, so that the page stays
// under its 200 KB with the month's disclosure on it: maxListed a page
// (older ones on the next pages, ?cpage=), each text's first listedText
// characters and its last listedReplies replies' first listedReply (at
// most about 25 KB in all; the complainant reads the whole on the status
// page).
const (
	maxListed     = 10
	listedText    = 300
	listedReplies = 2
	listedReply   = 600
)

// excerpt is s cut to n characters, marked when cut; it masks before it
// cuts, so a number is never cut into a half that shows.
func excerpt(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "……"
}

// maxDistrictSite bounds a DistrictSite URL: an address, not a document.
const maxDistrictSite = 256

// ParseDistrictSite reads --public-district-url: the address the
// district's members serve the public site under (its /public/ is
// appended), an absolute http or https URL with a host and nothing a link
// on every village's page should carry (no user name or password, query
// or fragment). It returns the URL without a trailing slash.
func ParseDistrictSite(raw string) (string, error) {
	if len(raw) > maxDistrictSite {
		return "", fmt.Errorf("district site %.40q…: longer than %d bytes", raw, maxDistrictSite)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("district site %q: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("district site %q: not an absolute http:// or https:// URL", raw)
	case u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("district site %q: no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("district site %q: a user name or password does not belong in a public link", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("district site %q: no query or fragment: give the address the district serves /public/ under", raw)
	case strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/public"):
		return "", fmt.Errorf("district site %q: give the address /public/ is under, without /public", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// districtComplaints are the links of a town's village page to the
// village's complaints at the district's site (Config.DistrictSite):
// nil when the site takes complaints itself or has no district site.
func (s *Site) districtComplaints(village string) map[string]string {
	if s.cmp != nil || s.cfg.DistrictSite == "" {
		return nil
	}
	page := s.cfg.DistrictSite + Prefix + "villages/" + url.PathEscape(village)
	return map[string]string{"Form": page + "/complaints/new", "List": page + "#complaints", "Check": s.cfg.DistrictSite + Prefix + "complaints/check",
		"Site": s.cfg.DistrictSite}
}
