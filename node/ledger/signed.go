package ledger

import "crypto/ed25519"

// Signed reports whether the entry carries its own signature (Stored.Signed).
func (l *Link) Signed() bool { return len(l.Signature) > 0 }

// Vouched reports whether pub vouches for run[0], an entry that may carry
// no signature of its own: run is the stretch of its chain from it on, and
// the first signed entry in it must be reached through intact hash links
// within MaxUnsignedRun entries and verify with pub. It is the one-entry
// proof, for a check that looks at a single entry (the first key's
// signature on seq 1, a fork's evidence); the ChainVerifier does the same
// over a whole stretch.
func Vouched(pub ed25519.PublicKey, run []Link) bool {
	for i := range run {
		l := &run[i]
		if l.BodyHash() != l.Hash {
			return false
		}
		if i > 0 && (l.Origin != run[0].Origin || l.Seq != run[i-1].Seq+1 || l.PrevHash != run[i-1].Hash) {
			return false
		}
		if l.Signed() {
			return ed25519.Verify(pub, l.Hash[:], l.Signature)
		}
		if i >= MaxUnsignedRun {
			return false
		}
	}
	return false
}

// WholeAppends wraps the callback of a Range read in pages (a parent
// serving a pull): it reads limit entries and then on to the next signed
// one, so that a page never ends inside an append (the receiver's
// Finish refuses that), at most MaxUnsignedRun entries more. Pass it to a
// Range without limit (0).
func WholeAppends(limit int, fn func(*Stored) bool) func(*Stored) bool {
	n := 0
	return func(s *Stored) bool {
		if !fn(s) {
			return false
		}
		n++
		return n < limit || !s.Signed()
	}
}
