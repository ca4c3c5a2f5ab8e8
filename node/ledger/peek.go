package ledger

import (
	"crypto/sha256"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Link is the part of an entry that places it in its chain. Peek reads it
// straight from the wire bytes without decoding the payload, which is what
// the district needs to check and store hundreds of thousands of entries a
// second; Decode is for when the payload matters.
type Link struct {
	Origin   string
	Seq      uint64
	PrevHash [HashSize]byte
	// Hash is the hash the entry claims; BodyHash computes what it should
	// be. They are equal in a genuine entry.
	Hash [HashSize]byte
	// Body is the encoded EntryBody, as stored.
	Body []byte
	// Signature over Hash by the origin's key.
	Signature []byte
}

// BodyHash is SHA-256 of the stored body bytes (never of a re-encoding).
func (l *Link) BodyHash() [HashSize]byte { return sha256.Sum256(l.Body) }

// Peek parses the chain fields of an encoded Entry. Like proto3 decoding,
// the last occurrence of a field wins and unknown fields are skipped.
func Peek(raw []byte) (Link, error) {
	var l Link
	var hash []byte
	err := fields(raw, func(n protowire.Number, v []byte, _ uint64, isBytes bool) {
		switch {
		case !isBytes:
		case n == 1:
			l.Body = v
		case n == 2:
			hash = v
		case n == 3:
			l.Signature = v
		}
	})
	if err != nil {
		return l, fmt.Errorf("decode entry: %w", err)
	}
	if len(hash) != HashSize {
		return l, fmt.Errorf("decode entry: hash is %d bytes, want %d", len(hash), HashSize)
	}
	copy(l.Hash[:], hash)
	var prev []byte
	err = fields(l.Body, func(n protowire.Number, v []byte, u uint64, isBytes bool) {
		switch {
		case n == 1 && isBytes:
			l.Origin = string(v)
		case n == 2 && !isBytes:
			l.Seq = u
		case n == 3 && isBytes:
			prev = v
		}
	})
	if err != nil {
		return l, fmt.Errorf("decode entry body: %w", err)
	}
	if len(prev) != HashSize {
		return l, fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(prev), HashSize)
	}
	copy(l.PrevHash[:], prev)
	return l, nil
}

// fields walks a protobuf message, calling fn with each length-delimited
// value (v, isBytes) or varint (u) by field number; other wire types are
// skipped. A field of the wrong wire type is unknown to proto decoding, so
// callers ignore it the same way.
func fields(b []byte, fn func(n protowire.Number, v []byte, u uint64, isBytes bool)) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		switch typ {
		case protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			fn(n, v, 0, true)
			b = b[l:]
		case protowire.VarintType:
			u, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			fn(n, nil, u, false)
			b = b[l:]
		default:
			l := protowire.ConsumeFieldValue(n, typ, b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
		}
	}
	return nil
}
