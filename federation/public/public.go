// Package public is the villagers' side of the district (issue 15): the
// pages anyone may read without an account, served by every district
// member from its replicated state, and the JSON that lets anyone check
// them (`sanzi verify-public`).
//
// What it serves, all GET (HEAD too), nothing else:
//
//	/public/                                    district index: towns and villages
//	/public/key                                 the district's public key and fingerprint
//	/public/site.css                            the pages' one stylesheet
//	/public/verify.js                           the optional in-browser check (WebCrypto)
//	/public/villages/{code}                     a village: its newest disclosure, the months before, its complaints (?cpage=)
//	/public/villages/{code}/{period}            one month's disclosure
//	/public/v1/key                              the key as JSON
//	/public/v1/villages/{code}/disclosures      a village's published disclosures
//	/public/v1/villages/{code}/disclosures/{period}  one disclosure with its proof
//	/public/v1/chains/{origin}/entries?from=&to=     signed entries of a village's chain (the proof)
//	/public/v1/checkpoints/latest|{n}           a signed checkpoint
//	/public/v1/checkpoints?after=&limit=        checkpoints in order
//
// and, with Config.Complaints, the villagers' complaints (complaints.go):
// a form on the village's page, POST /public/complaints to file one, and
// /public/complaints/check for its status by number and secret.
//
// Pages are server-rendered HTML (html/template escapes everything the
// chain holds and everything a person typed), Chinese, no script needed,
// each under 200 KB. Every request counts against its address's rate and
// the site's concurrency limits; anything else under /public/ is 404,
// another method 405.
package public

import (
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
)

// State is the member's replicated state the site reads: federation/fsm.
type State interface {
	// Range calls fn for origin's entries from seq from on, in order.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
	// Heads is every chain head held.
	Heads() map[string]ledger.Head
	LatestCheckpoint() (*checkpoint.Signed, error)
	Checkpoint(n uint64) (*checkpoint.Signed, error)
	// CheckpointCovering is the first checkpoint whose head of origin is
	// at or after seq (0 when none yet) and that head.
	CheckpointCovering(origin string, seq uint64) (uint64, checkpoint.Head, error)
}

