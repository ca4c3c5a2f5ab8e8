package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/rest"
	"github.com/sanzi/sanzi/proto/gen"
)

// FuzzREST sends mutated bodies, content types and path parameters to
// every POST route of the generated OpenAPI document, through the
// in-process HTTP handler of a real village node: no answer may be a 5xx,
// nothing may panic, and a refused request (4xx) must leave the ledger head
// where it was.
func FuzzREST(f *testing.F) {
	n := startTestNode(f, nil)
	routes, err := rest.Routes(gen.OpenAPI, rest.Limits{Raw: n.cfg.MaxAttachment})
	if err != nil {
		f.Fatal(err)
	}
	var posts []rest.Route
	for _, r := range routes {
		if r.Method == http.MethodPost {
			posts = append(posts, r)
		}
	}
	handler := n.http.Handler
	for i, r := range posts {
		body, ctype := `{"author":"tester"}`, "application/json"
		switch {
		case r.Body == rest.RawBody:
			body, ctype = "receipt", "application/octet-stream"
		case r.Pattern == "/v1/transactions":
			body = validTx(i)
		}
		f.Add(uint8(i), testOrg+"-1", ctype, []byte(body))
	}
	f.Add(uint8(0), "", "text/plain", []byte("null"))
	f.Add(uint8(1), "..", "application/json; charset=utf-8", []byte(`{"author":"a","x":[[[[1]]]]}`))
	head := n.head()
	f.Fuzz(func(t *testing.T, route uint8, param, ctype string, body []byte) {
		r := posts[int(route)%len(posts)]
		segs := strings.Split(r.Pattern, "/")
		for i, s := range segs { // every path parameter gets the fuzzed value
			if strings.HasPrefix(s, "{") {
				segs[i] = param
			}
		}
		path := strings.Join(segs, "/")
		req, err := http.NewRequest(http.MethodPost, "http://village"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", "Bearer "+n.token)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		switch {
		case w.Code >= 500:
			t.Fatalf("POST %s (%q, %d bytes): HTTP %d: %s", path, ctype, len(body), w.Code, w.Body)
		case w.Code >= 400:
			if now := n.head(); now != head {
				t.Fatalf("POST %s refused with %d but the head moved from %d to %d: %s", path, w.Code, head.Seq, now.Seq, w.Body)
			}
		default:
			head = n.head()
		}
	})
}
