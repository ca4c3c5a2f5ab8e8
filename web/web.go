// Package web holds the browser console every node serves at "/" (issue
// 14): plain ES modules, styles and dictionaries embedded in the binary, so
// that the console needs no Node, no CDN and no internet at run time. The
// console talks to the node's own REST API (/v1/...) with the session
// cookie of issue 12's sign-in; this package serves only static files.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// app is the console; vendor holds the files `make setup` copies from npm
// (a placeholder README on a fresh clone).
//
//go:embed app vendor
var files embed.FS

// served are the vendor files the console may load; the rest of vendor
// (axe.min.js, for the browser tests) is never served.
var served = map[string]bool{"echarts.min.js": true}

// ContentSecurityPolicy is sent with every console response: scripts,
// styles, images and connections from the node itself only, no inline
// script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options say which node serves the console, for the sign-in page (the
// signed-in header takes the same from GET /v1/me).
type Options struct {
	// Tier is village, town or district.
	Tier string
	// Org is the node's 12-digit org code.
	Org string
}

// Handler serves the console: GET / is the page, /app/... its modules,
// styles and dictionaries, /app/vendor/... the served vendor files. Any
// other path is 404, any other method 405.
func Handler(o Options) http.Handler {
	index := mustIndex(o)
	app, _ := fs.Sub(files, "app")
	static := http.FileServerFS(app)
	modTime := time.Time{} // embedded files have none: no Last-Modified
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the console is read with GET", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean(r.URL.Path)
		switch {
		case p == "/" || p == "/index.html":
			h.Set("Cache-Control", "no-store")
			http.ServeContent(w, r, "index.html", modTime, bytes.NewReader(index))
		case strings.HasPrefix(p, "/app/vendor/"):
			name := strings.TrimPrefix(p, "/app/vendor/")
			b, err := files.ReadFile("vendor/" + name)
			if !served[name] || err != nil {
				http.NotFound(w, r)
				return
			}
			h.Set("Cache-Control", "no-cache")
			http.ServeContent(w, r, name, modTime, bytes.NewReader(b))
		case strings.HasPrefix(p, "/app/") && isFile(app, strings.TrimPrefix(p, "/app/")):
			// no-cache: the browser revalidates each module, so a node
			// upgraded in place never runs last version's scripts.
			h.Set("Cache-Control", "no-cache")
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimPrefix(p, "/app")
			static.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}

// isFile says whether name is a file of fsys (no directory listings).
func isFile(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && !fi.IsDir()
}

// indexPage is the page's one HTML document: the node's tier and org as
// data attributes (escaped by html/template), everything else from modules.
var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>三资监管</title>
<link rel="stylesheet" href="/app/css/console.css">
<script type="module" src="/app/js/main.js"></script>
</head>
<body data-tier="{{.Tier}}" data-org="{{.Org}}">
<noscript>三资监管控制台需要 JavaScript。The Sanzi console needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`))

func mustIndex(o Options) []byte {
	var b bytes.Buffer
	if err := indexPage.Execute(&b, o); err != nil {
		panic("web: index template: " + err.Error()) // a constant template with two strings
	}
	return b.Bytes()
}
