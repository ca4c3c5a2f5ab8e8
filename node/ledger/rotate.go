package ledger

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Errors of key rotation, revocation and expiry; wrap-compared with errors.Is.
var (
	// ErrKeyRevoked: the entries are signed by a key the district revoked,
	// after its revocation point (see RevokedError).
	ErrKeyRevoked = errors.New("ledger: signing key revoked")
	// ErrKeyExpired: the entries are signed by a key whose certificate had
	// expired when they were received.
	ErrKeyExpired = errors.New("ledger: signing key's certificate expired")
)

// KeyRefused says whether err refuses entries for their signing key
// (revoked, or its certificate expired) rather than for what they hold:
// a parent answers it as a key refusal, not as tampering.
func KeyRefused(err error) bool {
	return errors.Is(err, ErrKeyRevoked) || errors.Is(err, ErrKeyExpired)
}

// CertCheck checks the certificate a key rotation carries: that it chains to
// the district CA and was valid at the rotation's recorded time, names
// origin, and carries pub. It returns the certificate's NotAfter. pki.Rotation
// is the implementation; the ledger does not know the CA.
type CertCheck func(origin string, pub ed25519.PublicKey, certDER []byte, at time.Time) (notAfter time.Time, err error)

// Revocation is one key revoked by the district (an ENTRY_TYPE_KEY_REVOCATION
// entry of the district's chain, applied).
type Revocation struct {
	Origin      string `json:"origin"`
	Fingerprint string `json:"fingerprint"`
	AfterSeq    uint64 `json:"afterSeq"`
	Reason      string `json:"reason"`
	// Entry is the id of the district's entry that revoked it.
	Entry string `json:"entry"`
}

// Revocations says which keys the district revoked; the district reads them
// from its replicated state, a town from the district's chain it pulled.
type Revocations interface {
	Revoked(origin, fingerprint string) (Revocation, bool)
}

// RevokedError is a batch refused because its newest entry is signed by a
// revoked key after the revocation point.
type RevokedError struct {
	Revocation
	Seq uint64 // the refused entry
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("%s-%d is signed by key %s, revoked by the district after seq %d (%s: %s): re-key the node (sanzi village rekey) with a new certificate",
		e.Origin, e.Seq, e.Fingerprint, e.AfterSeq, e.Entry, e.Reason)
}

func (e *RevokedError) Unwrap() error { return ErrKeyRevoked }

// ExpiredError is a batch refused because its newest entry is signed by a
// key whose certificate had expired when the batch was received.
type ExpiredError struct {
	Origin, Fingerprint string
	Seq                 uint64 // the refused entry
	NotAfter            time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%v: %s-%d is signed by key %s, whose certificate expired on %s: re-key the node with a new certificate",
		ErrKeyExpired, e.Origin, e.Seq, e.Fingerprint, e.NotAfter.UTC().Format(time.DateOnly))
}

func (e *ExpiredError) Unwrap() error { return ErrKeyExpired }

// KeyOptions is what a parent checks beyond the chain itself when it
// receives entries; the zero value checks nothing more.
type KeyOptions struct {
	// CheckCert checks rotation certificates. Without it only rotations
	// signed by the old key are accepted, and their certificates are not
	// checked: enough to audit a chain's integrity offline, not to accept
	// a key change.
	CheckCert CertCheck
	// Revoked lists revoked keys; nil: none.
	Revoked Revocations
	// NotAfter is the end of the starting key's certificate (zero:
	// unknown, not checked).
	NotAfter time.Time
	// Now is the time of receipt, against which NotAfter is checked (zero:
	// expiry not checked). The receiver's clock, not the entry's
	// recorded_at: the signer writes recorded_at, so a stolen key could
	// backdate entries into its certificate's lifetime.
	Now time.Time
}

// WithKeys sets the checks a parent applies on receipt; call it before the
// first Check.
func (v *ChainVerifier) WithKeys(o KeyOptions) *ChainVerifier {
	v.opts, v.notAfter = o, o.NotAfter
	return v
}

// Key is the key the chain is signed with after the entries checked so far,
// with its certificate's NotAfter when known (after a rotation).
func (v *ChainVerifier) Key() (ed25519.PublicKey, time.Time) { return v.pub, v.notAfter }

// Rotation is a key change found in a chain.
type Rotation struct {
	Seq         uint64
	PublicKey   ed25519.PublicKey
	Certificate []byte
	// ByOldKey: signed by the key it replaces; otherwise by the new key,
	// vouched for by the certificate alone.
	ByOldKey bool
}

// Rotations are the key changes checked so far, in order.
func (v *ChainVerifier) Rotations() []Rotation { return v.rotations }

// revoked returns the revocation that refuses an entry at seq signed by pub.
func (v *ChainVerifier) revoked(pub ed25519.PublicKey, seq uint64) (Revocation, bool) {
	if v.opts.Revoked == nil {
		return Revocation{}, false
	}
	r, ok := v.opts.Revoked.Revoked(v.origin, keys.Fingerprint(pub))
	return r, ok && seq > r.AfterSeq
}

