package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// attachSink keeps the attachments children send in the replicated state:
// pieces go through Raft on the leader, so a receipt survives the loss of
// any member. On a follower both the question and the pieces go to the
// leader, whose state is the one the pieces must follow.
type attachSink struct{ s *Service }

var _ relay.StatesSink = attachSink{}

// AttachmentState implements relay.AttachmentSink.
func (a attachSink) AttachmentState(ctx context.Context, h string) (int64, bool, error) {
	if !a.s.n.IsLeader() {
		c, fctx, err := a.s.leaderConn(ctx)
		if err != nil {
			return 0, false, err
		}
		resp, err := sanziv1.NewSyncServiceClient(c).SyncAttachments(fctx, &sanziv1.SyncAttachmentsRequest{Sha256: []string{h}})
		if err != nil {
			return 0, false, a.s.forwardErr(err)
		}
		if len(resp.GetStates()) != 1 {
			return 0, false, fmt.Errorf("the leader answered %d states for one attachment", len(resp.GetStates()))
		}
		return resp.GetStates()[0].GetReceived(), resp.GetStates()[0].GetComplete(), nil
	}
	if err := a.s.n.Linearize(); err != nil {
		return 0, false, toStatus(err)
	}
	return a.s.n.FSM().AttachmentState(h)
}

// AttachmentStates implements relay.StatesSink: one leadership check for
// the whole list (a push naming a thousand attachments made a thousand),
// or one question to the leader per 10,000 attachments (its limit).
func (a attachSink) AttachmentStates(ctx context.Context, hs []string) ([]relay.Held, error) {
	if !a.s.n.IsLeader() {
		c, fctx, err := a.s.leaderConn(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]relay.Held, 0, len(hs))
		for part := range slices.Chunk(hs, relay.MaxStatesAsked) {
			resp, err := sanziv1.NewSyncServiceClient(c).SyncAttachments(fctx, &sanziv1.SyncAttachmentsRequest{Sha256: part})
			if err != nil {
				return nil, a.s.forwardErr(err)
			}
			if len(resp.GetStates()) != len(part) {
				return nil, fmt.Errorf("the leader answered %d states for %d attachments", len(resp.GetStates()), len(part))
			}
			for _, st := range resp.GetStates() {
				out = append(out, relay.Held{Received: st.GetReceived(), Complete: st.GetComplete()})
			}
		}
		return out, nil
	}
	if err := a.s.n.Linearize(); err != nil {
		return nil, toStatus(err)
	}
	out := make([]relay.Held, len(hs))
	err := a.s.n.FSM().AttachmentStates(hs, func(i int, received int64, complete bool) {
		out[i] = relay.Held{Received: received, Complete: complete}
	})
	return out, err
}

// AddPiece implements relay.AttachmentSink.
func (a attachSink) AddPiece(ctx context.Context, p *sanziv1.SyncAttachmentUploadRequest) error {
	if !a.s.n.IsLeader() {
		origin, err := pieceOrigin(ctx)
		if err != nil {
			return status.Errorf(codes.Unauthenticated, "%v", err)
		}
		c, fctx, err := a.s.leaderConn(ctx)
		if err != nil {
			return err
		}
		fctx = metadata.AppendToOutgoingContext(fctx, originKey, origin)
		stream, err := sanziv1.NewSyncServiceClient(c).SyncAttachmentUpload(fctx)
		if err != nil {
			return a.s.forwardErr(err)
		}
		if err := stream.Send(p); err != nil {
			_, rerr := stream.CloseAndRecv()
			return a.s.forwardErr(errors.Join(err, rerr))
		}
		_, err = stream.CloseAndRecv()
		return a.s.forwardErr(err)
	}
	c := &clusterv1.AttachmentChunk{Sha256: p.GetSha256(), Offset: p.GetOffset(), Size: p.GetSize(),
		Data: p.GetData(), FileName: p.GetFileName(), ContentType: p.GetContentType()}
	if err := a.s.n.stampPiece(ctx, c); err != nil {
		return err
	}
	err := a.s.n.AddAttachmentPiece(ctx, c)
	switch {
	case errors.Is(err, fsm.ErrAttachment), errors.Is(err, fsm.ErrBadCommand):
		return fmt.Errorf("%w: %v", relay.ErrPiece, err)
	case errors.Is(err, fsm.ErrAttachmentMismatch):
		return fmt.Errorf("%w: %v", relay.ErrMismatch, err)
	case err != nil:
		return toStatus(err)
	}
	return nil
}

// SyncAttachments implements SyncService.
func (x *SyncServer) SyncAttachments(ctx context.Context, r *sanziv1.SyncAttachmentsRequest) (*sanziv1.SyncAttachmentsResponse, error) {
	if _, _, err := peerIdentity(ctx); err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%v", err)
	}
	return relay.AttachmentStates(ctx, attachSink{x.s}, r)
}

// SyncAttachmentUpload implements SyncService: any node of the district may
// send an attachment up; it is named by its hash, so nobody can send one in
// another's place.
func (x *SyncServer) SyncAttachmentUpload(stream grpc.ClientStreamingServer[sanziv1.SyncAttachmentUploadRequest, sanziv1.SyncAttachmentUploadResponse]) error {
	if _, _, err := peerIdentity(stream.Context()); err != nil {
		return status.Errorf(codes.Unauthenticated, "%v", err)
	}
	return relay.ReceiveAttachment(stream, attachSink{x.s})
}

