package loader

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// rawRanger is a Source that hands out its entries undecoded (the FSM's
// RangeRaw): a decoder then reads only the fields the loader loads
// (wireDecoder), instead of ledger.Decode unmarshalling every field of the
// entry and its body into new messages, which was the largest line of the
// loader's profile.
type rawRanger interface {
	RangeRaw(origin string, from uint64, limit int, fn func(seq uint64, raw []byte) bool) error
}

// wireDecoder reads the fields of encoded entries the loader uses into a
// ledger.Stored: Origin, Seq, Author, Type, Subject, RecordedAt and the
// payload (the private part's when the entry has one, as ledger.Decode).
// Raw, the hashes and the signature are left empty: the FSM verified
// them when it applied the entry. One per decoder goroutine: it keeps the
// authors seen, so an author's name is one string, not one per entry.
type wireDecoder struct {
	authors map[string]string
	// payloads holds the payloads decoded since the last reset, one after
	// the other: one buffer reused range after range instead of a copy
	// allocated per entry (bytes.Clone was ~5 % of the loader's CPU, and
	// each copy an object for the collector).
	payloads []byte
}

// reset lets the next entries' payloads reuse the buffer: the payloads
// decoded before must no longer be read (a worker calls it per range,
// once that range's rows are made).
func (w *wireDecoder) reset() { w.payloads = w.payloads[:0] }

func newWireDecoder() *wireDecoder { return &wireDecoder{authors: map[string]string{}} }

// decode fills s from raw (the read transaction's memory: the payload is
// copied out, into w's buffer until the next reset; nothing else refers to
// raw afterwards); origin is the range's origin, the string s.Origin takes
// when they are equal.
func (w *wireDecoder) decode(s *ledger.Stored, raw []byte, origin string) error {
	var body, hash, private []byte
	f := fields{b: raw}
	for f.next() {
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.n {
		case 1:
			body = f.v
		case 2:
			hash = f.v
		case 4:
			private = f.v
		}
	}
	if f.err != nil {
		return fmt.Errorf("decode entry: %w", f.err)
	}
	if len(hash) != ledger.HashSize {
		return fmt.Errorf("decode entry: hash is %d bytes, want %d", len(hash), ledger.HashSize)
	}
	var prev, payload, digest, at, org, author, subject []byte
	var seq, typ uint64
	f = fields{b: body}
	for f.next() {
		switch {
		case f.typ == protowire.BytesType && f.n == 1:
			org = f.v
		case f.typ == protowire.VarintType && f.n == 2:
			seq = f.u
		case f.typ == protowire.BytesType && f.n == 3:
			prev = f.v
		case f.typ == protowire.BytesType && f.n == 4:
			at = f.v
		case f.typ == protowire.BytesType && f.n == 5:
			author = f.v
		case f.typ == protowire.VarintType && f.n == 6:
			typ = f.u
		case f.typ == protowire.BytesType && f.n == 7:
			payload = f.v
		case f.typ == protowire.BytesType && f.n == 8:
			subject = f.v
		case f.typ == protowire.BytesType && f.n == 9:
			digest = f.v
		}
	}
	if f.err != nil {
		return fmt.Errorf("decode entry body: %w", f.err)
	}
	if len(prev) != ledger.HashSize {
		return fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(prev), ledger.HashSize)
	}
	if len(digest) > 0 && len(private) > 0 {
		// A private part's payload (field 2 of EntryPrivate), as
		// ledger.Decode gives it; without the private part, the public
		// (masked) payload.
		payload = []byte{}
		f = fields{b: private}
		for f.next() {
			if f.n == 2 && f.typ == protowire.BytesType {
				payload = f.v
			}
		}
		if f.err != nil {
			return fmt.Errorf("decode entry private part: %w", f.err)
		}
	}
	start := len(w.payloads)
	w.payloads = append(w.payloads, payload...)
	*s = ledger.Stored{Seq: seq, Type: sanziv1.EntryType(int32(typ)), Payload: w.payloads[start:len(w.payloads):len(w.payloads)], Redacted: len(digest) > 0 && len(private) == 0}
	if string(org) == origin {
		s.Origin = origin
	} else {
		s.Origin = string(org)
	}
	if len(subject) > 0 {
		s.Subject = string(subject)
	}
	if a, ok := w.authors[string(author)]; ok {
		s.Author = a
	} else {
		s.Author = string(author)
		if len(w.authors) >= 4096 {
			clear(w.authors)
		}
		w.authors[s.Author] = s.Author
	}
	if at != nil {
		var sec, nsec uint64
		f = fields{b: at}
		for f.next() {
			switch {
			case f.typ == protowire.VarintType && f.n == 1:
				sec = f.u
			case f.typ == protowire.VarintType && f.n == 2:
				nsec = f.u
			}
		}
		if f.err != nil {
			return fmt.Errorf("decode entry recorded_at: %w", f.err)
		}
		s.RecordedAt = time.Unix(int64(sec), int64(int32(nsec))).UTC()
	}
	return nil
}

// fields walks an encoded protobuf message as ledger.WireFields does (the
// same fields, values and errors), but as a loop the caller writes
// (for f.next() { switch f.n ... }) instead of a callback per field: the
// decoders read the entry, its body, its time, the payload and the
// counterparty of every entry this way, and the closures' indirect calls
// and captured variables were a tenth of the loader's CPU. Single-byte
// tags, lengths and varints, nearly every one here, are read inline.
type fields struct {
	b   []byte
	err error // why next stopped early; nil at the message's end
	// The field next read: its number and wire type, v for a
	// length-delimited value (a slice of the message), u for a varint.
	n   protowire.Number
	typ protowire.Type
	v   []byte
	u   uint64
}

// next reads the next field into f; false at the end of the message or
// at a malformed field (f.err).
func (f *fields) next() bool {
	b := f.b
	if len(b) == 0 {
		return false
	}
	var l int
	if c := b[0]; c >= 1<<3 && c < 0x80 { // a field number 1-15 (0 is refused by ConsumeTag)
		f.n, f.typ, l = protowire.Number(c>>3), protowire.Type(c&7), 1
	} else if f.n, f.typ, l = protowire.ConsumeTag(b); l < 0 {
		return f.fail(l)
	}
	b = b[l:]
	f.v, f.u = nil, 0
	switch f.typ {
	case protowire.BytesType:
		if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
			m := int(b[0])
			f.v, l = b[1:1+m:1+m], 1+m
		} else if f.v, l = protowire.ConsumeBytes(b); l < 0 {
			return f.fail(l)
		}
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			f.u, l = uint64(b[0]), 1
		} else if f.u, l = protowire.ConsumeVarint(b); l < 0 {
			return f.fail(l)
		}
	default:
		if l = protowire.ConsumeFieldValue(f.n, f.typ, b); l < 0 {
			return f.fail(l)
		}
	}
	f.b = b[l:]
	return true
}

func (f *fields) fail(code int) bool {
	f.err, f.b = protowire.ParseError(code), nil
	return false
}
