package town

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Village is the supervise.Tier of a village: what it takes from its
// town's chain: the town's decisions about it, until it has applied them in
// its own chain, or recorded there why it could not (TownDecisionRefused):
// either way the village's chain answers every decision once, and the town
// learns it. The Supervisor serialises every call (see supervise.Tier).
type Village struct {
	supervise.None
	b       *books.Books
	town    string
	applied map[string]bool // town decision ids answered in this chain
	inbound []inbound
	// refused counts town decisions the village could not apply since it
	// started (the step had moved on, the alert had been reviewed here
	// meanwhile); read outside the Supervisor's lock, by /metrics.
	refused atomic.Int64
}

var _ supervise.Tier = (*Village)(nil)

// NewVillage is the village tier over b, whose first org is the village of
// town (its parent's org code).
func NewVillage(b *books.Books, town string) *Village {
	return &Village{b: b, town: town, applied: map[string]bool{}}
}

// Follows implements supervise.Tier: the village follows its town's chain.
func (v *Village) Follows(origin string) bool { return origin == v.town }

// ObserveOwn implements supervise.Tier: what the village's chain answered
// of its town's decisions (applied, or refused with why).
func (v *Village) ObserveOwn(_ *ledger.Stored, m proto.Message) {
	switch m := m.(type) {
	case *sanziv1.StepDecision:
		if m.GetParentDecisionId() != "" {
			v.applied[m.GetParentDecisionId()] = true
		}
	case *sanziv1.AlertTransition:
		if m.GetParentDecisionId() != "" {
			v.applied[m.GetParentDecisionId()] = true
		}
	case *sanziv1.TownDecisionRefused:
		v.applied[m.GetDecisionId()] = true
	}
}

type inbound struct {
	id, author string
	d          *sanziv1.TownDecision
}

// ObserveHeld implements supervise.Tier: it queues the town's decisions
// about this village; it raises nothing.
func (v *Village) ObserveHeld(st *ledger.Stored) ([]rules.Hit, error) {
	if st.Type != sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION {
		return nil, nil
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil {
		return nil, err
	}
	d := m.(*sanziv1.TownDecision)
	if !v.b.Serves(d.GetVillage()) || v.applied[st.ID()] {
		return nil, nil
	}
	v.inbound = append(v.inbound, inbound{id: st.ID(), author: st.Author, d: d})
	return nil, nil
}

// Apply implements supervise.Tier: it records, in the village's own chain,
// the town's decisions queued by ObserveHeld (a step decision checked
// against own, the village's procedures); it returns how many entries it
// appended. The whole chain is observed first, so what was applied before
// a restart is known and not applied twice.
func (v *Village) Apply(ctx context.Context, own *workflow.Flows) (int, error) {
	if len(v.inbound) == 0 {
		return 0, nil
	}
	queue := v.inbound
	v.inbound = nil
	n := 0
	for i, in := range queue {
		if v.applied[in.id] {
			continue
		}
		v.applied[in.id] = true
		var err error
		switch {
		case in.d.GetStep() != nil:
			d := proto.CloneOf(in.d.GetStep())
			d.Org, d.ParentDecisionId = in.d.GetVillage(), in.id
			// What the town's decision names stays at the town (its
			// chain's TownDecision); the village holds none of it, and an
			// entry names only attachments its node holds.
			d.Attachments = nil
			// A town's decision approves no disclosure content: only the
			// village's own approvals name it (supervise.DecideStep).
			d.Disclosure = nil
			var dd *sanziv1.StepDecision
			if dd, err = own.Check(d, v.b.Now()); err == nil {
				_, err = v.b.AppendEntry(ctx, d.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, dd, dd.GetProcedureId())
			}
		case in.d.GetReview() != nil:
			tr := proto.CloneOf(in.d.GetReview())
			tr.Org, tr.ParentDecisionId = in.d.GetVillage(), in.id
			_, err = v.b.AppendEntry(ctx, tr.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr, tr.GetAlertId())
		}
		var refusedErr *workflow.RefusedError
		var conf *books.ConflictError
		var inv *books.InvalidError
		switch {
		case err == nil:
			n++
		case errors.As(err, &refusedErr), errors.As(err, &conf), errors.As(err, &inv):
			v.refused.Add(1)
			slog.Warn("a town decision cannot apply here; recording why", "decision", in.id, "err", err)
			if _, err := v.b.AppendEntry(ctx, in.d.GetVillage(), "system", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION_REFUSED,
				&sanziv1.TownDecisionRefused{Org: in.d.GetVillage(), DecisionId: in.id, Reason: err.Error()}, in.id); err != nil {
				v.applied[in.id] = false // not answered: try again at the next catch-up
				v.inbound = append(v.inbound, queue[i:]...)
				return n, fmt.Errorf("record the refusal of town decision %s: %w", in.id, err)
			}
			n++
		default:
			v.applied[in.id] = false // not recorded: try again at the next catch-up
			v.inbound = append(v.inbound, queue[i:]...)
			return n, fmt.Errorf("apply town decision %s: %w", in.id, err)
		}
	}
	return n, nil
}

// Refused is how many of its town's decisions this village could not
// apply since it started (each is logged with why).
func (v *Village) Refused() int { return int(v.refused.Load()) }

// RefuseOwnDecision implements supervise.Tier: a step whose post is held at
// the town is decided only in the town's chain, where the town checked the
// post; its decision arriving through the village's own API is refused
// (one caller could otherwise complete every step of a procedure).
func (v *Village) RefuseOwnDecision(cat *sanziv1.Catalog, d *sanziv1.StepDecision) error {
	if !townPost(cat, d.GetPost()) {
		return nil
	}
	return fmt.Errorf("%w: step %s of procedure %s is held by the town's post %s; its decision comes only from the town's chain (%s), not from the village's API",
		books.ErrPermissionDenied, d.GetStepCode(), d.GetProcedureId(), d.GetPost(), v.town)
}
