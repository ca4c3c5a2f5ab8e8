package ledger

import "google.golang.org/protobuf/encoding/protowire"

// Fields walks an encoded protobuf message without copying, as a loop the
// caller writes (for f.Next() { switch f.N ... }); WireFields is the same
// walk with a callback per field. The analytics loader decodes every
// entry of a district this way: the callbacks' indirect calls and
// captured variables were a tenth of its CPU. Single-byte tags, lengths
// and varints, nearly every one, are read inline.
type Fields struct {
	b   []byte
	err error // why Next stopped early; nil at the message's end
	// The field Next read: its number and wire type, V for a
	// length-delimited value (a slice of the message), U for a varint;
	// other wire types are skipped.
	N   protowire.Number
	Typ protowire.Type
	V   []byte
	U   uint64
}

// FieldsOf walks the message b.
func FieldsOf(b []byte) Fields { return Fields{b: b} }

// Err says why Next stopped early: nil at the message's end.
func (f *Fields) Err() error { return f.err }

// Next reads the next field into f; false at the end of the message or
// at a malformed field (Err).
func (f *Fields) Next() bool {
	b := f.b
	if len(b) == 0 {
		return false
	}
	var l int
	if c := b[0]; c >= 1<<3 && c < 0x80 { // a field number 1-15 (0 is refused by ConsumeTag)
		f.N, f.Typ, l = protowire.Number(c>>3), protowire.Type(c&7), 1
	} else if f.N, f.Typ, l = protowire.ConsumeTag(b); l < 0 {
		return f.fail(l)
	}
	b = b[l:]
	f.V, f.U = nil, 0
	switch f.Typ {
	case protowire.BytesType:
		if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
			m := int(b[0])
			f.V, l = b[1:1+m:1+m], 1+m
		} else if f.V, l = protowire.ConsumeBytes(b); l < 0 {
			return f.fail(l)
		}
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			f.U, l = uint64(b[0]), 1
		} else if f.U, l = protowire.ConsumeVarint(b); l < 0 {
			return f.fail(l)
		}
	default:
		if l = protowire.ConsumeFieldValue(f.N, f.Typ, b); l < 0 {
			return f.fail(l)
		}
	}
	f.b = b[l:]
	return true
}

func (f *Fields) fail(code int) bool {
	f.err, f.b = protowire.ParseError(code), nil
	return false
}
