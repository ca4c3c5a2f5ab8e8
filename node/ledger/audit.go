package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// EntryCheck is what an auditor is shown about one stored entry: the entry,
// the key its chain is signed with at that seq, and whether the chain from
// seq 1 up to it holds (hashes, links, key rotations) and its own signature
// verifies with that key. The node checks; the page only shows the verdict.
type EntryCheck struct {
	Stored *Stored
	// Key is the origin's key in force at the entry (after any rotation
	// before it); nil when the node holds no key for the origin.
	Key ed25519.PublicKey
	// Problem is the first thing found wrong, nil when the entry and the
	// chain up to it verify.
	Problem *VerifyError
}

// CheckEntry verifies the entry at seq of origin as an auditor asks: every
// entry from seq 1 up to it is hashed and linked (so that a key rotation
// before it is followed), and its signature is checked with the key in
// force: its own, or, for an entry that carries none, the signature of the
// entry that ends its append, reached through the hash links after it.
// ErrNotFound when the node holds no such entry.
func (l *Ledger) CheckEntry(ctx context.Context, origin string, seq uint64) (*EntryCheck, error) {
	out := &EntryCheck{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChains).Bucket([]byte(origin))
		if b == nil || b.Get(seqKey(seq)) == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, EntryID(origin, seq))
		}
		s, err := Decode(append([]byte(nil), b.Get(seqKey(seq))...))
		if err != nil {
			out.Problem = &VerifyError{Origin: origin, Seq: seq, Problem: err.Error(), Failure: FailureDecode}
			return nil
		}
		out.Stored = s
		pub, ok := l.cfg.Keys.Public(origin)
		if !ok {
			out.Problem = &VerifyError{Origin: origin, Seq: 1, Problem: "no public key for this origin on this node"}
			return nil
		}
		v := NewChainVerifier(origin, pub, 1, [HashSize]byte{}, false).WithKeys(KeyOptions{CheckCert: l.cfg.CheckCert}).WithPrivate(PrivateOptions{Masker: l.cfg.Split})
		c := b.Cursor()
		n := 0
		for k, raw := c.First(); k != nil && keySeq(k) < seq; k, raw = c.Next() {
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := v.Next(keySeq(k), raw); err != nil {
				return keepProblem(out, err)
			}
		}
		out.Key, _ = v.Key()
		if _, err := v.Next(seq, b.Get(seqKey(seq))); err != nil {
			return keepProblem(out, err)
		}
		if s.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION {
			// Check followed the rotation's own signature rules (rotate.go).
			return nil
		}
		if s.Signed() {
			if !ed25519.Verify(out.Key, s.Hash[:], s.Signature) {
				out.Problem = &VerifyError{Origin: origin, Seq: seq, Problem: "signature does not verify with the origin's key", Failure: FailureSignature}
			}
			return nil
		}
		// Unsigned: the signed entry that ends its append vouches for it
		// through the hash links; the walk goes on to it (at most
		// MaxUnsignedRun entries, the verifier refuses more) and checks
		// its signature with the key in force (no rotation comes between).
		unvouched := func(why string) error {
			out.Problem = &VerifyError{Origin: origin, Seq: seq, Failure: FailureSignature,
				Problem: "carries no signature of its own, and " + why}
			return nil
		}
		for k, raw := c.Seek(seqKey(seq + 1)); ; k, raw = c.Next() {
			if k == nil {
				return unvouched("no later entry of the chain signs for it")
			}
			l, err := v.Next(keySeq(k), raw)
			if err != nil {
				var ve *VerifyError
				if errors.As(err, &ve) {
					return unvouched(fmt.Sprintf("the entries up to the signature that covers it do not verify: %v", ve))
				}
				return err
			}
			if l.Signed() {
				if !ed25519.Verify(out.Key, l.Hash[:], l.Signature) {
					return unvouched(fmt.Sprintf("the signature of %s, which covers it through the hash links, does not verify with the origin's key", EntryID(origin, l.Seq)))
				}
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func keepProblem(out *EntryCheck, err error) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		out.Problem = ve
		return nil
	}
	return err
}

// VerifyProgress is how far a VerifyChain has come.
type VerifyProgress struct {
	// Checked entries so far, of Head (the chain's newest seq when the
	// walk began).
	Checked, Head uint64
	// Key is the key in force at the head, set once the walk ends well.
	Key ed25519.PublicKey
}

// VerifyChain walks origin's chain from seq 1 to its head, checking every
// hash, link and signature (key rotations followed), and calls progress
// after every `every` entries and once at the end. It returns the first
// problem (a *VerifyError) or nil when the chain verifies; an error from
// progress or ctx stops the walk and is returned as it is. One read
// transaction: entries appended meanwhile are not part of this check.
func (l *Ledger) VerifyChain(ctx context.Context, origin string, every int, progress func(VerifyProgress) error) (VerifyProgress, error) {
	if every <= 0 {
		every = 1000
	}
	var p VerifyProgress
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChains).Bucket([]byte(origin))
		if b == nil {
			return fmt.Errorf("%w: no chain of %s on this node", ErrNotFound, origin)
		}
		if k, _ := b.Cursor().Last(); k != nil {
			p.Head = keySeq(k)
		}
		pub, ok := l.cfg.Keys.Public(origin)
		if !ok {
			return &VerifyError{Origin: origin, Seq: 1, Problem: "no public key for this origin on this node"}
		}
		v := NewChainVerifier(origin, pub, 1, [HashSize]byte{}, true).WithKeys(KeyOptions{CheckCert: l.cfg.CheckCert}).WithPrivate(PrivateOptions{Masker: l.cfg.Split})
		c := b.Cursor()
		for k, raw := c.First(); k != nil; k, raw = c.Next() {
			if _, err := v.Next(keySeq(k), raw); err != nil {
				return err
			}
			if p.Checked++; p.Checked%uint64(every) == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := progress(p); err != nil {
					return err
				}
			}
		}
		if _, err := v.Finish(); err != nil {
			return err
		}
		p.Key, _ = v.Key()
		return progress(p)
	})
	return p, err
}

// Scan calls fn with the raw stored bytes of origin's entries from seq from
// on, in order, until fn returns false: a cheap pass for searching (raw is
// valid only during the call; Decode a copy of what is kept).
func (l *Ledger) Scan(origin string, from uint64, fn func(seq uint64, raw []byte) bool) error {
	return l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChains).Bucket([]byte(origin))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, raw := c.Seek(seqKey(from)); k != nil; k, raw = c.Next() {
			if !fn(keySeq(k), raw) {
				return nil
			}
		}
		return nil
	})
}
