package town

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/attach"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// VillageAttachments serves the town's villages, on the inbox, the
// attachments they sent up, read-only: a village restored from a backup
// pulls back its entries recorded after the backup (SyncPull) and then the
// attachments those entries name, which its backup does not hold (issue
// 16). A village reads only attachments charged to its own origin, which
// the town recorded when the village sent them, never what it says.
type VillageAttachments struct {
	sanziv1.UnimplementedAttachmentServiceServer
	In    *Inbox
	Store *attach.Store
}

// GetAttachment implements AttachmentService for the calling village.
func (x *VillageAttachments) GetAttachment(ctx context.Context, r *sanziv1.GetAttachmentRequest) (*sanziv1.GetAttachmentResponse, error) {
	_, village, err := x.In.ownVillage(ctx)
	if err != nil {
		return nil, err
	}
	h := r.GetSha256()
	if !attach.ValidHash(h) {
		return nil, status.Errorf(codes.InvalidArgument, "sha256 %q: not a hex SHA-256", h)
	}
	origin, err := x.Store.Origin(h)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read whose attachment %s is: %v", h, err)
	}
	if origin != village {
		// The same answer whether the town holds it for another origin
		// or not at all: a village learns nothing of others' files.
		x.In.log.Warn("attachment read refused", "village", village, "sha256", h)
		return nil, status.Errorf(codes.NotFound, "the town holds no attachment %s sent by %s", h, village)
	}
	desc, content, err := x.Store.Get(h)
	if errors.Is(err, attach.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "the town holds no attachment %s sent by %s", h, village)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read attachment %s: %v", h, err)
	}
	return &sanziv1.GetAttachmentResponse{Attachment: desc, Content: content}, nil
}

// UploadAttachment implements AttachmentService: refused, villages send
// attachments up by sync (SyncAttachmentUpload).
func (x *VillageAttachments) UploadAttachment(context.Context, *sanziv1.UploadAttachmentRequest) (*sanziv1.UploadAttachmentResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "attachments reach the town only by sync, with the entries that name them")
}

// DeleteAttachment implements AttachmentService: refused.
func (x *VillageAttachments) DeleteAttachment(context.Context, *sanziv1.DeleteAttachmentRequest) (*sanziv1.DeleteAttachmentResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "a village does not remove what its town holds")
}
