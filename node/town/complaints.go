package town

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A villager's complaint filed on the district's public site is an entry
// of the district's chain addressed to the village's town (issue 15). The
// town follows that chain like its own; for each complaint addressed to it
// the town opens the complaint procedure (GOV-COMPLAINT) in its own chain,
// about the complaint's entry, so its steps, timers and COMPLAINT-LATE run
// here as for any procedure of the town's. Its reviewers reply
// (ComplaintReply, see Desk) and decide the steps; the last step is
// refused until a reply is recorded, so "answered" always has an answer.
// Both travel up with the town's chain to the district's public pages.

// complaints is the town tier's memory of the complaints addressed to it.
type complaints struct {
	// queue are the complaint entry ids to open a procedure for, in the
	// district chain's order.
	queue []string
	byID  map[string]*sanziv1.Complaint
	// procOf is the procedure opened for a complaint; complaintOf the
	// reverse.
	procOf, complaintOf map[string]string
	// replied are the procedures with a reply recorded.
	replied map[string]bool
}

func newComplaints() complaints {
	return complaints{byID: map[string]*sanziv1.Complaint{}, procOf: map[string]string{}, complaintOf: map[string]string{}, replied: map[string]bool{}}
}

// observeComplaint takes the entries of the complaints' life the town's own
// supervision sees: a complaint in the district's chain, the procedure the
// town opened for it, a reply.
func (t *Town) observeComplaint(st *ledger.Stored, m any) {
	c := &t.complaints
	switch m := m.(type) {
	case *sanziv1.Complaint:
		if !strings.HasSuffix(st.Origin, "000000") || m.GetTown() != t.home {
			return
		}
		if err := complaint.Check(m, st.Origin, villagePosts(t.flows.Catalog())); err != nil {
			slog.Warn("a complaint in the district's chain is not one the town can take; not opened", "entry", st.ID(), "err", err)
			return
		}
		if _, ok := c.byID[st.ID()]; !ok {
			c.byID[st.ID()] = m
			c.queue = append(c.queue, st.ID())
		}
	case *sanziv1.Procedure:
		if st.Origin == t.home && m.GetMatterCode() == complaint.Matter && c.byID[m.GetSubjectId()] != nil {
			c.procOf[m.GetSubjectId()], c.complaintOf[st.ID()] = st.ID(), m.GetSubjectId()
		}
	case *sanziv1.ComplaintReply:
		if st.Origin == t.home {
			c.replied[m.GetProcedureId()] = true
		}
	}
}

// villagePosts are the village-tier posts of cat: the posts a complaint
// may name.
func villagePosts(cat *sanziv1.Catalog) []string {
	var out []string
	for _, p := range cat.GetPosts() {
		if p.GetTier() == sanziv1.Tier_TIER_VILLAGE {
			out = append(out, p.GetCode())
		}
	}
	return out
}

// Apply implements supervise.Tier: it opens, in the town's own chain, the
// complaint procedure of every complaint addressed to the town that has
// none yet, and returns how many it opened. The whole chain is observed
// first (Apply is not called while replaying), so a procedure opened
// before a restart is known and not opened twice.
func (t *Town) Apply(ctx context.Context, own *workflow.Flows) (int, error) {
	c := &t.complaints
	n := 0
	for len(c.queue) > 0 {
		id := c.queue[0]
		if _, opened := c.procOf[id]; opened {
			c.queue = c.queue[1:]
			continue
		}
		m := c.byID[id]
		p := &sanziv1.Procedure{Org: t.home, MatterCode: complaint.Matter, SubjectId: id,
			Summary: fmt.Sprintf("村民投诉 %s：%s（%s）", m.GetNumber(), complaint.CategoryName(m.GetCategory()), m.GetVillage())}
		if err := own.CheckOpen(p); err != nil {
			// The catalog in force has no complaint procedure: nothing the
			// town can do until the district publishes one; say so once.
			slog.Error("a complaint cannot open its procedure at the town", "complaint", id, "number", m.GetNumber(), "err", err)
			c.queue = c.queue[1:]
			continue
		}
		st, err := t.b.AppendEntry(ctx, t.home, complaintAuthor, sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, p, id)
		if err != nil {
			return n, fmt.Errorf("open the procedure of complaint %s: %w", id, err)
		}
		c.procOf[id], c.complaintOf[st.ID()] = st.ID(), id
		c.queue = c.queue[1:]
		n++
	}
	return n, nil
}

// complaintAuthor records the procedures the town opens on receiving a
// complaint: the node itself, as it records its alerts.
const complaintAuthor = "system"

// RefuseOwnDecision implements supervise.Tier: the decision that closes a
// complaint's procedure as approved needs a reply recorded first; the
// complainant reads the reply, never the steps alone.
func (t *Town) RefuseOwnDecision(_ *sanziv1.Catalog, d *sanziv1.StepDecision) error {
	c := &t.complaints
	cid := c.complaintOf[d.GetProcedureId()]
	if cid == "" || !d.GetCloses() || d.GetAction() != sanziv1.StepAction_STEP_ACTION_APPROVE || c.replied[d.GetProcedureId()] {
		return nil
	}
	return books.Invalid("decision", "投诉 %s 须先书面答复投诉人再办结：先记录答复（POST /v1/complaints/%s/replies）；a complaint's procedure closes only once a reply to the complainant is recorded",
		c.byID[cid].GetNumber(), cid)
}
