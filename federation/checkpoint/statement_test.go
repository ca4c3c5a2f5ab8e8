package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func head(origin string, seq uint64, b byte) Head {
	h := Head{Origin: origin, Seq: seq}
	h.Hash[0] = b
	return h
}

func TestStatementRoundTrip(t *testing.T) {
	s := &Statement{District: "350505000000", Number: 7, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Heads: []Head{head("350505100201", 12, 1), head("350505000000", 3, 2)}} // out of order: Encode sorts
	s.Prev[31] = 9
	text := s.Encode()
	want := "sanzi checkpoint v1\ndistrict 350505000000\nnumber 7\ntime 2026-11-27T10:00:00Z\nprev " + strings.Repeat("0", 62) + "09\n" +
		"350505000000 3 02" + strings.Repeat("0", 62) + "\n350505100201 12 01" + strings.Repeat("0", 62) + "\n"
	if string(text) != want {
		t.Fatalf("encoded:\n%s\nwant:\n%s", text, want)
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	signed := Sign(s, key)
	got, err := Open(signed.Text, signed.Signature, key.Public().(ed25519.PublicKey))
	if err != nil || !bytes.Equal(got.Statement.Encode(), text) {
		t.Fatalf("open: %v", err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	if _, err := Open(signed.Text, signed.Signature, other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	tampered := bytes.Replace(signed.Text, []byte(" 12 "), []byte(" 13 "), 1)
	if _, err := Open(tampered, signed.Signature, key.Public().(ed25519.PublicKey)); !errors.Is(err, ErrSignature) {
		t.Fatalf("a changed seq: %v", err)
	}
	if fp := Fingerprint(key.Public().(ed25519.PublicKey)); len(fp) != 79 || strings.Count(fp, ":") != 15 {
		t.Errorf("fingerprint %q", fp)
	}
}

func TestParseRefuses(t *testing.T) {
	good := string((&Statement{District: "d", Number: 1, Time: time.Unix(0, 0), Heads: []Head{head("a", 1, 1), head("b", 2, 2)}}).Encode())
	for _, tc := range []struct{ name, text, want string }{
		{"no final newline", strings.TrimSuffix(good, "\n"), "final newline"},
		{"another header", strings.Replace(good, "v1", "v2", 1), "does not start"},
		{"number zero", strings.Replace(good, "number 1", "number 0", 1), "number"},
		{"local time", strings.Replace(good, "1970-01-01T00:00:00Z", "1970-01-01T08:00:00+08:00", 1), "UTC"},
		{"upper-case hex", strings.Replace(good, "a 1 01", "a 1 0A", 1), "lower-case"},
		{"origins out of order", strings.Replace(strings.Replace(good, "a 1 ", "c 1 ", 1), "\nb 2", "\nb 2", 1), "out of order"},
		{"seq zero", strings.Replace(good, "b 2 ", "b 0 ", 1), "seq"},
		{"extra field", strings.Replace(good, "b 2 02", "b 2 x 02", 1), "want origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.text)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrMalformed saying %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
}

func TestContradictions(t *testing.T) {
	at := func(n uint64, hs ...Head) *Statement {
		return &Statement{District: "d", Number: n, Time: time.Unix(int64(n), 0).UTC(), Heads: hs}
	}
	honest := []*Statement{at(1, head("a", 1, 1)), at(2, head("a", 2, 2), head("b", 1, 1)), at(3, head("a", 2, 2), head("b", 4, 4))}
	if c := Contradictions(honest); len(c) != 0 {
		t.Fatalf("honest checkpoints: %v", c)
	}
	forked := append(honest, at(4, head("a", 2, 9), head("b", 4, 4)))
	c := Contradictions(forked)
	if len(c) != 1 || c[0].Origin != "a" || c[0].Seq != 2 || c[0].A != 2 || c[0].B != 4 {
		t.Fatalf("forked: %v", c)
	}
	if !strings.Contains(c[0].Error(), "checkpoints 2 and 4 contradict: a seq 2") {
		t.Errorf("message %q", c[0].Error())
	}
	twice := append(honest, at(3, head("a", 3, 3), head("b", 4, 4)))
	if c := Contradictions(twice); len(c) != 1 || c[0].Origin != "" || c[0].A != 3 {
		t.Fatalf("one number twice: %v", c)
	}
}
