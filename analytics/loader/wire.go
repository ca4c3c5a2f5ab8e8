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
	if err := ledger.WireFields(raw, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if typ != protowire.BytesType {
			return
		}
		switch n {
		case 1:
			body = v
		case 2:
			hash = v
		case 4:
			private = v
		}
	}); err != nil {
		return fmt.Errorf("decode entry: %w", err)
	}
	if len(hash) != ledger.HashSize {
		return fmt.Errorf("decode entry: hash is %d bytes, want %d", len(hash), ledger.HashSize)
	}
	var prev, payload, digest, at, org, author, subject []byte
	var seq, typ uint64
	if err := ledger.WireFields(body, func(n protowire.Number, wt protowire.Type, v []byte, u uint64) {
		switch {
		case wt == protowire.BytesType && n == 1:
			org = v
		case wt == protowire.VarintType && n == 2:
			seq = u
		case wt == protowire.BytesType && n == 3:
			prev = v
		case wt == protowire.BytesType && n == 4:
			at = v
		case wt == protowire.BytesType && n == 5:
			author = v
		case wt == protowire.VarintType && n == 6:
			typ = u
		case wt == protowire.BytesType && n == 7:
			payload = v
		case wt == protowire.BytesType && n == 8:
			subject = v
		case wt == protowire.BytesType && n == 9:
			digest = v
		}
	}); err != nil {
		return fmt.Errorf("decode entry body: %w", err)
	}
	if len(prev) != ledger.HashSize {
		return fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(prev), ledger.HashSize)
	}
	if len(digest) > 0 && len(private) > 0 {
		// A private part's payload (field 2 of EntryPrivate), as
		// ledger.Decode gives it; without the private part, the public
		// (masked) payload.
		payload = []byte{}
		if err := ledger.WireFields(private, func(n protowire.Number, wt protowire.Type, v []byte, _ uint64) {
			if n == 2 && wt == protowire.BytesType {
				payload = v
			}
		}); err != nil {
			return fmt.Errorf("decode entry private part: %w", err)
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
		if err := ledger.WireFields(at, func(n protowire.Number, wt protowire.Type, _ []byte, u uint64) {
			switch {
			case wt == protowire.VarintType && n == 1:
				sec = u
			case wt == protowire.VarintType && n == 2:
				nsec = u
			}
		}); err != nil {
			return fmt.Errorf("decode entry recorded_at: %w", err)
		}
		s.RecordedAt = time.Unix(int64(sec), int64(int32(nsec))).UTC()
	}
	return nil
}
