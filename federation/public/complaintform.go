package public

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/complaint"
)

// filed is what a complaint form sent, except the photos.
type filed struct {
	Village, Category, Text, Contact string
	Posts                            []string
	Token, Answer                    string
}

// Has says whether post was ticked (the form keeps what was typed).
func (f filed) Has(post string) bool {
	for _, p := range f.Posts {
		if p == post {
			return true
		}
	}
	return false
}

// photo is one photo sent, checked by its first bytes.
type photo struct {
	name, contentType string
	content           []byte
}

// refusal is why a filing is refused: status code and both languages.
type refusal struct {
	code   int
	zh, en string
}

// Limits of the form's body: the photos at their most, and room for the
// fields; a field's bytes (the text: four bytes a character at most, and
// line ends sent as CRLF) and the number of parts.
const (
	maxFiling    = complaint.MaxPhotos*complaint.MaxPhotoBytes + 64<<10
	maxTextBytes = 4*complaint.MaxText + 1024
	maxFieldSize = 1 << 10
	maxParts     = 32
)

// readFiling reads a complaint form (multipart/form-data) part by part
// with every limit applied while reading, so that nothing over a limit is
// held whole in memory or spilled to disk: the text fields (which the
// form puts first), then up to complaint.MaxPhotos photos of
// complaint.MaxPhotoBytes, each a JPEG or a PNG by its first bytes.
func readFiling(w http.ResponseWriter, r *http.Request) (filed, []photo, *refusal) {
	var f filed
	var photos []photo
	r.Body = http.MaxBytesReader(w, r.Body, maxFiling)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, nil, &refusal{http.StatusUnsupportedMediaType, "投诉须用本站的投诉表提交", "a complaint is posted as multipart/form-data: " + err.Error()}
	}
	tooBig := func(err error) *refusal {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("提交的内容总共超过 %d MB，照片最多 %d 张、每张不超过 %d MB", maxFiling>>20, complaint.MaxPhotos, complaint.MaxPhotoBytes>>20),
				fmt.Sprintf("the form's body is over %d bytes: at most %d photos of %d bytes each", maxFiling, complaint.MaxPhotos, complaint.MaxPhotoBytes)}
		}
		return &refusal{http.StatusBadRequest, "表单内容不完整，请重新提交", "the form's body could not be read: " + err.Error()}
	}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, nil, tooBig(err)
		}
		if parts == maxParts {
			return f, nil, &refusal{http.StatusRequestEntityTooLarge, "表单项太多", fmt.Sprintf("the form has more than %d parts", maxParts)}
		}
		name := p.FormName()
		if name == "photo" {
			ph, ref := readPhoto(p, len(photos))
			if ref != nil {
				return f, nil, ref
			}
			if ph == nil {
				continue // an empty file field: no photo chosen
			}
			if len(photos) == complaint.MaxPhotos {
				return f, nil, &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("照片最多 %d 张", complaint.MaxPhotos), fmt.Sprintf("at most %d photos", complaint.MaxPhotos)}
			}
			photos = append(photos, *ph)
			continue
		}
		limit := int64(maxFieldSize)
		if name == "text" {
			limit = maxTextBytes
		}
		b, err := io.ReadAll(io.LimitReader(p, limit+1))
		if err != nil {
			return f, nil, tooBig(err)
		}
		if int64(len(b)) > limit {
			if name == "text" {
				return f, nil, &refusal{http.StatusBadRequest, fmt.Sprintf("投诉内容最多 %d 字", complaint.MaxText), fmt.Sprintf("text: at most %d characters", complaint.MaxText)}
			}
			return f, nil, &refusal{http.StatusBadRequest, "表单项“" + fieldZh(name) + "”太长", fmt.Sprintf("%s: at most %d bytes", name, limit)}
		}
		v := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch name {
		case "village":
			f.Village = strings.TrimSpace(v)
		case "category":
			f.Category = strings.TrimSpace(v)
		case "text":
			f.Text = v
		case "contact":
			f.Contact = strings.TrimSpace(v)
		case "posts":
			f.Posts = append(f.Posts, strings.TrimSpace(v))
		case "token":
			f.Token = strings.TrimSpace(v)
		case "answer":
			f.Answer = strings.TrimSpace(v)
		}
	}
	if len([]rune(f.Contact)) > complaint.MaxContact {
		return f, nil, &refusal{http.StatusBadRequest, fmt.Sprintf("联系方式最多 %d 字", complaint.MaxContact), fmt.Sprintf("contact: at most %d characters", complaint.MaxContact)}
	}
	return f, photos, nil
}

// readPhoto reads one photo part, at most complaint.MaxPhotoBytes; nil
// for an empty file field. i is how many photos came before it.
func readPhoto(p *multipart.Part, i int) (*photo, *refusal) {
	b, err := io.ReadAll(io.LimitReader(p, complaint.MaxPhotoBytes+1))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("第 %d 张照片超过 %d MB", i+1, complaint.MaxPhotoBytes>>20),
				fmt.Sprintf("photo %d (%s) is over %d bytes", i+1, p.FileName(), complaint.MaxPhotoBytes)}
		}
		return nil, &refusal{http.StatusBadRequest, "照片没有传完整，请重新提交", "a photo could not be read: " + err.Error()}
	}
	switch {
	case len(b) == 0:
		return nil, nil
	case len(b) > complaint.MaxPhotoBytes:
		return nil, &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("第 %d 张照片（%s）超过 %d MB，请缩小后再传", i+1, p.FileName(), complaint.MaxPhotoBytes>>20),
			fmt.Sprintf("photo %d (%s) is over %d bytes", i+1, p.FileName(), complaint.MaxPhotoBytes)}
	}
	ct, err := complaint.PhotoType(b)
	if err != nil {
		return nil, &refusal{http.StatusUnsupportedMediaType, fmt.Sprintf("第 %d 张照片（%s）不是 JPEG 或 PNG 图片", i+1, p.FileName()),
			fmt.Sprintf("photo %d (%s) is neither a JPEG nor a PNG by its content", i+1, p.FileName())}
	}
	name := p.FileName()
	if len(name) > 200 {
		name = name[:200]
	}
	return &photo{name: name, contentType: ct, content: b}, nil
}

// sameSite says whether a form post came from this site, as the browser
// tells it (see complaints.go for why this check and no more); false
// with why. Sec-Fetch-Site decides where the browser sends it; an older
// browser's Origin otherwise ("null", an opaque origin such as a
// sandboxed page's, is refused: the site's own pages send theirs, see
// the Referrer-Policy in public.go).
func sameSite(r *http.Request) (bool, string) {
	switch sf := r.Header.Get("Sec-Fetch-Site"); sf {
	case "same-origin", "none":
		return true, ""
	case "":
	default:
		return false, "the form was posted from another site (Sec-Fetch-Site: " + sf + "); use the form on this site"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true, ""
	}
	u, err := url.Parse(o)
	if o == "null" || err != nil || u.Host != r.Host {
		return false, fmt.Sprintf("the form was posted from %s, not from this site (%s); use the form on this site", o, r.Host)
	}
	return true, ""
}

// peek says whether addr has a token, without taking it, and how long
// until it has one: a filing is checked before its body is read and
// counted only once it is taken.
func (l *limiter) peek(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		return true, 0
	}
	tokens := min(float64(l.lim.Burst), b.tokens+l.now().Sub(b.at).Seconds()*l.lim.PerSecond)
	if tokens < 1 {
		return false, time.Duration((1 - tokens) / l.lim.PerSecond * float64(time.Second))
	}
	return true, 0
}
