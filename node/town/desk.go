package town

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Procedures is what the desk reads of the town's supervision: a
// procedure as it stands, rendered, and the supervision brought up to date
// after an append (supervise.Supervisor).
type Procedures interface {
	Procedure(id string) (*workflow.Proc, error)
	ProcedureRecord(p *workflow.Proc) (*sanziv1.ProcedureRecord, error)
	Follow(ctx context.Context) error
}

// Desk is the town's complaints desk (ComplaintService): the complaints of
// the district's chain addressed to the town, each with the contact only
// the town can open, the procedure the town opened for it and its
// replies; and the replies its reviewers record. It reads the books' type
// index, not the supervision's memory, so a list costs the complaints'
// number, not the chain's length.
type Desk struct {
	b   *books.Books
	sup Procedures
	key ed25519.PrivateKey
	// retired are the town's keys before its last rotations: a contact
	// sealed while one of them was current opens with it.
	retired []ed25519.PrivateKey
	home    string
}

// NewDesk is the desk of the town b serves (its first org), opening
// contacts with key, the town chain's signing key, or one of the keys it
// retired.
func NewDesk(b *books.Books, sup Procedures, key ed25519.PrivateKey, retired ...ed25519.PrivateKey) *Desk {
	return &Desk{b: b, sup: sup, key: key, retired: retired, home: b.HomeOrg()}
}

// complaintEntry is a complaint of the district's chain addressed here.
type complaintEntry struct {
	st *ledger.Stored
	c  *sanziv1.Complaint
}

// List returns the complaints addressed to the town, oldest first; status
// (open, completed, rejected, received) keeps those whose procedure stands
// so ("received": not opened yet). What the caller may see of each
// contact follows the signed-in account in ctx.
func (d *Desk) List(ctx context.Context, status string) ([]*sanziv1.ComplaintRecord, error) {
	switch status {
	case "", "received", string(workflow.StatusOpen), string(workflow.StatusCompleted), string(workflow.StatusRejected):
	default:
		return nil, books.Invalid("status", "one of received, open, completed, rejected, not %q", status)
	}
	all, err := d.complaints()
	if err != nil {
		return nil, err
	}
	procs, replies, err := d.own()
	if err != nil {
		return nil, err
	}
	var out []*sanziv1.ComplaintRecord
	for _, e := range all {
		r, err := d.record(ctx, e, procs[e.st.ID()], replies[e.st.ID()])
		if err != nil {
			return nil, err
		}
		st := "received"
		if r.GetProcedure() != nil {
			st = r.GetProcedure().GetStatus()
		}
		if status == "" || status == st {
			out = append(out, r)
		}
	}
	return out, nil
}

// complaints reads the complaints of the district's chain addressed to the
// town.
func (d *Desk) complaints() ([]complaintEntry, error) {
	if len(d.home) != 12 {
		return nil, nil
	}
	var out []complaintEntry
	err := d.b.EachOfType(sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, d.home[:6]+"000000", func(s *ledger.Stored) error {
		c := &sanziv1.Complaint{}
		if proto.Unmarshal(s.Payload, c) == nil && c.GetTown() == d.home {
			out = append(out, complaintEntry{s, c})
		}
		return nil
	})
	return out, err
}

