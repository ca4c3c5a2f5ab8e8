package supervise

import (
	"errors"
	"maps"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
)

// StateOf is s's state as its checkpoint keeps it, and the chain positions
// it reflects: two supervisions are in the same state when both are equal.
// The procedures are encoded as a supervision with checkpoints keeps them,
// the open ones (the closed ones are its archive's; a test compares them
// through Procedures), also for one without, and the watcher's history
// whole, from memory and its archive (watch.SaveFull), so that a node
// restored from a checkpoint and one that replayed every chain compare.
func StateOf(s *Supervisor) ([]byte, map[string]ledger.Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range []*workflow.Flows{s.flows, s.tier.Held()} {
		if f != nil && f.Archive() == nil {
			f.UseArchive(workflow.NewArchive(nil, "state-of")) // Save only stages: nothing written
			defer f.UseArchive(nil)
		}
	}
	// The watcher's history whole, whether kept in memory or archived.
	var fullErr error
	b, err := s.encodeWith(func(e *checkpoint.Encoder) { fullErr = s.watch.SaveFull(e) })
	err = errors.Join(err, fullErr)
	for _, f := range []*workflow.Flows{s.flows, s.tier.Held()} {
		if f != nil {
			f.Staged() // not written: the procedures stay in memory
		}
	}
	return b, maps.Clone(s.seen), err
}

// StampOf is the stamp s writes its checkpoints under.
func StampOf(s *Supervisor) string { return s.stampOf }

// DamageWatchHistory puts in place of s's watcher one whose history, taken
// from a checkpoint by Load, does not decode when first needed: what a
// history section that passed the checkpoint's CRC but that this code
// cannot read (a bug, or a layout changed without a version) leaves.
func DamageWatchHistory(s *Supervisor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := watch.New(s.b.Rules(), s.cfg.Calendar.Location())
	if err != nil {
		return err
	}
	var e checkpoint.Encoder
	e.Section(func(e *checkpoint.Encoder) { e.Uint(9) }) // nine keys raised, none written
	data, err := e.Data()
	if err != nil {
		return err
	}
	if err := w.Load(checkpoint.NewDecoder(data)); err != nil {
		return err // Load takes the section whole: it must not fail here
	}
	s.watch = w
	return nil
}

// UsesArchive says whether s leaves its closed procedures to the
// workflow's archive (a node with checkpoints), rather than memory.
func UsesArchive(s *Supervisor) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows.Archive() != nil
}

// DamageHeldHistory makes the history of s's tier's watcher (a town's
// cross-village one) one that does not decode when first needed, as
// DamageWatchHistory does the node's own.
func DamageHeldHistory(s *Supervisor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.tier.HeldHistory()
	if w == nil {
		return errors.New("the tier keeps no history")
	}
	var e checkpoint.Encoder
	e.Section(func(e *checkpoint.Encoder) { e.Uint(9) }) // nine keys raised, none written
	data, err := e.Data()
	if err != nil {
		return err
	}
	return w.Load(checkpoint.NewDecoder(data))
}
