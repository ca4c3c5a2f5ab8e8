package entries

import (
	"bytes"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Masker splits personal data out of entries (ledger.Masker): it decodes a
// payload by its type and masks it with authz.MaskPublic, the masking the
// public pages show. Every node seals and checks entries through it, so an
// entry that holds a resident's ID number, bank account, phone or a private
// person's name keeps them outside its hash, and the public site can serve
// the entry without them. Types this binary does not know are never split.
type Masker struct{}

// Mask returns payload as the public may see it and whether that differs.
func (Masker) Mask(t sanziv1.EntryType, payload []byte, at time.Time) ([]byte, bool, error) {
	m, err := Decode(t, payload)
	if err != nil || m == nil {
		return payload, false, err
	}
	masked := proto.Clone(m)
	authz.MaskPublic(masked, at)
	if proto.Equal(m, masked) {
		return payload, false, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(masked)
	if err != nil {
		return nil, false, fmt.Errorf("encode the masked %s payload: %w", t, err)
	}
	return b, true, nil
}

// Same reports whether a and b decode to equal messages of type t. A type
// this binary does not know cannot be compared: it says so rather than
// take an entry it cannot check.
func (Masker) Same(t sanziv1.EntryType, a, b []byte) (bool, error) {
	ma, err := Decode(t, a)
	if err != nil {
		return false, err
	}
	if ma == nil {
		return false, unknownType(t)
	}
	if bytes.Equal(a, b) {
		// The usual case: the public payload is the deterministic
		// encoding Mask made when the entry was sealed, byte for byte.
		// Decoding it again and comparing was a fifth of a district's
		// check of a town's push (issue 17).
		return true, nil
	}
	mb, err := Decode(t, b)
	if err != nil {
		return false, err
	}
	return proto.Equal(ma, mb), nil
}

// PublicMasked reports whether public is the payload private, of type t
// recorded at at, masked: what Mask then Same say of them, with the same
// outcome and errors (maskErr where Mask fails, compareErr where Same
// does), in one pass (ledger.PublicChecker). Mask decoded private, cloned
// it, compared the clone masked with it and encoded it; Same decoded that
// encoding again: together a tenth of a district's CPU and a town's while
// a town forwards its villages' entries (issue 17). Here private is
// decoded once and masked in place, and its deterministic encoding is
// compared with public as bytes, which is the usual case (public is the
// encoding Mask made at sealing); only when the bytes differ is public
// decoded and compared as a message.
func (Masker) PublicMasked(t sanziv1.EntryType, private, public []byte, at time.Time) (same bool, maskErr, compareErr error) {
	m, err := Decode(t, private)
	if err != nil {
		return false, err, nil
	}
	if m == nil {
		return false, nil, unknownType(t)
	}
	authz.MaskPublic(m, at)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("encode the masked %s payload: %w", t, err), nil
	}
	if bytes.Equal(b, public) {
		return true, nil, nil
	}
	mp, err := Decode(t, public)
	if err != nil {
		return false, nil, err
	}
	return proto.Equal(m, mp), nil, nil
}

// unknownType is Same's refusal of a type this binary does not know.
func unknownType(t sanziv1.EntryType) error {
	return fmt.Errorf("entry type %s is unknown to this node: its public payload cannot be compared with its private one", t)
}