// rotate checks a KeyRotation entry (its link already checked) and switches
// the verifier to the new key. Signed by the old key (not revoked at this
// seq), it vouches for every entry before it; signed by the new key, the
// certificate must vouch for it, and then it vouches for the entries before
// it too: that is how a node whose key was revoked keeps the entries it
// made after the revocation point (they are its own, and only a node the
// district issued a new certificate to can make this entry). A key whose
// certificate expired may still sign its own rotation: a parent accepts the
// rotation on the new certificate, which it checks against the CA.
//
// TODO(issue 13): the entries a CA rotation keeps must reach the parent in
// the same push batch as the rotation (the outbox's 1 MiB batches hold
// thousands of entries); a node that made more than a batch's worth after
// its revocation point stays refused until the district revokes from a
// later seq.
func (v *ChainVerifier) rotate(s Link) error {
	var body sanziv1.EntryBody
	var rot sanziv1.KeyRotation
	if err := proto.Unmarshal(s.Body, &body); err != nil {
		return fmt.Errorf("key rotation: %w", err)
	}
	if err := proto.Unmarshal(s.Payload, &rot); err != nil {
		return fmt.Errorf("key rotation: %w", err)
	}
	pub := ed25519.PublicKey(rot.GetPublicKey())
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("key rotation names a %d-byte key, want %d", len(pub), ed25519.PublicKeySize)
	}
	_, oldRevoked := v.revoked(v.pub, s.Seq)
	byOld := !oldRevoked && ed25519.Verify(v.pub, s.Hash[:], s.Signature)
	if !byOld && !ed25519.Verify(pub, s.Hash[:], s.Signature) {
		if oldRevoked {
			return errors.New("key rotation is not signed by its new key, and the old key is revoked at this seq")
		}
		return errors.New("key rotation is signed neither by the key it replaces nor by its new key")
	}
	if r, ok := v.revoked(pub, s.Seq); ok {
		return fmt.Errorf("key rotation names key %s, revoked by the district (%s: %s)", r.Fingerprint, r.Entry, r.Reason)
	}
	var notAfter time.Time
	switch {
	case v.opts.CheckCert != nil:
		at := body.GetRecordedAt().AsTime()
		na, err := v.opts.CheckCert(v.origin, pub, rot.GetCertificate(), at)
		if err != nil {
			return fmt.Errorf("key rotation's certificate: %w", err)
		}
		notAfter = na
	case !byOld:
		return errors.New("key rotation signed by its new key needs the district CA to check its certificate, and none was given")
	}
	v.rotations = append(v.rotations, Rotation{Seq: s.Seq, PublicKey: pub, Certificate: rot.GetCertificate(), ByOldKey: byOld})
	v.pub, v.notAfter, v.last = pub, notAfter, nil
	return nil
}

// finishKeys refuses a batch whose newest entry is signed by a key revoked
// before it, or whose certificate had expired on receipt.
func (v *ChainVerifier) finishKeys() error {
	if v.last == nil {
		return nil
	}
	if r, ok := v.revoked(v.pub, v.last.Seq); ok {
		return &RevokedError{Revocation: r, Seq: v.last.Seq}
	}
	if !v.opts.Now.IsZero() && !v.notAfter.IsZero() && v.opts.Now.After(v.notAfter) {
		return &ExpiredError{Origin: v.origin, Seq: v.last.Seq, Fingerprint: keys.Fingerprint(v.pub), NotAfter: v.notAfter}
	}
	return nil
}

// RevocationOf reads the revocation a stored entry makes: an entry of type
// KEY_REVOCATION in a district's own chain (…000000) naming a 12-digit
// origin and a fingerprint. Anything else revokes nothing (ok false). The
// district's state and a town's view both read revocations through it, so
// they agree on what an entry revokes.
func RevocationOf(s Link) (Revocation, bool) {
	if s.Type != sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION || len(s.Origin) != 12 || s.Origin[6:] != "000000" {
		return Revocation{}, false
	}
	var m sanziv1.KeyRevocation
	if err := proto.Unmarshal(s.Payload, &m); err != nil || len(m.GetOrigin()) != 12 || !keys.IsFingerprint(m.GetFingerprint()) {
		return Revocation{}, false
	}
	return Revocation{Origin: m.GetOrigin(), Fingerprint: m.GetFingerprint(), AfterSeq: m.GetAfterSeq(), Reason: m.GetReason(),
		Entry: EntryID(s.Origin, s.Seq)}, true
}

// LastRotation returns the last key rotation of origin's chain as stored
// here (ok false: the chain never rotated, and is signed by its first key
// throughout). The stored chain was verified when it was written, so the
// key it names is the one the chain is signed with at its head: what a
// node that follows the chain verifies the next entries with, and what a
// rekey rotates from. ByOldKey is not known from the stored entry and is
// left false.
func (l *Ledger) LastRotation(origin string) (r Rotation, ok bool, err error) {
	var bad error
	err = l.Range(origin, 1, 0, func(s *Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION {
			return true
		}
		var m sanziv1.KeyRotation
		if bad = proto.Unmarshal(s.Payload, &m); bad != nil {
			bad = fmt.Errorf("read key rotation %s: %w", s.ID(), bad)
			return false
		}
		r, ok = Rotation{Seq: s.Seq, PublicKey: ed25519.PublicKey(m.GetPublicKey()), Certificate: m.GetCertificate()}, true
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return Rotation{}, false, fmt.Errorf("find the key rotations of %s: %w", origin, err)
	}
	return r, ok, nil
}
