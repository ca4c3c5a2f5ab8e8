package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler(Options{Tier: "village", Org: `350505100201"><script>x</script>`})
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html", `data-org="350505100201&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/app/js/main.js", 200, "text/javascript", "import"},
		{"GET", "/app/css/console.css", 200, "text/css", ":root"},
		{"GET", "/app/i18n/zh.js", 200, "text/javascript", "export default"},
		{"GET", "/app/vendor/README.md", 404, "", ""},
		{"GET", "/app/vendor/axe.min.js", 404, "", ""}, // the tests' tool, never served
		{"GET", "/app/js/", 404, "", ""},               // no listings
		{"GET", "/app/js", 404, "", ""},
		{"GET", "/app/../web.go", 404, "", ""},
		{"GET", "/nothing", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
			continue
		}
		hdr := w.Header()
		if hdr.Get("Content-Security-Policy") != ContentSecurityPolicy || hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, hdr)
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %s", tc.method, tc.path, hdr.Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, tc.body, w.Body)
		}
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("policy lacks %s", want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Errorf("policy allows unsafe sources: %s", ContentSecurityPolicy)
	}
}

// appFiles are the console's embedded files by name.
func appFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(files, "app", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The CSP forbids inline scripts and styles; the code keeps data out of
// markup. Both are checked in the source, so that a page added later that
// breaks them fails here and not only in a browser.
func TestNoInlineNoMarkupFromData(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write`),
		regexp.MustCompile(`\beval\(|new Function\(`),
		regexp.MustCompile(`setAttribute\(\s*['"]style['"]|style=`),
		regexp.MustCompile(`setAttribute\(\s*['"]on`),
	}
	for name, src := range appFiles(t) {
		for _, re := range forbidden {
			if m := re.FindString(src); m != "" {
				t.Errorf("%s: %q (CSP: no inline scripts or styles; values go in as text)", name, m)
			}
		}
	}
	idx := string(mustIndex(Options{}))
	if regexp.MustCompile(`<script(?:\s+type="module")?>|<style|style=`).MatchString(idx) {
		t.Errorf("index page has inline script or style:\n%s", idx)
	}
}

var (
	dictKey = regexp.MustCompile(`(?m)^\s*'([A-Za-z0-9_.]+)':`)
	// t('key') and t('key', {...}) with a literal key; label: 'key' in pages.js.
	usedKey = regexp.MustCompile(`\bt\('([A-Za-z0-9_.]+)'\s*[,)]|label: '([A-Za-z0-9_.]+)'`)
)

// Every label in both languages: the dictionaries have the same keys, and
// every literal key the code asks for is in them.
func TestDictionaries(t *testing.T) {
	all := appFiles(t)
	keys := func(name string) map[string]bool {
		m := map[string]bool{}
		for _, k := range dictKey.FindAllStringSubmatch(all[name], -1) {
			if m[k[1]] {
				t.Errorf("%s: %s twice", name, k[1])
			}
			m[k[1]] = true
		}
		if len(m) < 10 {
			t.Fatalf("%s: %d keys read: the pattern no longer matches the file", name, len(m))
		}
		return m
	}
	zh, en := keys("app/i18n/zh.js"), keys("app/i18n/en.js")
	var missing []string
	for k := range zh {
		if !en[k] {
			missing = append(missing, "en lacks "+k)
		}
	}
	for k := range en {
		if !zh[k] {
			missing = append(missing, "zh lacks "+k)
		}
	}
	used := 0
	for name, src := range all {
		if !strings.HasSuffix(name, ".js") || strings.HasPrefix(name, "app/i18n/") {
			continue
		}
		for _, m := range usedKey.FindAllStringSubmatch(src, -1) {
			k := m[1] + m[2]
			used++
			if !zh[k] {
				missing = append(missing, name+" uses "+k+", in no dictionary")
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Error(m)
	}
	if used < 20 {
		t.Errorf("%d label uses found: the pattern no longer matches the code", used)
	}
}

func TestVendorServedOnlyWhenPresent(t *testing.T) {
	w := httptest.NewRecorder()
	Handler(Options{}).ServeHTTP(w, httptest.NewRequest("GET", "/app/vendor/echarts.min.js", nil))
	_, err := files.ReadFile("vendor/echarts.min.js")
	switch {
	case err == nil && w.Code != http.StatusOK:
		t.Fatalf("echarts.min.js embedded but answered %d", w.Code)
	case err != nil && w.Code != http.StatusNotFound:
		t.Fatalf("echarts.min.js not embedded (no make setup) but answered %d", w.Code)
	}
}
