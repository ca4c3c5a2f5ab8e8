package supervise

import (
	"maps"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/workflow"
)

// StateOf is s's state as its checkpoint keeps it, and the chain positions
// it reflects: two supervisions are in the same state when both are equal.
// The procedures are encoded as a supervision with checkpoints keeps them,
// the open ones (the closed ones are its archive's; a test compares them
// through Procedures), also for one without, so that a node restored from
// a checkpoint and one that replayed every chain compare.
func StateOf(s *Supervisor) ([]byte, map[string]ledger.Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range []*workflow.Flows{s.flows, s.tier.Held()} {
		if f != nil && f.Archive() == nil {
			f.UseArchive(workflow.NewArchive(nil, "state-of")) // Save only stages: nothing written
			defer f.UseArchive(nil)
		}
	}
	b, err := s.encode()
	for _, f := range []*workflow.Flows{s.flows, s.tier.Held()} {
		if f != nil {
			f.Staged() // not written: the procedures stay in memory
		}
	}
	return b, maps.Clone(s.seen), err
}

// StampOf is the stamp s writes its checkpoints under.
func StampOf(s *Supervisor) string { return s.stampOf }
