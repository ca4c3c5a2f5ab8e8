package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// HashSize is the length of an entry hash (SHA-256).
const HashSize = sha256.Size

// Stored is an entry as it sits in a chain: the raw bytes that were hashed,
// signed and stored, and the decoded fields for the code that reads it.
type Stored struct {
	Origin     string
	Seq        uint64
	PrevHash   [HashSize]byte
	Hash       [HashSize]byte
	RecordedAt time.Time
	Author     string
	Type       sanziv1.EntryType
	// Payload is the whole payload: the private one (personal data
	// unmasked) when the entry was split and its private part is here,
	// else the body's.
	Payload []byte
	// PublicPayload is the body's payload, the one the hash covers: the
	// payload masked when the entry was split (Digest set), else Payload.
	PublicPayload []byte
	// Digest is the body's private_digest: set when the entry holds
	// personal data, kept outside the hash (private.go).
	Digest []byte
	// Redacted: the entry has a Digest but no private part (the public
	// site strips it); Payload is then the masked one.
	Redacted bool
	// Subject is the id of the entry this one is about ("" if none).
	Subject string
	// Raw is the encoded Entry (body, hash, signature) exactly as stored.
	Raw []byte
	// Signature is the origin's Ed25519 signature over Hash; empty when a
	// later entry of the same append signs for it (Signed).
	Signature []byte
}

// Signed reports whether the entry carries its own signature. An entry
// without one is vouched for by the next signed entry of its chain, whose
// body links to it through prev_hash (MaxUnsignedRun).
func (s *Stored) Signed() bool { return len(s.Signature) > 0 }

// ID is the stable name of an entry, "<origin>-<seq>".
func (s *Stored) ID() string { return EntryID(s.Origin, s.Seq) }

// Meta is the client-facing description of the entry.
func (s *Stored) Meta() *sanziv1.EntryMeta {
	return &sanziv1.EntryMeta{
		Id:         s.ID(),
		Origin:     s.Origin,
		Seq:        s.Seq,
		Hash:       hex.EncodeToString(s.Hash[:]),
		RecordedAt: timestampOf(s.RecordedAt),
		Author:     s.Author,
		Type:       s.Type,
	}
}

// EntryID names the entry at seq of origin.
func EntryID(origin string, seq uint64) string { return origin + "-" + strconv.FormatUint(seq, 10) }

// EntryKey is the index key of the entry at seq of origin, as the books'
// and the workflow archive's indexes have it: origin, then seq big endian,
// so that keys sort in (origin, seq) order.
func EntryKey(origin string, seq uint64) []byte {
	k := make([]byte, len(origin)+8)
	copy(k, origin)
	binary.BigEndian.PutUint64(k[len(origin):], seq)
	return k
}

// IDKey is EntryKey of the entry id names, for the archives that key what
// they keep by entry (workflow's, the watcher's), so that they list in the
// books' order and a page token means the same. An id that is not an entry
// id (a test's) is its own bytes.
func IDKey(id string) []byte {
	o, seq, err := ParseEntryID(id)
	if err != nil {
		return []byte(id)
	}
	return EntryKey(o, seq)
}

// ParseEntryID splits an entry id into origin and seq.
func ParseEntryID(id string) (origin string, seq uint64, err error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, fmt.Errorf("entry id %q: want <origin>-<seq>", id)
	}
	seq, err = strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, fmt.Errorf("entry id %q: seq must be a whole number from 1", id)
	}
	return id[:i], seq, nil
}

// Decode parses a stored entry without trusting it: it checks only that the
// bytes are well formed. Use a ChainVerifier to check that they are genuine.
func Decode(raw []byte) (*Stored, error) {
	var e sanziv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("decode entry: %w", err)
	}
	var b sanziv1.EntryBody
	if err := proto.Unmarshal(e.GetBody(), &b); err != nil {
		return nil, fmt.Errorf("decode entry body: %w", err)
	}
	if len(e.GetHash()) != HashSize {
		return nil, fmt.Errorf("decode entry: hash is %d bytes, want %d", len(e.GetHash()), HashSize)
	}
	if len(b.GetPrevHash()) != HashSize {
		return nil, fmt.Errorf("decode entry: prev_hash is %d bytes, want %d", len(b.GetPrevHash()), HashSize)
	}
	payload, redacted, err := privatePayload(b.GetPrivateDigest(), e.GetPrivate(), b.GetPayload())
	if err != nil {
		return nil, err
	}
	s := &Stored{
		Origin:        b.GetOrigin(),
		Seq:           b.GetSeq(),
		Author:        b.GetAuthor(),
		Type:          b.GetType(),
		Payload:       payload,
		PublicPayload: b.GetPayload(),
		Digest:        b.GetPrivateDigest(),
		Redacted:      redacted,
		Subject:       b.GetSubject(),
		Raw:           raw,
		Signature:     e.GetSignature(),
	}
	if ts := b.GetRecordedAt(); ts != nil {
		s.RecordedAt = ts.AsTime()
	}
	copy(s.Hash[:], e.GetHash())
	copy(s.PrevHash[:], b.GetPrevHash())
	return s, nil
}

