package ledger

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// An entry that holds personal data is split when it is sealed (issue 15,
// federation/public/DESIGN.md): its body's payload holds the payload masked
// (what the public may see), the whole payload sits in Entry.private with a
// random salt, outside the hash, and the body's private_digest (hashed and
// signed) commits to it. Every node keeps and sends the private part, so
// every reader reads the whole payload as before; the public site strips it,
// and the entry's hash still verifies.

// SaltSize is the length of an EntryPrivate's salt: enough that nobody
// finds an ID number from the digest by hashing every candidate.
const SaltSize = 16

// Masker is the seam to the payload types (node/entries) and the masking
// rule (node/authz), which the ledger does not know. It is a hook rather
// than an import so that node/ledger stays below both.
type Masker interface {
	// Mask returns payload, of type t recorded at at, as the public may
	// see it, and whether that differs from payload (only then is the
	// entry split).
	Mask(t sanziv1.EntryType, payload []byte, at time.Time) (public []byte, differs bool, err error)
	// Same reports whether a and b, payloads of type t, hold the same
	// message: compared as messages, not bytes, so encoders may differ.
	Same(t sanziv1.EntryType, a, b []byte) (bool, error)
}

// PublicChecker is a Masker that also checks a split entry's two parts in
// one pass: whether public is private masked at at, exactly as Mask then
// Same decide it and failing where they fail (maskErr where Mask would,
// compareErr where Same would), at less cost. A ChainVerifier uses it when
// its Masker has it: every town and district member checks every entry
// pushed to it so.
type PublicChecker interface {
	PublicMasked(t sanziv1.EntryType, private, public []byte, at time.Time) (same bool, maskErr, compareErr error)
}

// PrivateOptions says how a ChainVerifier checks private parts.
type PrivateOptions struct {
	// Masker, when set, checks that a split entry's public payload is its
	// private payload masked; without it only the digest is checked.
	Masker Masker
	// AllowRedacted takes entries whose private part was stripped: for
	// the public proof only. Every parent refuses them.
	AllowRedacted bool
}

// WithPrivate sets how private parts are checked; it returns v.
func (v *ChainVerifier) WithPrivate(o PrivateOptions) *ChainVerifier {
	v.priv = o
	return v
}

// privatePayload is the payload readers get: the private part's when the
// body has a digest and the private part is here, else the body's
// (redacted reports a digest without a private part). The digest is not
// checked here: a ChainVerifier does that.
func privatePayload(digest, private, public []byte) (payload []byte, redacted bool, err error) {
	switch {
	case len(digest) == 0:
		return public, false, nil
	case len(private) == 0:
		return public, true, nil
	}
	payload = []byte{}
	if err := WireFields(private, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if n == 2 && typ == protowire.BytesType {
			payload = v
		}
	}); err != nil {
		return nil, false, fmt.Errorf("decode entry private part: %w", err)
	}
	return payload, false, nil
}

// split makes the parts of rec's entry: the body's payload, and when m
// masks something, the encoded EntryPrivate and its digest.
func split(m Masker, rec Record, at time.Time) (public, private, digest []byte, err error) {
	if m == nil {
		return rec.Payload, nil, nil, nil
	}
	public, differs, err := m.Mask(rec.Type, rec.Payload, at)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mask the personal data of the %s payload: %w", rec.Type, err)
	}
	if !differs {
		return rec.Payload, nil, nil, nil
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, nil, fmt.Errorf("salt the private part: %w", err)
	}
	private, err = proto.MarshalOptions{Deterministic: true}.Marshal(&sanziv1.EntryPrivate{Salt: salt, Payload: rec.Payload})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode the private part: %w", err)
	}
	sum := sha256.Sum256(private)
	return public, private, sum[:], nil
}

// checkPrivate checks s's private part against its body: present (unless
// redacted entries are allowed), matching the digest, and masking to the
// public payload.
func (v *ChainVerifier) checkPrivate(s Link) error {
	switch {
	case len(s.Digest) == 0 && len(s.Private) > 0:
		return errors.New("it carries a private part its body does not commit to (no private_digest)")
	case len(s.Digest) == 0:
		return nil
	case len(s.Digest) != sha256.Size:
		return fmt.Errorf("its private_digest is %d bytes, want %d", len(s.Digest), sha256.Size)
	case len(s.Private) == 0 && v.priv.AllowRedacted:
		return nil
	case len(s.Private) == 0:
		return errors.New("its private part is missing (a redacted entry, as the public site serves it): only a public proof takes one")
	}
	if sum := sha256.Sum256(s.Private); !bytes.Equal(sum[:], s.Digest) {
		return fmt.Errorf("its private part does not match the digest its body commits to (committed %x, computed %x)", s.Digest[:6], sum[:6])
	}
	if v.priv.Masker == nil {
		return nil
	}
	var ts timestamppb.Timestamp
	if err := proto.Unmarshal(s.recordedAt, &ts); err != nil {
		return fmt.Errorf("read recorded_at: %w", err)
	}
	same, maskErr, compareErr := v.maskedIs(s.Type, s.Payload, s.PublicPayload, ts.AsTime())
	if maskErr != nil {
		return fmt.Errorf("mask its private payload: %w", maskErr)
	}
	if compareErr != nil {
		return fmt.Errorf("compare its public payload with its private one masked: %w", compareErr)
	}
	if !same {
		return errors.New("its public payload is not its private payload masked: the two parts disagree")
	}
	return nil
}

// maskedIs reports whether public is private masked at at: through the
// Masker's PublicChecker when it has one, else by Mask then Same.
func (v *ChainVerifier) maskedIs(t sanziv1.EntryType, private, public []byte, at time.Time) (same bool, maskErr, compareErr error) {
	if c, ok := v.priv.Masker.(PublicChecker); ok {
		return c.PublicMasked(t, private, public, at)
	}
	masked, _, err := v.priv.Masker.Mask(t, private, at)
	if err != nil {
		return false, err, nil
	}
	same, err = v.priv.Masker.Same(t, masked, public)
	return same, nil, err
}

// Redact returns the encoded entry raw without its private part, as the
// public site serves it: the body, its hash and signature are the same
// bytes, so the entry still verifies, and a split entry holds its personal
// data only masked. An entry without a private part is returned as is.
func Redact(raw []byte) ([]byte, error) {
	l, err := Peek(raw)
	if err != nil {
		return nil, err
	}
	if len(l.Private) == 0 {
		return raw, nil
	}
	out, err := proto.Marshal(&sanziv1.Entry{Body: l.Body, Hash: l.Hash[:], Signature: l.Signature})
	if err != nil {
		return nil, fmt.Errorf("encode the redacted entry: %w", err)
	}
	return out, nil
}

// Unmasked reports whether s holds personal data in its hashed body: an
// entry sealed without a split (before it existed, or by a tool that does
// not split) whose payload m would mask. Its bytes cannot be served to the
// public without that data. An entry m cannot read counts as unmasked.
func Unmasked(s *Stored, m Masker) bool {
	if len(s.Digest) > 0 {
		return false
	}
	_, differs, err := m.Mask(s.Type, s.PublicPayload, s.RecordedAt)
	return differs || err != nil
}