// own reads the town's complaint procedures (by the complaint they are
// about) and replies (by complaint), oldest first.
func (d *Desk) own() (map[string]string, map[string][]*sanziv1.ComplaintReplyRecord, error) {
	procs := map[string]string{}
	err := d.b.EachOfType(sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, d.home, func(s *ledger.Stored) error {
		p := &sanziv1.Procedure{}
		if proto.Unmarshal(s.Payload, p) == nil && p.GetMatterCode() == complaint.Matter && p.GetSubjectId() != "" {
			if _, ok := procs[p.GetSubjectId()]; !ok {
				procs[p.GetSubjectId()] = s.ID()
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	replies := map[string][]*sanziv1.ComplaintReplyRecord{}
	err = d.b.EachOfType(sanziv1.EntryType_ENTRY_TYPE_COMPLAINT_REPLY, d.home, func(s *ledger.Stored) error {
		r := &sanziv1.ComplaintReply{}
		if proto.Unmarshal(s.Payload, r) == nil {
			replies[r.GetComplaintId()] = append(replies[r.GetComplaintId()], &sanziv1.ComplaintReplyRecord{Entry: s.Meta(), Reply: r})
		}
		return nil
	})
	return procs, replies, err
}

// record renders one complaint for the caller in ctx.
func (d *Desk) record(ctx context.Context, e complaintEntry, procID string, replies []*sanziv1.ComplaintReplyRecord) (*sanziv1.ComplaintRecord, error) {
	c := proto.CloneOf(e.c)
	c.ContactSealed = nil
	r := &sanziv1.ComplaintRecord{Entry: e.st.Meta(), Complaint: c, Replies: replies}
	if len(e.c.GetContactSealed()) > 0 {
		// Sealed before the town rotated its key: rekey kept the old one.
		plain, err := complaint.OpenAny(e.c.GetContactSealed(), append([]ed25519.PrivateKey{d.key}, d.retired...)...)
		switch {
		case err != nil:
			r.ContactProblem = "the contact was sealed to a key of the town this node does not hold (rotated with its old key lost?): " + err.Error()
		case seesContact(ctx, d.home):
			r.Contact = string(plain)
		default:
			r.Contact = authz.MaskText(string(plain))
		}
	}
	if procID == "" {
		return r, nil
	}
	p, err := d.sup.Procedure(procID)
	if err != nil {
		return nil, fmt.Errorf("read the procedure %s of complaint %s: %w", procID, e.st.ID(), err)
	}
	if r.Procedure, err = d.sup.ProcedureRecord(p); err != nil {
		return nil, err
	}
	return r, nil
}

// seesContact says whether the account in ctx sees a complainant's contact
// whole: one who handles complaints here (decides steps) or reads personal
// data, in the town's scope. The node's own work (no account) sees it.
func seesContact(ctx context.Context, home string) bool {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return true
	}
	return p.Covers(home) && (p.May(authz.PermDecideStep) || p.May(authz.PermReadPersonal))
}

// Get returns the complaint with entry id.
func (d *Desk) Get(ctx context.Context, id string) (*sanziv1.ComplaintRecord, error) {
	all, err := d.complaints()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(all, func(e complaintEntry) bool { return e.st.ID() == id })
	if i < 0 {
		return nil, fmt.Errorf("%w: no complaint %s addressed to town %s", books.ErrNotFound, id, d.home)
	}
	procs, replies, err := d.own()
	if err != nil {
		return nil, err
	}
	return d.record(ctx, all[i], procs[id], replies[id])
}

// Reply records a reply to a complaint addressed to the town, in the
// town's chain: the complaint's procedure must be open, and a signed-in
// author must be the account in ctx and hold the post of its open step
// (whoever handles the complaint now answers). It returns the reply's
// entry and the complaint as it then stands.
func (d *Desk) Reply(ctx context.Context, author string, r *sanziv1.ComplaintReply) (*ledger.Stored, *sanziv1.ComplaintRecord, error) {
	text := strings.TrimSpace(r.GetText())
	switch {
	case text == "":
		return nil, nil, books.Invalid("reply.text", "required: the reply the complainant will read")
	case !utf8.ValidString(text):
		return nil, nil, books.Invalid("reply.text", "not valid UTF-8")
	case utf8.RuneCountInString(text) > complaint.MaxReply:
		return nil, nil, books.Invalid("reply.text", "%d characters, at most %d", utf8.RuneCountInString(text), complaint.MaxReply)
	case r.GetOrg() != "" && r.GetOrg() != d.home:
		return nil, nil, books.Invalid("reply.org", "this node replies as town %s, not %s", d.home, r.GetOrg())
	}
	cur, err := d.Get(ctx, r.GetComplaintId())
	if errors.Is(err, books.ErrNotFound) {
		return nil, nil, books.Invalid("reply.complaintId", "%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	proc := cur.GetProcedure()
	switch {
	case proc == nil:
		return nil, nil, books.Conflict("reply.complaintId", "the town has not opened the procedure of complaint %s yet; retry in a moment", r.GetComplaintId())
	case proc.GetStatus() != string(workflow.StatusOpen):
		return nil, nil, books.Conflict("reply.complaintId", "the procedure %s of complaint %s is %s: it takes no more replies", proc.GetEntry().GetId(), r.GetComplaintId(), proc.GetStatus())
	}
	var post string
	for _, s := range proc.GetSteps() {
		if s.GetCode() == proc.GetOpenStep() {
			post = s.GetPost()
		}
	}
	if who, ok := authz.FromContext(ctx); ok {
		if author != who.Account {
			return nil, nil, fmt.Errorf("%w: author %q is not the signed-in account %q", books.ErrPermissionDenied, author, who.Account)
		}
		if !slices.Contains(who.Posts, post) {
			return nil, nil, fmt.Errorf("%w: the open step %s of complaint %s is handled by post %s, which account %s does not hold; whoever handles the complaint replies",
				books.ErrPermissionDenied, proc.GetOpenStep(), cur.GetComplaint().GetNumber(), post, who.Account)
		}
	}
	if err := d.b.Validator().Author(author); err != nil {
		return nil, nil, err
	}
	rep := &sanziv1.ComplaintReply{Org: d.home, ComplaintId: r.GetComplaintId(), ProcedureId: proc.GetEntry().GetId(), Text: text, StepCode: proc.GetOpenStep()}
	st, err := d.b.AppendEntry(ctx, d.home, author, sanziv1.EntryType_ENTRY_TYPE_COMPLAINT_REPLY, rep, r.GetComplaintId())
	if err != nil {
		return nil, nil, err
	}
	if err := d.sup.Follow(ctx); err != nil {
		return st, nil, err
	}
	after, err := d.Get(ctx, r.GetComplaintId())
	return st, after, err
}
