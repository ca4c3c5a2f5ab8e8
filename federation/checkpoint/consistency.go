package checkpoint

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// HashAt is the hash of origin's entry at seq in the state that is being
// signed; false when the state holds no such entry.
type HashAt func(origin string, seq uint64) ([ledger.HashSize]byte, bool, error)

// Follows checks that next comes right after prev (nil: next is the
// first): its number, its prev hash, a time that does not go back, the
// same district, and heads that extend prev's chains as hashAt sees them.
// The signer checks before signing and the FSM before storing, with the
// same rule, so a checkpoint that would contradict an earlier one is never
// signed nor kept.
func Follows(prev, next *Statement, hashAt HashAt) error {
	if prev == nil {
		if next.Number != 1 || next.Prev != [sha256.Size]byte{} {
			return fmt.Errorf("%w: the first checkpoint is number 1 with a zero prev, not %d", ErrSequence, next.Number)
		}
		return nil
	}
	switch {
	case next.Number != prev.Number+1:
		return fmt.Errorf("%w: number %d after %d", ErrSequence, next.Number, prev.Number)
	case next.Prev != prev.Sum():
		return fmt.Errorf("%w: checkpoint %d names another predecessor than checkpoint %d", ErrSequence, next.Number, prev.Number)
	case next.Time.Before(prev.Time):
		return fmt.Errorf("%w: checkpoint %d is dated %s, before checkpoint %d (%s)", ErrSequence, next.Number,
			next.Time.Format("2006-01-02T15:04:05Z"), prev.Number, prev.Time.Format("2006-01-02T15:04:05Z"))
	case next.District != prev.District:
		return fmt.Errorf("%w: district %s after %s", ErrSequence, next.District, prev.District)
	}
	for _, p := range prev.Heads {
		n, ok := next.Head(p.Origin)
		switch {
		case !ok:
			return fmt.Errorf("%w: the chain of %s (seq %d in checkpoint %d) is missing", ErrContradiction, p.Origin, p.Seq, prev.Number)
		case n.Seq < p.Seq:
			return fmt.Errorf("%w: %s went back from seq %d (checkpoint %d) to %d", ErrContradiction, p.Origin, p.Seq, prev.Number, n.Seq)
		case n.Seq == p.Seq && n.Hash != p.Hash:
			return fmt.Errorf("%w: %s seq %d has hash %x in checkpoint %d and %x now", ErrContradiction, p.Origin, p.Seq, p.Hash[:8], prev.Number, n.Hash[:8])
		case n.Seq > p.Seq && hashAt != nil:
			h, held, err := hashAt(p.Origin, p.Seq)
			if err != nil {
				return fmt.Errorf("read %s: %w", ledger.EntryID(p.Origin, p.Seq), err)
			}
			if !held || h != p.Hash {
				return fmt.Errorf("%w: the chain of %s held now does not have checkpoint %d's hash %x at seq %d", ErrContradiction, p.Origin, prev.Number, p.Hash[:8], p.Seq)
			}
		}
	}
	return nil
}

// Contradiction is two checkpoints that give one origin's seq two hashes,
// or two different checkpoints with one number.
type Contradiction struct {
	Origin string
	Seq    uint64
	// A and B are the checkpoint numbers, HashA and HashB what each says.
	A, B         uint64
	HashA, HashB [ledger.HashSize]byte
}

func (c Contradiction) Error() string {
	if c.Origin == "" {
		return fmt.Sprintf("two different checkpoints are both numbered %d", c.A)
	}
	return fmt.Sprintf("checkpoints %d and %d contradict: %s seq %d has hash %x in %d and %x in %d",
		c.A, c.B, c.Origin, c.Seq, c.HashA, c.A, c.HashB, c.B)
}

// Contradictions lists every pair among sts that contradict: one
// origin's seq with two hashes, or one number with two statements. A
// reader checks every checkpoint it was shown (and any it kept from
// before) with it; honest checkpoints never contradict, so one pair
// proves the district signed two histories.
func Contradictions(sts []*Statement) []Contradiction {
	type seen struct {
		hash [ledger.HashSize]byte
		n    uint64
	}
	at := map[string]seen{}
	byNumber := map[uint64][sha256.Size]byte{}
	var out []Contradiction
	for _, s := range sts {
		sum := s.Sum()
		if prev, ok := byNumber[s.Number]; ok {
			if prev != sum {
				out = append(out, Contradiction{A: s.Number, B: s.Number})
			}
			continue
		}
		byNumber[s.Number] = sum
		for _, h := range s.Heads {
			k := ledger.EntryID(h.Origin, h.Seq)
			if p, ok := at[k]; ok {
				if p.hash != h.Hash {
					out = append(out, Contradiction{Origin: h.Origin, Seq: h.Seq, A: p.n, B: s.Number, HashA: p.hash, HashB: h.Hash})
				}
				continue // the first checkpoint that said it stays the one named
			}
			at[k] = seen{h.Hash, s.Number}
		}
	}
	return out
}

// Delta is the Raft command for next, signed, after prev (nil: none): the
// heads that changed, the signature and the key. The FSM rebuilds the
// statement with Rebuild.
func Delta(prev *Statement, next *Signed, pub []byte) *clusterv1.Checkpoint {
	s := next.Statement
	c := &clusterv1.Checkpoint{Number: s.Number, District: s.District, TimeUnixMs: s.Time.UnixMilli(),
		Prev: append([]byte(nil), s.Prev[:]...), Signature: next.Signature, PublicKey: pub}
	for _, h := range sorted(s.Heads) {
		if prev != nil {
			if p, ok := prev.Head(h.Origin); ok && p == h {
				continue
			}
		}
		c.Changed = append(c.Changed, &clusterv1.CheckpointHead{Origin: h.Origin, Seq: h.Seq, Hash: append([]byte(nil), h.Hash[:]...)})
	}
	return c
}

// Rebuild is the statement a Raft command signs: prev's heads (nil: none)
// with the command's changed heads over them.
func Rebuild(prev *Statement, c *clusterv1.Checkpoint) (*Statement, error) {
	s := &Statement{District: c.GetDistrict(), Number: c.GetNumber(), Time: unixMilli(c.GetTimeUnixMs())}
	if len(c.GetPrev()) != sha256.Size {
		return nil, fmt.Errorf("%w: prev is %d bytes", ErrMalformed, len(c.GetPrev()))
	}
	copy(s.Prev[:], c.GetPrev())
	heads := map[string]Head{}
	if prev != nil {
		for _, h := range prev.Heads {
			heads[h.Origin] = h
		}
	}
	for _, ch := range c.GetChanged() {
		h := Head{Origin: ch.GetOrigin(), Seq: ch.GetSeq()}
		if len(ch.GetHash()) != ledger.HashSize || h.Origin == "" || h.Seq == 0 || strings.ContainsAny(h.Origin, " \n") {
			return nil, fmt.Errorf("%w: changed head %q seq %d", ErrMalformed, h.Origin, h.Seq)
		}
		copy(h.Hash[:], ch.GetHash())
		heads[h.Origin] = h
	}
	for _, h := range heads {
		s.Heads = append(s.Heads, h)
	}
	s.Heads = sorted(s.Heads)
	if s.District == "" || strings.ContainsAny(s.District, " \n") || s.Number == 0 {
		return nil, errors.Join(ErrMalformed, fmt.Errorf("district %q, number %d", s.District, s.Number))
	}
	return s, nil
}

func sorted(hs []Head) []Head {
	out := slices.Clone(hs)
	slices.SortFunc(out, func(a, b Head) int { return strings.Compare(a.Origin, b.Origin) })
	return out
}
