package supervise

import (
	"maps"

	"github.com/sanzi/sanzi/node/ledger"
)

// StateOf is s's state as its checkpoint keeps it, and the chain positions
// it reflects: two supervisions are in the same state when both are equal.
func StateOf(s *Supervisor) ([]byte, map[string]ledger.Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.encode()
	return b, maps.Clone(s.seen), err
}

// StampOf is the stamp s writes its checkpoints under.
func StampOf(s *Supervisor) string { return s.stampOf }
