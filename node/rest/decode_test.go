package rest

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestLocate runs real protojson errors through locate, the one function
// that reads their text, and a few made-up texts for its fallbacks.
func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"int64 overflow", `{"transaction": {"amountFen": 99999999999999999999}}`, "transaction.amountFen"},
		{"second line", "{\n  \"author\": \"a\",\n  \"transaction\": {\"kind\": \"NOPE\"}\n}", "transaction.kind"},
		{"after multibyte text", `{"transaction": {"summary": "材料费材料费", "amountFen": "x"}}`, "transaction.amountFen"},
		{"unknown key", `{"transaction": {"counterparty": {"nmae": "x"}}}`, "transaction.counterparty.nmae"},
		{"array element", `{"transaction": {"attachments": ["a", 1]}}`, "transaction.attachments[1]"},
		{"root", `{"author": "a", "author": "b"}`, "author"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := protojson.Unmarshal([]byte(tc.body), &sanziv1.RecordTransactionRequest{})
			if err == nil {
				t.Fatal("protojson took the body")
			}
			if vi := locate([]byte(tc.body), err); vi.Field != tc.field || strings.Contains(vi.Reason, "(line") {
				t.Fatalf("locate(%v) = %+v, want field %s and no position in the reason", err, vi, tc.field)
			}
		})
	}
	for _, tc := range []struct{ msg, field string }{
		{"proto: field sanzi.v1.Transaction.summary contains invalid UTF-8", "sanzi.v1.Transaction.summary"},
		{`proto: unknown field "x"`, "x"},
		{"proto: something new", "body"},
		{"proto: (line 9:9): past the end", "body"},
	} {
		if vi := locate([]byte(`{"a": 1}`), errors.New(tc.msg)); vi.Field != tc.field {
			t.Errorf("locate(%q) named %q, want %q", tc.msg, vi.Field, tc.field)
		}
	}
}

func TestWalkDepthAndUTF8(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), "body"},
		{`{"a": ` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, "a" + strings.Repeat("[0]", MaxDepth-1)},
		{"{\"a\": [\"ok\", \"\xc3\x28\"]}", "a[1]"},
		{`"text"`, "body"},
		{`{"a": 1} x`, "body"},
	} {
		if vi := checkJSON([]byte(tc.body)); vi == nil || vi.Field != tc.field {
			t.Errorf("checkJSON(%.40q) = %v, want a violation of %s", tc.body, vi, tc.field)
		}
	}
	if vi := checkJSON([]byte(`{"a": [{"b": "ü"}, 2]}`)); vi != nil {
		t.Errorf("a good body refused: %v", vi)
	}
}

func TestMessageTooLarge(t *testing.T) {
	for msg, want := range map[string]bool{
		"grpc: received message larger than max (70000000 vs. 67108864)":      true,
		"grpc: trying to send message larger than max (70000000 vs. 4194304)": true,
		"the node already serves 256 alert streams":                           false,
	} {
		if messageTooLarge(msg) != want {
			t.Errorf("messageTooLarge(%q) != %v", msg, want)
		}
	}
}
