// Package checkpoint is the district's signed checkpoints (issue 15,
// "accounts anyone can check"): at least every minute while anything
// changes, the leader signs a statement of every chain head the district
// holds (origin, seq, hash) with the district chain's key and records it
// through Raft, so every member serves the same checkpoints. A checkpoint
// never contradicts an earlier one: the signer refuses to sign a head that
// does not extend the chain the previous checkpoint signed, the FSM refuses
// to store one, and Contradictions finds any pair a reader was shown.
//
// The statement is plain text so that a person, a shell script or a page's
// WebCrypto can check it without this code:
//
//	sanzi checkpoint v1
//	district 350505000000
//	number 42
//	time 2026-11-27T10:00:00Z
//	prev <64 hex: SHA-256 of checkpoint 41's statement; zeros for 1>
//	350505000000 17 <64 hex: head hash>
//	350505100201 123 <64 hex>
//
// with one line per chain in origin order and a final newline; the
// signature is Ed25519 over exactly these bytes.
package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/ledger"
)

// Errors of reading and checking checkpoints. Their text is what
// `sanzi verify-public` prints, so it says what is wrong in words.
var (
	// ErrMalformed: the bytes are not a statement of this format.
	ErrMalformed = errors.New("checkpoint: malformed statement")
	// ErrSignature: the signature does not verify with the key given.
	ErrSignature = errors.New("checkpoint: signature does not verify with the district's key")
	// ErrContradiction: a head that does not extend the chain an earlier
	// checkpoint signed (same origin and seq, another hash; or a chain
	// that went back).
	ErrContradiction = errors.New("checkpoint: contradicts an earlier checkpoint")
	// ErrSequence: a checkpoint that does not follow its predecessor (its
	// number or prev hash).
	ErrSequence = errors.New("checkpoint: does not follow the previous checkpoint")
)

const header = "sanzi checkpoint v1"

// Head is one chain's head in a checkpoint.
type Head struct {
	Origin string
	Seq    uint64
	Hash   [ledger.HashSize]byte
}

// Statement is what a checkpoint says; Encode gives the bytes signed.
type Statement struct {
	District string
	Number   uint64
	Time     time.Time // UTC, to the second
	Prev     [sha256.Size]byte
	Heads    []Head // sorted by origin, one per origin
}

// Encode is the statement's text, the bytes that are signed and hashed.
// Heads are written in origin order whatever order they are held in.
func (s *Statement) Encode() []byte {
	heads := slices.Clone(s.Heads)
	slices.SortFunc(heads, func(a, b Head) int { return strings.Compare(a.Origin, b.Origin) })
	var b bytes.Buffer
	b.Grow(128 + len(heads)*90)
	fmt.Fprintf(&b, "%s\ndistrict %s\nnumber %d\ntime %s\nprev %x\n", header, s.District, s.Number,
		s.Time.UTC().Truncate(time.Second).Format(time.RFC3339), s.Prev)
	for _, h := range heads {
		fmt.Fprintf(&b, "%s %d %x\n", h.Origin, h.Seq, h.Hash)
	}
	return b.Bytes()
}

// Sum is SHA-256 of the statement's text: what the next checkpoint's prev
// names.
func (s *Statement) Sum() [sha256.Size]byte { return sha256.Sum256(s.Encode()) }

// Head returns origin's head in the statement.
func (s *Statement) Head(origin string) (Head, bool) {
	i, ok := slices.BinarySearchFunc(s.Heads, origin, func(h Head, o string) int { return strings.Compare(h.Origin, o) })
	if !ok {
		return Head{}, false
	}
	return s.Heads[i], true
}

// Parse reads a statement's text; it accepts only what Encode writes (one
// spelling per statement), so that a parsed statement encodes back to the
// same bytes and its signature means the same thing to every reader.
func Parse(text []byte) (*Statement, error) {
	bad := func(line int, format string, a ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrMalformed, line, fmt.Sprintf(format, a...))
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, fmt.Errorf("%w: empty or without a final newline", ErrMalformed)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 5 || lines[0] != header {
		return nil, fmt.Errorf("%w: does not start with %q and four header lines", ErrMalformed, header)
	}
	s := &Statement{}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+" ")
		if !ok {
			return "", bad(i+1, "want %q", name)
		}
		return v, nil
	}
	var err error
	if s.District, err = field(1, "district"); err != nil {
		return nil, err
	}
	v, err := field(2, "number")
	if err != nil {
		return nil, err
	}
	if s.Number, err = strconv.ParseUint(v, 10, 64); err != nil || s.Number == 0 {
		return nil, bad(3, "number %q is not a whole number from 1", v)
	}
	if v, err = field(3, "time"); err != nil {
		return nil, err
	}
	if s.Time, err = time.Parse(time.RFC3339, v); err != nil || !strings.HasSuffix(v, "Z") {
		return nil, bad(4, "time %q is not RFC 3339 UTC", v)
	}
	if v, err = field(4, "prev"); err != nil {
		return nil, err
	}
	if err := hexHash(v, s.Prev[:]); err != nil {
		return nil, bad(5, "prev: %v", err)
	}
	for i, l := range lines[5:] {
		parts := strings.Split(l, " ")
		if len(parts) != 3 {
			return nil, bad(i+6, "want origin, seq and hash")
		}
		h := Head{Origin: parts[0]}
		if h.Seq, err = strconv.ParseUint(parts[1], 10, 64); err != nil || h.Seq == 0 {
			return nil, bad(i+6, "seq %q is not a whole number from 1", parts[1])
		}
		if err := hexHash(parts[2], h.Hash[:]); err != nil {
			return nil, bad(i+6, "hash: %v", err)
		}
		if n := len(s.Heads); n > 0 && s.Heads[n-1].Origin >= h.Origin {
			return nil, bad(i+6, "origin %s out of order or repeated", h.Origin)
		}
		s.Heads = append(s.Heads, h)
	}
	if !bytes.Equal(s.Encode(), text) {
		return nil, fmt.Errorf("%w: not in the one spelling the format allows", ErrMalformed)
	}
	return s, nil
}

func hexHash(v string, dst []byte) error {
	if len(v) != 2*len(dst) || strings.ToLower(v) != v {
		return fmt.Errorf("%q is not %d lower-case hex digits", v, 2*len(dst))
	}
	_, err := hex.Decode(dst, []byte(v))
	return err
}

// Signed is a statement with its signature, as stored and served.
type Signed struct {
	Statement *Statement
	// Text is the statement's bytes as signed.
	Text      []byte
	Signature []byte
}

// Sign signs s with key.
func Sign(s *Statement, key ed25519.PrivateKey) *Signed {
	text := s.Encode()
	return &Signed{Statement: s, Text: text, Signature: ed25519.Sign(key, text)}
}

// Open parses text and checks its signature with pub.
func Open(text, sig []byte, pub ed25519.PublicKey) (*Signed, error) {
	s, err := Parse(text)
	if err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, text, sig) {
		return nil, fmt.Errorf("checkpoint %d: %w", s.Number, ErrSignature)
	}
	return &Signed{Statement: s, Text: text, Signature: sig}, nil
}

// Fingerprint is how people compare the district's key: SHA-256 of the
// raw 32-byte Ed25519 public key, in hex, in groups of four.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	h := hex.EncodeToString(sum[:])
	var parts []string
	for i := 0; i < len(h); i += 4 {
		parts = append(parts, h[i:i+4])
	}
	return strings.Join(parts, ":")
}

// unixMilli is t (Unix ms) in UTC, to the second as statements are.
func unixMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC().Truncate(time.Second) }
