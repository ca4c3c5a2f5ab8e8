package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// Guard checks each request against its route before the next handler
// (the gateway) sees it:
//   - a method the path does not take: 405 with Allow;
//   - a body of another content type than the route's: 415 (a bodiless
//     request may leave Content-Type out);
//   - a Content-Length over the route's limit: 413 at once, before a byte
//     of the body is read (the server then closes the connection instead of
//     reading the rest, and the client, still sending, reads the answer);
//   - a body without a length (chunked) is cut at the limit: the read fails,
//     the request is answered 413 and the connection closed.
//
// Raw bodies (uploads) are not counted here: the node streams them to disk
// in pieces, so many at once cost little memory. Requests on paths of no
// route pass through untouched (the gateway answers 404).
func Guard(next http.Handler, routes []Route) http.Handler {
	t := table(routes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, allow := t.match(r.Method, r.URL.Path)
		if rt == nil {
			if len(allow) > 0 {
				w.Header().Set("Allow", allowHeader(allow))
				writeError(w, http.StatusMethodNotAllowed, refusal(codes.Unimplemented, "",
					fmt.Sprintf("%s is not a method of %s; it takes %s", r.Method, r.URL.Path, allowHeader(allow))))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if field, bad := notUTF8(rt, r); bad {
			writeError(w, http.StatusBadRequest, refusal(codes.InvalidArgument, field, field+": the text is not valid UTF-8"))
			return
		}
		if rt.Body == NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if want := rt.mediaType(); !contentTypeOK(r, want) {
			w.Header().Set("Accept", want) // RFC 9110 15.5.16: say what is taken
			writeError(w, http.StatusUnsupportedMediaType, refusal(codes.InvalidArgument, "Content-Type",
				fmt.Sprintf("%s %s takes %s, not %q", rt.Method, rt.Pattern, want, r.Header.Get("Content-Type"))))
			return
		}
		if r.ContentLength > rt.Limit {
			writeError(w, http.StatusRequestEntityTooLarge, tooLarge(rt, r.ContentLength))
			return
		}
		st := &state{route: rt}
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, rt.Limit), st: st}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// mediaType is the content type a route's body must have.
func (r *Route) mediaType() string {
	if r.Body == RawBody {
		return "application/octet-stream"
	}
	return "application/json"
}

// contentTypeOK: the request's media type (parameters such as charset
// aside) is want, or the request has no body and names no type.
func contentTypeOK(r *http.Request, want string) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return r.ContentLength == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && strings.EqualFold(mt, want)
}

// state is what the guard and the decoder learn about one request, for the
// error handler: whether the body went over the limit, or which field the
// decoder could not take.
type state struct {
	route     *Route
	tooLarge  bool
	violation *violation
}

type stateKey struct{}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// limitedBody is the request body cut at the route's limit; it notes in the
// request's state when the cut was reached.
type limitedBody struct {
	io.ReadCloser
	st *state
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.st.tooLarge = true
	}
	return n, err
}

// tooLarge is the refusal of a body over its route's limit; size < 0 when
// the body had no length and was cut.
func tooLarge(rt *Route, size int64) error {
	what := "the request body"
	if rt.Body == RawBody {
		what = "the attachment"
	}
	msg := fmt.Sprintf("%s is larger than the limit of %d bytes for %s %s", what, rt.Limit, rt.Method, rt.Pattern)
	if size >= 0 {
		msg = fmt.Sprintf("%s is %d bytes, more than the limit of %d bytes for %s %s", what, size, rt.Limit, rt.Method, rt.Pattern)
	}
	return refusal(codes.InvalidArgument, rt.Field, rt.Field+": "+msg)
}

// notUTF8 finds a path parameter or query parameter that is not UTF-8 (the
// gateway would put it in a string field, which gRPC then cannot send) and
// names it.
func notUTF8(rt *Route, r *http.Request) (string, bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i, p := range strings.Split(strings.Trim(rt.Pattern, "/"), "/") {
		if i < len(segs) && strings.HasPrefix(p, "{") && !utf8.ValidString(segs[i]) {
			return strings.Trim(p, "{}"), true
		}
	}
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return "(query)", true
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return k, true
			}
		}
	}
	return "", false
}
