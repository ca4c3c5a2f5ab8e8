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
	f := ledger.FieldsOf(raw)
	for f.Next() {
		if f.Typ != protowire.BytesType {
			continue
		}
		switch f.N {
		case 1:
			body = f.V
		case 2:
			hash = f.V
		case 4:
			private = f.V
		}
	}
	if f.Err() != nil {
		return fmt.Errorf("decode entry: %w", f.Err())
	}
	if len(hash) != ledger.HashSize {
		return fmt.Errorf("decode entry: hash is %d bytes, want %d", len(hash), ledger.HashSize)
	}
	var prev, payload, digest, at, org, author, subject []byte
	var seq, typ uint64
	f = ledger.FieldsOf(body)
	for f.Next() {
		switch {
		case f.Typ == protowire.BytesType && f.N == 1:
			org = f.V
		case f.Typ == protowire.VarintType && f.N == 2:
			seq = f.U
		case f.Typ == protowire.BytesType && f.N == 3:
			prev = f.V
		case f.Typ == protowire.BytesType && f.N == 4:
			at = f.V
		case f.Typ == protowire.BytesType && f.N == 5:
			author = f.V
		case f.Typ == protowire.VarintType && f.N == 6:
			typ = f.U
		case f.Typ == protowire.BytesType && f.N == 7:
			payload = f.V
		case f.Typ == protowire.BytesType && f.N == 8:
			subject = f.V
		case f.Typ == protowire.BytesType && f.N == 9:
			digest = f.V
		}
	}
	if f.Err() != nil {
		return fmt.Errorf("decode entry body: %w", f.Err())
	}
	if len(prev) != ledger.HashSize {
		return fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(prev), ledger.HashSize)
	}
	if len(digest) > 0 && len(private) > 0 {
		// A private part's payload (field 2 of EntryPrivate), as
		// ledger.Decode gives it; without the private part, the public
		// (masked) payload.
		payload = []byte{}
		f = ledger.FieldsOf(private)
		for f.Next() {
			if f.N == 2 && f.Typ == protowire.BytesType {
				payload = f.V
			}
		}
		if f.Err() != nil {
			return fmt.Errorf("decode entry private part: %w", f.Err())
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
		f = ledger.FieldsOf(at)
		for f.Next() {
			switch {
			case f.Typ == protowire.VarintType && f.N == 1:
				sec = f.U
			case f.Typ == protowire.VarintType && f.N == 2:
				nsec = f.U
			}
		}
		if f.Err() != nil {
			return fmt.Errorf("decode entry recorded_at: %w", f.Err())
		}
		s.RecordedAt = time.Unix(int64(sec), int64(int32(nsec))).UTC()
	}
	return nil
}