// VerifyError names the first entry of a chain that is not what it should be.
type VerifyError struct {
	Origin  string `json:"origin"`
	Seq     uint64 `json:"seq"`
	Problem string `json:"problem"`
	// Failure says which check failed, for a parent recording the entry
	// as evidence (issue 18).
	Failure Failure `json:"failure,omitempty"`
}

// Failure is which check of a ChainVerifier an entry failed.
type Failure string

// The checks an entry can fail. A stored chain can also miss an entry or
// hold bytes that do not decode; a pushed one can name another origin.
const (
	FailureHash      Failure = "hash"      // the body does not hash to the stated hash
	FailureSignature Failure = "signature" // the signature does not verify with the origin's key
	FailureLink      Failure = "link"      // prev_hash does not link to the entry before
	FailureSeq       Failure = "seq"       // the entry names the wrong seq or origin
	FailureMissing   Failure = "missing"   // a seq is missing in the stored chain
	FailureDecode    Failure = "decode"    // the bytes are not an entry
	FailureRotation  Failure = "rotation"  // a key rotation is not signed or certified as it must be
	FailurePrivate   Failure = "private"   // the private part is missing, does not match its digest, or the public payload is not it masked
	// FailureUnsigned: the stretch ends in entries no signature covers
	// (a batch cut inside an append, a chain whose signed entry is gone).
	// It is not evidence of an edit at the source: a parent refuses the
	// batch without recording a TAMPER finding.
	FailureUnsigned Failure = "unsigned"
)

// MaxUnsignedRun is the most entries in a row a chain may hold without a
// signature; the next one must be signed, and its signature vouches for
// them through the hash links. The ledger signs the last entry of each
// append (and one every MaxUnsignedRun+1 in a longer one), so a receiver
// never waits more than this many entries for a signature, and a sender
// that extends a batch to the end of its append adds at most this many.
const MaxUnsignedRun = 63

func (e *VerifyError) Error() string {
	return fmt.Sprintf("chain %s broken at seq %d: %s", e.Origin, e.Seq, e.Problem)
}

// ChainVerifier checks a stretch of one origin's chain entry by entry, in
// order. Links and hashes are checked on every entry; signatures on every
// signed entry when EverySignature is set, otherwise only on the last one
// (which, through the hash links, vouches for all before it). An entry may
// carry no signature when a later one of the stretch signs for it: in both
// modes a run of unsigned entries is at most MaxUnsignedRun long, must end
// in a signed entry that is not a key rotation (the key in force over the
// run signs it), and the stretch must not end inside one (Finish). A key
// rotation entry is always signed, has its own signature checked and
// switches the key for the entries after it (rotate.go).
type ChainVerifier struct {
	origin         string
	pub            ed25519.PublicKey
	everySignature bool
	nextSeq        uint64
	prevHash       [HashSize]byte
	last           *Link
	lastLink       Link
	count          int
	// unsigned counts the entries since the last signed one, the first
	// of them at unsignedFrom. The stretch starts after a signed entry (a
	// receiver's head, or nothing).
	unsigned     int
	unsignedFrom uint64
	// Key changes and receipt checks (rotate.go).
	opts      KeyOptions
	notAfter  time.Time
	rotations []Rotation
	// Private parts (private.go).
	priv PrivateOptions
}

// NewChainVerifier starts a verifier for origin that expects the entry at
// fromSeq to link to prevHash (zero for seq 1).
func NewChainVerifier(origin string, pub ed25519.PublicKey, fromSeq uint64, prevHash [HashSize]byte, everySignature bool) *ChainVerifier {
	return &ChainVerifier{origin: origin, pub: pub, everySignature: everySignature, nextSeq: fromSeq, prevHash: prevHash}
}

// Next checks the next entry; key is the seq it was stored under (0 when the
// entry did not come from a keyed store).
func (v *ChainVerifier) Next(key uint64, raw []byte) (Link, error) {
	fail := func(f Failure, format string, a ...any) (Link, error) {
		return Link{}, &VerifyError{Origin: v.origin, Seq: v.nextSeq, Problem: fmt.Sprintf(format, a...), Failure: f}
	}
	if key != 0 && key != v.nextSeq {
		return fail(FailureMissing, "entry missing: next stored seq is %d", key)
	}
	s, err := Peek(raw)
	if err != nil {
		return fail(FailureDecode, "%v", err)
	}
	if err := v.Check(s); err != nil {
		return Link{}, err
	}
	return s, nil
}

