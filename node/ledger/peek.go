package ledger

import (
	"crypto/sha256"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
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
	// Type and Payload say what the entry holds, for a reader that needs
	// only some types' payloads. Payload is the whole one: the private
	// part's when the entry was split and holds it, else the body's.
	Type    sanziv1.EntryType
	Payload []byte
	// PublicPayload is the body's payload (a slice of Body), masked when
	// the entry was split; Digest the body's private_digest; Private the
	// encoded EntryPrivate outside the hash (empty when stripped).
	PublicPayload []byte
	Digest        []byte
	Private       []byte
	// recordedAt is the body's encoded timestamp, read only to check a
	// split entry's masking.
	recordedAt []byte
}

// Redacted reports whether the entry was split and its private part
// stripped: only a public proof takes such an entry.
func (l *Link) Redacted() bool { return len(l.Digest) > 0 && len(l.Private) == 0 }

// BodyHash is SHA-256 of the stored body bytes (never of a re-encoding).
func (l *Link) BodyHash() [HashSize]byte { return sha256.Sum256(l.Body) }

// Peek parses the chain fields of an encoded Entry. Like proto3 decoding,
// the last occurrence of a field wins and unknown fields are skipped.
func Peek(raw []byte) (Link, error) { return peek(raw, nil) }

// Origins peeks at many entries and keeps one copy of each origin name:
// a push or a Raft entry holds thousands of entries of a few origins, and
// a string per entry was the largest allocation of the district's apply.
// Not safe for concurrent use; the zero value is ready.
type Origins struct{ seen map[string]string }

// Peek is Peek, with the origin name shared with earlier entries.
func (o *Origins) Peek(raw []byte) (Link, error) {
	if o.seen == nil {
		o.seen = map[string]string{}
	}
	return peek(raw, o.seen)
}

func peek(raw []byte, seen map[string]string) (Link, error) {
	var l Link
	var hash []byte
	err := WireFields(raw, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch {
		case typ != protowire.BytesType:
		case n == 1:
			l.Body = v
		case n == 2:
			hash = v
		case n == 3:
			l.Signature = v
		case n == 4:
			l.Private = v
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
	err = WireFields(l.Body, func(n protowire.Number, typ protowire.Type, v []byte, u uint64) {
		switch {
		case n == 1 && typ == protowire.BytesType:
			if o, ok := seen[string(v)]; ok {
				l.Origin = o
				return
			}
			l.Origin = string(v)
			if seen != nil {
				seen[l.Origin] = l.Origin
			}
		case n == 2 && typ == protowire.VarintType:
			l.Seq = u
		case n == 3 && typ == protowire.BytesType:
			prev = v
		case n == 4 && typ == protowire.BytesType:
			l.recordedAt = v
		case n == 9 && typ == protowire.BytesType:
			l.Digest = v
		case n == 6 && typ == protowire.VarintType:
			l.Type = sanziv1.EntryType(u)
		case n == 7 && typ == protowire.BytesType:
			l.Payload = v
		}
	})
	if err != nil {
		return l, fmt.Errorf("decode entry body: %w", err)
	}
	if len(prev) != HashSize {
		return l, fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(prev), HashSize)
	}
	copy(l.PrevHash[:], prev)
	l.PublicPayload = l.Payload
	if l.Payload, _, err = privatePayload(l.Digest, l.Private, l.PublicPayload); err != nil {
		return l, err
	}
	return l, nil
}

// WireFields walks an encoded protobuf message without copying: fn gets
// each field's number and wire type, with v for length-delimited values (a
// slice of b) and u for varints; other wire types are skipped. Callers that
// read a field only with the wire type its schema gives skip it otherwise,
// as proto decoding treats a mismatched field as unknown.
func WireFields(b []byte, fn func(n protowire.Number, typ protowire.Type, v []byte, u uint64)) error {
	f := FieldsOf(b)
	for f.Next() {
		fn(f.N, f.Typ, f.V, f.U)
	}
	return f.Err()
}
