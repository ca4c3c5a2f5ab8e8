package rest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// MaxDepth is the deepest nesting of objects and arrays a JSON body may
// have. Sanzi's request messages nest five levels at most; the bound keeps a
// body of a million brackets from costing a deep recursion.
const MaxDepth = 32

// Decoding wraps a JSON marshaler so that a request body it cannot take is
// refused with the field at fault named: the body is checked for nesting,
// UTF-8 and a top-level object first, and a protojson error (wrong type,
// number out of range, unknown field or enum name) is traced back to the
// path of the value it points at. Encoding is left to m.
func Decoding(m runtime.Marshaler) runtime.Marshaler { return decoding{m} }

type decoding struct{ runtime.Marshaler }

func (d decoding) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		// The guard bounds r; unguarded (tests, a route the document does
		// not list), the default limit holds.
		var src io.Reader = r
		if _, guarded := r.(*limitedBody); !guarded {
			src = io.LimitReader(r, DefaultJSONLimit)
		}
		data, err := io.ReadAll(src)
		if err != nil {
			return fmt.Errorf("read the request body: %w", err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return io.EOF // an empty body is an empty message, as before
		}
		if _, ok := v.(proto.Message); !ok {
			return d.Unmarshal(data, v)
		}
		vi := checkJSON(data)
		if vi == nil {
			if err := d.Unmarshal(data, v); err != nil {
				vi = locate(data, err)
			}
		}
		if vi == nil {
			return nil
		}
		if lb, ok := r.(*limitedBody); ok {
			lb.st.violation = vi
		}
		return vi
	})
}

// violation is a body the decoder refused: the field's path (as the JSON
// names it: "transaction.attachments[0]"; "body" for the whole body) and
// why.
type violation struct {
	Field, Reason string
}

func (v *violation) Error() string { return v.Field + ": " + v.Reason }

// span is one JSON value or object key of a body, with its path.
type span struct {
	start, end int
	path       string
}

// frame is an object or array being walked.
type frame struct {
	path    string
	isArray bool
	index   int    // arrays: the index of the next element
	key     string // objects: the key whose value comes next
	wantKey bool
}

// at is the path of the value that comes next in f.
func (f *frame) at() string {
	if f.isArray {
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	return joinPath(f.path, f.key)
}

// walk reads a JSON body token by token and returns the spans of its
// values and keys, or the first problem found: malformed JSON, nesting
// deeper than MaxDepth, a string that is not UTF-8, or a body that is not
// an object.
func walk(data []byte) ([]span, *violation) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	var spans []span
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	// done ends a value: the enclosing object waits for a key again, the
	// enclosing array moves to its next element.
	done := func() {
		if f := top(); f != nil {
			if f.isArray {
				f.index++
			} else {
				f.wantKey = true
			}
		}
	}
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			if f := top(); f != nil {
				return nil, &violation{Field: cmp.Or(f.path, "body"), Reason: "malformed JSON: the body ends before the value is complete"}
			}
			return spans, nil
		}
		here := "body"
		if f := top(); f != nil {
			here = f.at()
			if !f.isArray && f.wantKey {
				here = cmp.Or(f.path, "body") // a key of f is at fault: f is named
			}
		}
		if err != nil {
			return nil, &violation{Field: here, Reason: "malformed JSON: " + err.Error()}
		}
		start, end := tokenStart(data, before), int(dec.InputOffset())
		f := top()
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if f != nil && !f.isArray && f.wantKey {
			if !utf8.Valid(data[start:end]) {
				return nil, &violation{Field: here, Reason: "a field name is not valid UTF-8"}
			}
			f.key, f.wantKey = tok.(string), false // the decoder allows only a string here
			spans = append(spans, span{start, end, f.at()})
			continue
		}
		if f == nil && tok != json.Delim('{') {
			return nil, &violation{Field: "body", Reason: "the body must be a JSON object, not " + describe(tok)}
		}
		spans = append(spans, span{start, end, here})
		switch t := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= MaxDepth {
				return nil, &violation{Field: here, Reason: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
			}
			path := here
			if f == nil {
				path = ""
			}
			stack = append(stack, &frame{path: path, isArray: t == '[', wantKey: t == '{'})
		case string:
			if !utf8.Valid(data[start:end]) {
				return nil, &violation{Field: here, Reason: "the text is not valid UTF-8"}
			}
			done()
		default:
			done()
		}
	}
}

// tokenStart skips the whitespace and separators after offset to the first
// byte of the next token.
func tokenStart(data []byte, offset int) int {
	for offset < len(data) && strings.IndexByte(" \t\r\n,:", data[offset]) >= 0 {
		offset++
	}
	return offset
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// describe names a top-level token for the refusal of a non-object body.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return strconv.FormatBool(t)
	default:
		return "a number"
	}
}

// checkJSON is walk's verdict alone.
func checkJSON(data []byte) *violation {
	_, vi := walk(data)
	return vi
}

// protoPos finds the position protojson gives its errors: "(line 3:14)".
var protoPos = regexp.MustCompile(`\(line (\d+):(\d+)\): `)

// protoName finds the field a protojson error names when it has no
// position: "field sanzi.v1.Transaction.summary", "unknown field \"x\"",
// "... field amountFen: ...".
var protoName = regexp.MustCompile(`(?:unknown field "([^"]+)"|field ([\w.]+))`)

// locate turns a protojson error on data into the violation of the field
// it is about. protojson's errors are plain text with the position of the
// token at fault ("proto: (line 1:40): invalid value for int64 field
// amountFen: 1e30"): the position is mapped back to the path of the value or
// key there. This is the one place that reads protojson's error text; when
// the text has no position, the field name in it (or "body") is used.
func locate(data []byte, err error) *violation {
	msg := err.Error()
	reason := strings.TrimPrefix(msg, "proto: ")
	if m := protoPos.FindStringSubmatchIndex(reason); m != nil {
		line, _ := strconv.Atoi(reason[m[2]:m[3]])
		col, _ := strconv.Atoi(reason[m[4]:m[5]])
		reason = strings.TrimSpace(reason[:m[0]] + reason[m[1]:])
		if off, ok := offsetOf(data, line, col); ok {
			if spans, vi := walk(data); vi == nil {
				if p := pathAt(spans, off); p != "" {
					return &violation{Field: p, Reason: reason}
				}
			}
		}
	}
	if m := protoName.FindStringSubmatch(reason); m != nil {
		return &violation{Field: m[1] + m[2], Reason: reason}
	}
	return &violation{Field: "body", Reason: reason}
}

// offsetOf converts protojson's 1-based line and column (counted in runes)
// to a byte offset.
func offsetOf(data []byte, line, col int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(data) {
			return 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, true
}

// pathAt is the path of the innermost span that holds offset.
func pathAt(spans []span, offset int) string {
	best := -1
	for i, s := range spans {
		if s.start <= offset && offset < s.end && (best < 0 || s.start >= spans[best].start) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return spans[best].path
}
