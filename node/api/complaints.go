package api

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ComplaintDesk is the town's complaints desk (node/town.Desk): the
// villagers' complaints addressed to the town, and its replies.
type ComplaintDesk interface {
	// List returns the complaints, oldest first, those whose procedure
	// stands in status when it is set; contacts as the account in ctx may
	// see them. Errors are the books'.
	List(ctx context.Context, status string) ([]*sanziv1.ComplaintRecord, error)
	// Reply records a reply by author and returns its entry and the
	// complaint after it. Errors are the books'.
	Reply(ctx context.Context, author string, r *sanziv1.ComplaintReply) (*ledger.Stored, *sanziv1.ComplaintRecord, error)
}

// SetComplaints gives the service the town's complaints desk; a node
// without one (a village) answers ComplaintService with
// FailedPrecondition.
func (s *Service) SetComplaints(d ComplaintDesk) { s.desk = d }

func (s *Service) complaintDesk() (ComplaintDesk, error) {
	if s.desk == nil {
		return nil, status.Error(codes.FailedPrecondition, "villagers' complaints are handled at the town node: they come down the district's chain to the village's town")
	}
	return s.desk, nil
}

// ListComplaints implements ComplaintService.
func (s *Service) ListComplaints(ctx context.Context, r *sanziv1.ListComplaintsRequest) (*sanziv1.ListComplaintsResponse, error) {
	d, err := s.complaintDesk()
	if err != nil {
		return nil, err
	}
	out, err := d.List(ctx, r.GetStatus())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListComplaintsResponse{Complaints: out}, nil
}

// ReplyComplaint implements ComplaintService.
func (s *Service) ReplyComplaint(ctx context.Context, r *sanziv1.ReplyComplaintRequest) (*sanziv1.ReplyComplaintResponse, error) {
	if err := signedIn(ctx, "reply to a complaint"); err != nil {
		return nil, err
	}
	d, err := s.complaintDesk()
	if err != nil {
		return nil, err
	}
	st, rec, err := d.Reply(ctx, r.GetAuthor(), r.GetReply())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ReplyComplaintResponse{Entry: st.Meta(), Complaint: rec}, nil
}