// Config sets up the site.
type Config struct {
	// District is the district's 12-digit org code; its chain holds the
	// catalog in force.
	District string
	// Names are the district's orgs' names by code (--orgs); orgs without
	// one are shown by code.
	Names map[string]string
	// Villages is the code prefix of the villages the site serves: empty
	// for every village of the district (a member), a town's first nine
	// digits at a town serving its own (any other is 404 there).
	Villages string
	// PublicKey is the key checkpoints are signed with; Certificate its
	// DER certificate from the district CA, if any.
	PublicKey   ed25519.PublicKey
	Certificate []byte
	State       State
	// Proofs serves the signed entries of the chain segments that prove
	// the pages (/public/v1/chains/...), each without its private part,
	// so they hold personal data only masked; an entry recorded before
	// the split that holds it unmasked is never served. Off, the pages
	// and checkpoints are still served and verify-public says it cannot
	// check the figures.
	Proofs bool
	Limits Limits
	// Complaints, when set, lets villagers file complaints (complaints.go).
	Complaints *ComplaintConfig
	// DistrictSite, at a site without Complaints (a town's), is where the
	// district's members serve the public site (an absolute http(s) URL,
	// read with ParseDistrictSite): a village's page then sends the
	// villager to the village's complaint form and complaints there, since
	// complaints are taken only through the district's Raft. Empty: no
	// complaint section.
	DistrictSite string
	// Now is the clock retention and the rate limits are judged by;
	// default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Site is the public site's handler.
type Site struct {
	cfg   Config
	lim   *limiter
	slots chan struct{}
	books *books
	fp    string
	cmp   *complaintSite // nil without Config.Complaints
}

// New checks cfg and makes the site.
func New(cfg Config) (*Site, error) {
	if _, err := idcode.OrgCode(cfg.District); err != nil || len(cfg.PublicKey) != ed25519.PublicKeySize || cfg.State == nil {
		return nil, fmt.Errorf("public site: a district org code, its Ed25519 public key and the state are required (district %q: %v)", cfg.District, err)
	}
	if cfg.DistrictSite != "" {
		site, err := ParseDistrictSite(cfg.DistrictSite)
		if err != nil {
			return nil, fmt.Errorf("public site: %w", err)
		}
		cfg.DistrictSite = site
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Limits.fill()
	s := &Site{cfg: cfg, lim: newLimiter(cfg.Limits, cfg.Now), slots: make(chan struct{}, cfg.Limits.Concurrent),
		fp: checkpoint.Fingerprint(cfg.PublicKey)}
	s.books = newBooks(cfg.State, cfg.District, cfg.Now)
	if cfg.Complaints != nil {
		var err error
		if s.cmp, err = newComplaintSite(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Prefix is where the site is mounted.
const Prefix = "/public/"

// maxURL bounds a request's path and query: every route's is short.
const maxURL = 1024

// route is one of the site's routes: its pattern's segments after
// /public/ ("{}" matches one segment) and its handler.
type route struct {
	segs []string
	h    func(w http.ResponseWriter, r *http.Request, args []string)
	// methods the route takes (the Allow header); "" is GET, HEAD. Only
	// a route that takes POST takes a body.
	methods string
}

func (s *Site) routes() []route {
	r := func(p string, h func(http.ResponseWriter, *http.Request, []string)) route {
		return route{segs: strings.Split(p, "/"), h: h}
	}
	return append([]route{
		r("", s.index),
		r("key", s.keyPage),
		r("site.css", static("site.css", "text/css; charset=utf-8")),
		r("verify.js", static("verify.js", "text/javascript; charset=utf-8")),
		r("villages/{}", s.villagePage),
		r("villages/{}/{}", s.monthPage),
		r("v1/key", s.keyJSON),
		r("v1/villages/{}/disclosures", s.disclosuresJSON),
		r("v1/villages/{}/disclosures/{}", s.disclosureJSON),
		r("v1/chains/{}/entries", s.entriesJSON),
		r("v1/checkpoints", s.checkpointsJSON),
		r("v1/checkpoints/{}", s.checkpointJSON),
	}, s.complaintRoutes()...)
}

func (rt route) match(rest string) ([]string, bool) {
	segs := strings.Split(rest, "/")
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var args []string
	for i, p := range rt.segs {
		if p == "{}" {
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
		} else if p != segs[i] {
			return nil, false
		}
	}
	return args, true
}

// ServeHTTP serves the site: limits first, then the route.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	// No page address goes to another site; within the site a browser
	// sends it, and so the form's real Origin (under no-referrer a form
	// post says "Origin: null", which sameSite cannot tell from a
	// sandboxed page elsewhere).
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	// Every request under /public/ counts against its address first, a
	// 404 as much as a page, so guessing paths costs the same as reading.
	if ok, wait := s.lim.allow(clientAddr(r, s.cfg.Limits.TrustedProxies)); !ok {
		h.Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(wait.Seconds())))))
		s.fail(w, r, http.StatusTooManyRequests, "访问太频繁，请稍后再试", fmt.Sprintf("too many requests from your address: at most %g a second (%d at once); retry after %s",
			s.cfg.Limits.PerSecond, s.cfg.Limits.Burst, wait.Round(time.Millisecond)))
		return
	}
	if len(r.URL.RequestURI()) > maxURL {
		s.fail(w, r, http.StatusRequestURITooLong, "地址太长", fmt.Sprintf("the address is longer than %d bytes", maxURL))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	var rt *route
	var args []string
	for _, c := range s.routes() {
		if a, match := c.match(rest); ok && match {
			rt, args = &c, a
			break
		}
	}
	if rt == nil {
		s.fail(w, r, http.StatusNotFound, "没有这个页面", "no such page: "+r.URL.Path)
		return
	}
	allow := cmp.Or(rt.methods, "GET, HEAD")
	if !slices.Contains(strings.Split(allow, ", "), r.Method) {
		h.Set("Allow", allow)
		s.fail(w, r, http.StatusMethodNotAllowed, "这个地址不接受这种请求", r.Method+" is not a method of "+r.URL.Path+"; it takes "+allow)
		return
	}
	if r.Method != http.MethodPost && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "读取页面不带请求体", "a GET of the public site takes no body")
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		h.Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "访问的人太多，请稍后再试", fmt.Sprintf("the public site is serving %d requests at once; retry in a second", s.cfg.Limits.Concurrent))
		return
	}
	rt.h(w, r, args)
}

// contentSecurityPolicy: the pages load their stylesheet (and an optional
// script) from the member itself, nothing inline, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// fail answers an error: JSON under /public/v1/, a small page otherwise.
func (s *Site) fail(w http.ResponseWriter, r *http.Request, code int, zh, en string) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, Prefix+"v1/") {
		writeJSON(w, code, map[string]any{"code": code, "message": en, "messageZh": zh})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	if err := pages.ExecuteTemplate(w, "error", map[string]any{"Code": code, "Zh": zh, "En": en, "Fingerprint": s.fp}); err != nil {
		s.cfg.Logger.Warn("public: write error page", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

// errNotFound: a village, month, checkpoint or segment there is none of.
var errNotFound = errors.New("public: not found")
