package public

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/disclosed"
)

//go:embed templates/*.html site.css verify.js
var assets embed.FS

// pages are the site's templates; html/template escapes every value.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"yuan":  yuan,
	"short": func(h string) string { return h[:min(12, len(h))] },
	"date":  func(t time.Time) string { return t.In(cst).Format("2006-01-02 15:04") },
	"month": monthName,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"seg": func(d *disclosed.Disclosure, p Proof, seq uint64) string {
		if p.Segment == "" {
			return ""
		}
		return segmentURL(d.Village, seq, p.ToSeq)
	},
}).ParseFS(assets, "templates/*.html"))

// cst is the time zone pages show times in (UTC on the wire).
var cst = time.FixedZone("CST", 8*3600)

// PageLimit is the most a page may weigh (the issue: under 200 KB on a
// phone); a month with more itemized transactions than fit is split over
// pages of ItemsPerPage.
const (
	PageLimit    = 200 << 10
	ItemsPerPage = 150
)

// yuan shows fen as yuan with thousands separators: 123456 → "1,234.56".
func yuan(fen int64) string {
	neg := fen < 0
	if neg {
		fen = -fen
	}
	s := strconv.FormatInt(fen/100, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	s = fmt.Sprintf("%s.%02d", s, fen%100)
	if neg {
		return "-" + s
	}
	return s
}

// monthName is "2026-03" as "2026年3月".
func monthName(p string) string {
	t, err := time.Parse("2006-01", p)
	if err != nil {
		return p
	}
	return fmt.Sprintf("%d年%d月", t.Year(), int(t.Month()))
}

// render writes a page, refusing (and logging) one over PageLimit rather
// than sending a phone more than promised.
func (s *Site) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	s.renderStatus(w, r, http.StatusOK, name, data)
}

// renderStatus is render with a status code other than 200: a refused
// complaint's form again, with the refusal at its top.
func (s *Site) renderStatus(w http.ResponseWriter, r *http.Request, code int, name string, data map[string]any) {
	data["Fingerprint"] = s.fp
	data["District"] = s.name(s.cfg.District)
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.internal(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	if b.Len() > PageLimit {
		s.internal(w, r, fmt.Errorf("page %s is %d bytes, over the limit of %d", r.URL.Path, b.Len(), PageLimit))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" { // a complaint's pages are no-store
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

// name is an org's name, or its code when the district gave none.
func (s *Site) name(code string) string {
	if n := s.cfg.Names[code]; n != "" {
		return n
	}
	return code
}

// static serves one embedded file: the stylesheet, or the script that
// checks a month in the browser (verify.js).
func static(name, contentType string) func(w http.ResponseWriter, r *http.Request, _ []string) {
	return func(w http.ResponseWriter, r *http.Request, _ []string) {
		b, _ := assets.ReadFile(name)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}
}

type town struct {
	Code, Name string
	Villages   []org
}

type org struct{ Code, Name string }

// index lists the district's towns and their villages: every village the
// district names (--orgs) or holds a chain of.
func (s *Site) index(w http.ResponseWriter, r *http.Request, _ []string) {
	codes := map[string]bool{}
	for c := range s.cfg.Names {
		codes[c] = true
	}
	for c := range s.cfg.State.Heads() {
		codes[c] = true
	}
	towns := map[string]*town{}
	for c := range codes {
		if !s.serves(c) {
			continue
		}
		t := towns[c[:9]]
		if t == nil {
			t = &town{Code: c[:9], Name: s.townName(c[:9])}
			towns[c[:9]] = t
		}
		t.Villages = append(t.Villages, org{c, s.name(c)})
	}
	var list []*town
	for _, t := range towns {
		slices.SortFunc(t.Villages, func(a, b org) int { return strings.Compare(a.Code, b.Code) })
		list = append(list, t)
	}
	slices.SortFunc(list, func(a, b *town) int { return strings.Compare(a.Code, b.Code) })
	s.render(w, r, "index", map[string]any{"Towns": list})
}

// townName is a town's name; towns are listed by 9 digits, named by 12.
func (s *Site) townName(code9 string) string {
	if n := s.cfg.Names[code9+"000"]; n != "" {
		return n
	}
	return code9 + "000"
}

func (s *Site) keyPage(w http.ResponseWriter, r *http.Request, _ []string) {
	s.render(w, r, "key", map[string]any{"Key": s.key()})
}

// villagePage is a village's newest disclosure in full and every earlier
// month as a link.
func (s *Site) villagePage(w http.ResponseWriter, r *http.Request, args []string) {
	all, rule, ok := s.published(w, r, args[0])
	if !ok {
		return
	}
	data := map[string]any{"Village": args[0], "Name": s.name(args[0]), "Town": s.townName(args[0][:9]), "Retention": rule.retentionMonths}
	if len(all) > 0 {
		newest := all[len(all)-1]
		if err := newest.Check(); err != nil {
			// Shown by its own page as refused (409); the village page
			// shows no figures the committee did not approve either.
			data["Refused"] = err.Error()
		} else if err := s.monthData(data, r, newest, all); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	var months []*disclosed.Disclosure
	for i := len(all) - 1; i >= 0; i-- {
		months = append(months, all[i])
	}
	data["Months"] = months
	if s.cmp != nil {
		cpage, _ := strconv.Atoi(r.URL.Query().Get("cpage"))
		list, n, pages, err := s.villageComplaints(args[0], cpage)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		cpage = min(max(cpage, 1), pages)
		data["ComplaintsOn"], data["Complaints"], data["ComplaintCount"] = true, list, n
		data["CPage"], data["CPages"] = cpage, pages
		if cpage > 1 {
			data["PrevCPage"] = cpage - 1
		}
		if cpage < pages {
			data["NextCPage"] = cpage + 1
		}
	}
	if links := s.districtComplaints(args[0]); links != nil {
		data["DistrictComplaints"] = links
	}
	s.render(w, r, "village", data)
}

func (s *Site) monthPage(w http.ResponseWriter, r *http.Request, args []string) {
	d, all, ok := s.month(w, r, args)
	if !ok {
		return
	}
	data := map[string]any{"Village": args[0], "Name": s.name(args[0]), "Town": s.townName(args[0][:9])}
	if err := s.monthData(data, r, d, all); err != nil {
		s.internal(w, r, err)
		return
	}
	s.render(w, r, "month", data)
}

// monthData fills what a month's section shows: the disclosure, its proof,
// the page of itemized transactions asked for (?page=), the previous and
// next months.
func (s *Site) monthData(data map[string]any, r *http.Request, d *disclosed.Disclosure, all []*disclosed.Disclosure) error {
	p, err := s.proof(d)
	if err != nil {
		return err
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (len(d.Transactions)+ItemsPerPage-1)/ItemsPerPage)
	page = min(max(page, 1), pages)
	txs := d.Transactions[min((page-1)*ItemsPerPage, len(d.Transactions)):min(page*ItemsPerPage, len(d.Transactions))]
	data["D"], data["Proof"], data["Txs"], data["Page"], data["Pages"] = d, p, txs, page, pages
	if page > 1 {
		data["PrevPage"] = page - 1
	}
	if page < pages {
		data["NextPage"] = page + 1
	}
	data["JSON"] = fmt.Sprintf("%sv1/villages/%s/disclosures/%s", Prefix, d.Village, d.Period)
	data["Self"] = fmt.Sprintf("%svillages/%s/%s", Prefix, d.Village, d.Period)
	return nil
}