// AttachmentServer serves the attachments the district holds, read-only:
// they reach the district only by sync, with the entries that name them.
type AttachmentServer struct {
	sanziv1.UnimplementedAttachmentServiceServer
	n *Node
}

// NewAttachmentServer serves n's attachments.
func NewAttachmentServer(n *Node) *AttachmentServer { return &AttachmentServer{n: n} }

// GetAttachment implements AttachmentService.
// A node certificate reads only attachments charged to a chain it may
// pull (pki.May): a village its own, a town its own and its villages'.
func (x *AttachmentServer) GetAttachment(ctx context.Context, r *sanziv1.GetAttachmentRequest) (*sanziv1.GetAttachmentResponse, error) {
	if err := x.mayRead(ctx, r.GetSha256()); err != nil {
		return nil, err
	}
	desc, content, err := x.n.FSM().Attachment(r.GetSha256())
	if errors.Is(err, fsm.ErrNoAttachment) {
		return nil, status.Errorf(codes.NotFound, "%v", err)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read attachment %s: %v", r.GetSha256(), err)
	}
	return &sanziv1.GetAttachmentResponse{Attachment: desc, Content: content}, nil
}

// mayRead refuses a signed-in person an attachment charged to an origin
// outside the account's scope (the interceptor admitted the account to
// read; the attachment's origin is what the district recorded when the
// entry naming it came up, never what the caller says), and a node
// certificate one charged to an origin it may not pull; either one
// charged to no origin recorded. An attachment of the district's own
// chain is narrower (readerOf): a complaint's photo is for the town that
// answers it, not for every node that pulls the district's chain (the
// village complained about among them).
func (x *AttachmentServer) mayRead(ctx context.Context, h string) error {
	origin, err := x.n.FSM().AttachmentOrigin(h)
	if err != nil {
		return status.Errorf(codes.Internal, "read whose attachment %s is: %v", h, err)
	}
	reader, why, err := x.readerOf(h, origin)
	if err != nil {
		return status.Errorf(codes.Internal, "read what attachment %s is for: %v", h, err)
	}
	if p, ok := authz.FromContext(ctx); ok {
		switch {
		case origin == "":
			return status.Errorf(codes.PermissionDenied, "%s (org %s) may not read attachment %s: the district records no origin for it", p.Account, p.Org, h)
		case !p.Covers(reader):
			return status.Errorf(codes.PermissionDenied, "%s (org %s) may not read attachment %s of %s: outside the account's org%s", p.Account, p.Org, h, reader, why)
		}
		return nil
	}
	org, role, err := peerIdentity(ctx)
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "%v", err)
	}
	switch {
	case role == pki.RoleDistrict:
		return nil
	case origin == "":
		return status.Errorf(codes.PermissionDenied, "%s %s may not read attachment %s: the district records no origin for it", role, org, h)
	case reader != origin:
		if role != pki.RoleTown || org != reader {
			return status.Errorf(codes.PermissionDenied, "%s %s may not read attachment %s%s", role, org, h, why)
		}
		return nil
	}
	if err := pki.May(org, role, pki.Pull, origin); err != nil {
		return status.Errorf(codes.PermissionDenied, "attachment %s of %s: %v", h, origin, err)
	}
	return nil
}

// readerOf is the org whose scope may read h, charged to origin, and why
// when it is not origin itself. The district's own attachments are read
// by what names them: a complaint's photos by the complaint's town; one
// nothing names yet (a photo uploaded before its complaint is committed)
// by the district alone.
func (x *AttachmentServer) readerOf(h, origin string) (string, string, error) {
	if lvl, err := idcode.OrgCode(origin); err != nil || lvl != idcode.LevelDistrict {
		return origin, "", nil
	}
	id, err := x.n.FSM().AttachmentLockedBy(h)
	if err != nil {
		return "", "", err
	}
	if id == "" {
		return origin, ": a district attachment no entry names yet is the district's alone", nil
	}
	eo, seq, err := ledger.ParseEntryID(id)
	if err != nil {
		return "", "", fmt.Errorf("the entry %q naming it: %w", id, err)
	}
	var named *ledger.Stored
	if err := x.n.FSM().Range(eo, seq, 1, func(s *ledger.Stored) bool { named = s; return false }); err != nil {
		return "", "", fmt.Errorf("read entry %s naming it: %w", id, err)
	}
	if named == nil || named.Seq != seq || named.Type != sanziv1.EntryType_ENTRY_TYPE_COMPLAINT {
		return origin, "", nil
	}
	c := &sanziv1.Complaint{}
	if err := proto.Unmarshal(named.Payload, c); err != nil {
		return "", "", fmt.Errorf("read complaint %s: %w", id, err)
	}
	return c.GetTown(), fmt.Sprintf(": a photo of complaint %s is for town %s only", c.GetNumber(), c.GetTown()), nil
}

// UploadAttachment implements AttachmentService: refused.
func (x *AttachmentServer) UploadAttachment(context.Context, *sanziv1.UploadAttachmentRequest) (*sanziv1.UploadAttachmentResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "attachments reach the district only by sync, with the entries that name them")
}

// DeleteAttachment implements AttachmentService: refused, nothing the
// district holds is ever removed.
func (x *AttachmentServer) DeleteAttachment(context.Context, *sanziv1.DeleteAttachmentRequest) (*sanziv1.DeleteAttachmentResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "nothing the district holds is removed")
}
