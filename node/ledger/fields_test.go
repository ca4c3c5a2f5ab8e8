package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestFieldsMatchPlainWalk walks messages with Fields and with plainWalk
// (protowire's Consume functions alone) and wants the same fields, values
// and error: a sealed
// entry, its body, and the same bytes cut, with bytes changed at random
// and with one- and many-byte tags, lengths and varints (Fields reads the
// one-byte ones itself).
func TestFieldsMatchPlainWalk(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	p, err := proto.Marshal(&sanziv1.Transaction{Org: "350505100201", Kind: 2, AmountFen: 1 << 40, PaymentMethod: 1, BusinessDate: "2026-08-15",
		Summary: string(bytes.Repeat([]byte("长"), 100)), Counterparty: &sanziv1.Counterparty{Name: "某公司"}, Category: "办公费", Attachments: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Seal(key, Head{}, Record{Origin: "350505100201", Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: p}, time.Unix(1e9, 5))
	if err != nil {
		t.Fatal(err)
	}
	type field struct {
		n   protowire.Number
		typ protowire.Type
		v   string
		u   uint64
	}
	walk := func(b []byte) (a, w []field, aerr, werr error) {
		f := FieldsOf(b)
		for f.Next() {
			a = append(a, field{f.N, f.Typ, string(f.V), f.U})
		}
		werr = plainWalk(b, func(n protowire.Number, typ protowire.Type, v []byte, u uint64) {
			w = append(w, field{n, typ, string(v), u})
		})
		return a, w, f.Err(), werr
	}
	cases := [][]byte{st.Raw, p, nil, {0x00}, {0x08}, {0x08, 0x80}, {0x0a, 0x01}, {0x0a, 0x7f, 1}, {0x78, 1}, {0x80, 0x01, 0x05}, {0x0b, 0x0c}, {0x0e}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := bytes.Clone([]byte(cases[rng.IntN(2)]))
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		cases = append(cases, b, b[:rng.IntN(len(b))])
	}
	errs := 0
	for i, b := range cases {
		a, w, aerr, werr := walk(b)
		if fmt.Sprint(a) != fmt.Sprint(w) || fmt.Sprint(aerr) != fmt.Sprint(werr) {
			t.Fatalf("case %d (% x):\nFields    %v, %v\nplainWalk %v, %v", i, b, a, aerr, w, werr)
		}
		if aerr != nil {
			errs++
		}
	}
	if errs < 100 || errs > len(cases)-100 {
		t.Fatalf("%d of %d cases failed to parse: the cases do not test both", errs, len(cases))
	}
}

// plainWalk is the reference for Fields: each field read with protowire's
// Consume functions and nothing inline.
func plainWalk(b []byte, fn func(n protowire.Number, typ protowire.Type, v []byte, u uint64)) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		var v []byte
		var u uint64
		switch typ {
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			u, l = protowire.ConsumeVarint(b)
		default:
			l = protowire.ConsumeFieldValue(n, typ, b)
		}
		if l < 0 {
			return protowire.ParseError(l)
		}
		fn(n, typ, v, u)
		b = b[l:]
	}
	return nil
}
