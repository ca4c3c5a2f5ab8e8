package accounts

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sanzi/sanzi/node/checkpoint"
)

// checkpointName is the accounts' checkpoint in the ledger's file.
const checkpointName = "accounts"

// stateVersion is the layout and meaning of the accounts' checkpoint:
// bump it with any change to what apply derives or how it is written.
const stateVersion = 1

// rebuildAt is how many entries a start may replay past the checkpoint
// before it writes a new one.
const rebuildAt = 10_000

func (s *Service) stamp() string {
	return fmt.Sprintf("accounts/%d/%s/%s", stateVersion, checkpoint.Build(), s.cfg.Org)
}

// start restores the checkpoint, when there is one to use, and catches up
// with the home chain from it. The caller holds wmu.
func (s *Service) start() error {
	rebuild := false
	if s.cfg.Checkpoints != nil {
		if err := s.restore(); err != nil {
			if !errors.Is(err, checkpoint.ErrNone) {
				s.log.Warn("accounts checkpoint not used; replaying the home chain", "reason", err)
			}
			rebuild = true
		}
	}
	if err := s.catchUp(); err != nil {
		return err
	}
	if s.cfg.Checkpoints != nil && (rebuild || s.st.seen-s.saved >= rebuildAt) {
		if err := s.save(); err != nil {
			s.log.Warn("accounts not checkpointed; the next start replays the home chain again", "err", err)
		}
	}
	return nil
}

// Checkpoint catches up with the home chain and, when at least min
// entries were followed since the last checkpoint (min 0: any), writes
// one: the node calls it now and then, and as it shuts down.
func (s *Service) Checkpoint(min uint64) error {
	if s.cfg.Checkpoints == nil {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.catchUp(); err != nil {
		return fmt.Errorf("checkpoint accounts: %w", err)
	}
	if s.st.seen == s.saved || s.st.seen-s.saved < min {
		return nil
	}
	return s.save()
}

// save writes the accounts as of the home chain's seen entry. The caller
// holds wmu.
func (s *Service) save() error {
	s.mu.RLock()
	var e checkpoint.Encoder
	e.Uint(uint64(len(s.st.accounts)))
	for _, id := range slices.Sorted(maps.Keys(s.st.accounts)) {
		a := s.st.accounts[id]
		for _, f := range []string{a.ID, a.Name, a.Org, string(a.Status), a.DisabledReason, a.CreatedBy, a.CreatedEntry, a.ChangedBy, a.LastEntry} {
			e.String(f)
		}
		e.Uint(uint64(len(a.Roles)))
		for _, r := range a.Roles {
			e.String(string(r))
		}
		e.Strings(a.Posts)
		e.Time(a.CreatedAt)
		e.Time(a.ChangedAt)
	}
	at := checkpoint.Positions{s.cfg.Org: {Seq: s.st.seen, Hash: s.st.hash}}
	s.mu.RUnlock()
	if at[s.cfg.Org].Seq == 0 {
		return nil // an empty chain: nothing to keep
	}
	state, err := e.Data()
	if err == nil {
		err = s.cfg.Checkpoints.Save(checkpointName, s.stamp(), at, state)
	}
	if err != nil {
		return fmt.Errorf("checkpoint accounts: %w", err)
	}
	s.saved = at[s.cfg.Org].Seq
	return nil
}

// restore puts the checkpoint's accounts in place, or says why it cannot.
func (s *Service) restore() error {
	at, raw, err := s.cfg.Checkpoints.Load(checkpointName, s.stamp())
	if err != nil {
		return err
	}
	head, ok := at[s.cfg.Org]
	if !ok || len(at) != 1 {
		return fmt.Errorf("%w: it reflects no position of the home chain %s", checkpoint.ErrInconsistent, s.cfg.Org)
	}
	d := checkpoint.NewDecoder(raw)
	accounts := map[string]*Account{}
	for range d.Len() {
		a := &Account{ID: d.String(), Name: d.String(), Org: d.String(), Status: Status(d.String()), DisabledReason: d.String(),
			CreatedBy: d.String(), CreatedEntry: d.String(), ChangedBy: d.String(), LastEntry: d.String()}
		for range d.Len() {
			a.Roles = append(a.Roles, Role(d.String()))
		}
		a.Posts = d.Strings()
		a.CreatedAt, a.ChangedAt = d.Time(), d.Time()
		accounts[a.ID] = a
	}
	if err := d.Done(); err != nil {
		return fmt.Errorf("%w: %v", checkpoint.ErrDamaged, err)
	}
	s.mu.Lock()
	s.st = state{accounts: accounts, seen: head.Seq, hash: head.Hash}
	s.mu.Unlock()
	s.saved = head.Seq
	return nil
}
