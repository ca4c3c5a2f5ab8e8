package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// parentState is what a village takes from its town's chain: the town's
// decisions about it, until it has applied them in its own chain, or
// recorded there why it could not (TownDecisionRefused): either way the
// village's chain answers every decision once, and the town learns it.
type parentState struct {
	town    string
	applied map[string]bool // town decision ids answered in this chain
	inbound []inbound
	// Refused counts town decisions the village could not apply since it
	// started (the step had moved on, the alert had been reviewed here
	// meanwhile).
	refused int
}

type inbound struct {
	id, author string
	d          *sanziv1.TownDecision
}

// observeParent queues the town's decisions about this village.
func (s *Supervisor) observeParent(st *ledger.Stored) error {
	if st.Type != sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION {
		return nil
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil {
		return err
	}
	d := m.(*sanziv1.TownDecision)
	if !s.b.Serves(d.GetVillage()) || s.parent.applied[st.ID()] {
		return nil
	}
	s.parent.inbound = append(s.parent.inbound, inbound{id: st.ID(), author: st.Author, d: d})
	return nil
}

// applyInbound records, in the village's own chain, the town's decisions
// queued by observeParent; it returns how many entries it appended. The
// caller holds s.mu and has observed the whole chain, so what was applied
// before a restart is known and not applied twice.
func (s *Supervisor) applyInbound(ctx context.Context) (int, error) {
	ps := s.parent
	queue := ps.inbound
	ps.inbound = nil
	n := 0
	for i, in := range queue {
		if ps.applied[in.id] {
			continue
		}
		ps.applied[in.id] = true
		var err error
		switch {
		case in.d.GetStep() != nil:
			d := proto.CloneOf(in.d.GetStep())
			d.Org, d.ParentDecisionId = in.d.GetVillage(), in.id
			var dd *sanziv1.StepDecision
			if dd, err = s.flows.Check(d, s.b.Now()); err == nil {
				_, err = s.b.AppendEntry(ctx, d.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, dd, dd.GetProcedureId())
			}
		case in.d.GetReview() != nil:
			tr := proto.CloneOf(in.d.GetReview())
			tr.Org, tr.ParentDecisionId = in.d.GetVillage(), in.id
			_, err = s.b.AppendEntry(ctx, tr.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr, tr.GetAlertId())
		}
		var refusedErr *workflow.RefusedError
		var conf *books.ConflictError
		var inv *books.InvalidError
		switch {
		case err == nil:
			n++
		case errors.As(err, &refusedErr), errors.As(err, &conf), errors.As(err, &inv):
			ps.refused++
			slog.Warn("a town decision cannot apply here; recording why", "decision", in.id, "err", err)
			if _, err := s.b.AppendEntry(ctx, in.d.GetVillage(), "system", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION_REFUSED,
				&sanziv1.TownDecisionRefused{Org: in.d.GetVillage(), DecisionId: in.id, Reason: err.Error()}, in.id); err != nil {
				ps.applied[in.id] = false // not answered: try again at the next catch-up
				ps.inbound = append(ps.inbound, queue[i:]...)
				return n, fmt.Errorf("record the refusal of town decision %s: %w", in.id, err)
			}
			n++
		default:
			ps.applied[in.id] = false // not recorded: try again at the next catch-up
			ps.inbound = append(ps.inbound, queue[i:]...)
			return n, fmt.Errorf("apply town decision %s: %w", in.id, err)
		}
	}
	return n, nil
}

// TownDecisionsRefused is how many of its town's decisions this village
// could not apply since it started (each is logged with why).
func (s *Supervisor) TownDecisionsRefused() int {
	if s == nil || s.parent == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parent.refused
}