// Check verifies the next entry from its already peeked Link, for callers
// that parsed the entry once to route it (the district's leader).
func (v *ChainVerifier) Check(s Link) error {
	fail := func(f Failure, format string, a ...any) error {
		return &VerifyError{Origin: v.origin, Seq: v.nextSeq, Problem: fmt.Sprintf(format, a...), Failure: f}
	}
	switch sum := s.BodyHash(); {
	case sum != s.Hash:
		return fail(FailureHash, "body does not match its hash (stored %s, computed %s)", shortHash(s.Hash), shortHash(sum))
	case s.Origin != v.origin:
		return fail(FailureSeq, "entry names origin %q", s.Origin)
	case s.Seq != v.nextSeq:
		return fail(FailureSeq, "entry names seq %d", s.Seq)
	case s.PrevHash != v.prevHash:
		return fail(FailureLink, "prev_hash %s does not link to the previous entry's hash %s", shortHash(s.PrevHash), shortHash(v.prevHash))
	}
	if err := v.checkPrivate(s); err != nil {
		return fail(FailurePrivate, "%v", err)
	}
	signed := len(s.Signature) > 0
	if s.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION {
		switch {
		case !signed:
			return fail(FailureRotation, "key rotation carries no signature: a rotation is always signed")
		case v.unsigned > 0:
			return fail(FailureRotation, "key rotation follows %d unsigned entries (from seq %d): they must end in a signature by the key in force over them", v.unsigned, v.unsignedFrom)
		}
		if err := v.rotate(s); err != nil {
			return fail(FailureRotation, "%v", err)
		}
		v.prevHash = s.Hash
		v.nextSeq++
		v.count++
		return nil
	}
	switch {
	case !signed && v.unsigned >= MaxUnsignedRun:
		return fail(FailureSignature, "more than %d entries in a row carry no signature (from seq %d): no signature vouches for them within the bound", MaxUnsignedRun, v.unsignedFrom)
	case !signed:
		if v.unsigned == 0 {
			v.unsignedFrom = s.Seq
		}
		v.unsigned++
	case v.everySignature && !ed25519.Verify(v.pub, s.Hash[:], s.Signature):
		if v.unsigned > 0 {
			return fail(FailureSignature, "signature does not verify with the origin's key (it also vouches for the %d unsigned entries from seq %d)", v.unsigned, v.unsignedFrom)
		}
		return fail(FailureSignature, "signature does not verify with the origin's key")
	default:
		v.unsigned = 0
	}
	v.prevHash = s.Hash
	v.nextSeq++
	v.lastLink = s // kept in the verifier: a pointer to s would allocate per entry
	v.last = &v.lastLink
	v.count++
	return nil
}

// Finish checks the signature of the last entry seen (with the key in force
// after any rotation) and, with KeyOptions, that this key was neither revoked
// before it nor expired; it returns how many entries were checked. A
// stretch that ends in unsigned entries fails (FailureUnsigned): nothing
// here vouches for them, so a sender must cut its batches after the signed
// last entry of an append, and a stored chain's head is always signed.
func (v *ChainVerifier) Finish() (int, error) {
	if v.unsigned > 0 {
		return v.count, &VerifyError{Origin: v.origin, Seq: v.unsignedFrom, Failure: FailureUnsigned,
			Problem: fmt.Sprintf("the stretch ends inside an append: the %d entries from seq %d to %d carry no signature and the signed entry that ends their append is not here (send or keep every append whole, up to its signed last entry)",
				v.unsigned, v.unsignedFrom, v.unsignedFrom+uint64(v.unsigned)-1)}
	}
	if v.last != nil && !v.everySignature && !ed25519.Verify(v.pub, v.last.Hash[:], v.last.Signature) {
		return v.count, &VerifyError{Origin: v.origin, Seq: v.last.Seq, Problem: "signature of the last entry does not verify with the origin's key", Failure: FailureSignature}
	}
	return v.count, v.finishKeys()
}

// shortHash is the start of a hash, for a message. It takes a copy: a
// slice of a caller's variable handed to fmt would move that variable to
// the heap on every call, failing or not.
func shortHash(h [HashSize]byte) string { return hex.EncodeToString(h[:6]) }

// Head is the newest entry's seq and hash; the zero Head is an empty chain.
type Head struct {
	Seq  uint64
	Hash [HashSize]byte
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func keySeq(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

func unmarshal(raw []byte, m *sanziv1.Entry) error { return proto.Unmarshal(raw, m) }
