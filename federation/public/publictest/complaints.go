package publictest

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

var (
	question = regexp.MustCompile(`验证题：(\d+) (加|乘以) (\d+) 等于几？`)
	token    = regexp.MustCompile(`name="token" value="([^"]+)"`)
	number   = regexp.MustCompile(`<strong id="number">([^<]+)</strong>`)
	secret   = regexp.MustCompile(`<strong id="secret">([^<]+)</strong>`)
)

// Question reads a complaint form's question ("7 加 5 等于几？") and
// answers it, as a person does.
func Question(t testing.TB, text string) string {
	t.Helper()
	q := question.FindStringSubmatch(text)
	if q == nil {
		t.Fatalf("no question in:\n%s", text)
	}
	a, _ := strconv.Atoi(q[1])
	b, _ := strconv.Atoi(q[3])
	if q[2] == "加" {
		return strconv.Itoa(a + b)
	}
	return strconv.Itoa(a * b)
}

// Solve reads a complaint form page's token and answers its question.
func Solve(t testing.TB, page []byte) (tok, answer string) {
	t.Helper()
	m := token.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no question's token on the form:\n%s", page)
	}
	return string(m[1]), Question(t, string(page))
}

// Filed reads the number and the secret from the page a filing returns.
func Filed(page string) (num, sec string, ok bool) {
	n, s := number.FindStringSubmatch(page), secret.FindStringSubmatch(page)
	if n == nil || s == nil {
		return "", "", false
	}
	return n[1], s[1], true
}

// ComplaintForm is the post of a complaint form to site as a browser
// sends it from the site's own page: the fields in the form's order, the
// posts ticked, the photos (name → content).
func ComplaintForm(site string, fields map[string]string, posts []string, photos map[string][]byte) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range []string{"village", "category", "text", "contact", "token", "answer"} {
		if v, ok := fields[k]; ok {
			mw.WriteField(k, v)
		}
	}
	for _, p := range posts {
		mw.WriteField("posts", p)
	}
	for name, content := range photos {
		fw, _ := mw.CreateFormFile("photo", name)
		fw.Write(content)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", site+"/public/complaints", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return req
}
