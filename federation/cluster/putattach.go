package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/grpc/metadata"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/relay"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// PutAttachment stores content whole in the replicated state, charged to
// origin, and returns its hex SHA-256: what the member itself takes in for
// an entry it is about to write (a villager's photo on the public site,
// issue 15), where no node sent it. Pieces go through Raft on the leader
// as a child's do (relay.PieceSize each); a follower sends them to the
// leader as a forwarded upload naming origin. An attachment already held
// whole is not sent again, and one held in part is resumed.
func (s *Service) PutAttachment(ctx context.Context, origin string, content []byte, fileName, contentType string) (string, error) {
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	piece := func(off int64) *clusterv1.AttachmentChunk {
		end := min(off+relay.PieceSize, int64(len(content)))
		return &clusterv1.AttachmentChunk{Sha256: h, Offset: off, Size: int64(len(content)), Data: content[off:end], FileName: fileName, ContentType: contentType}
	}
	if !s.n.IsLeader() {
		return h, s.forwardAttachment(ctx, origin, h, piece)
	}
	if err := s.n.Linearize(); err != nil {
		return "", toStatus(err)
	}
	held, whole, err := s.n.FSM().AttachmentState(h)
	if err != nil || whole {
		return h, err
	}
	for off := held; off < int64(len(content)); off += relay.PieceSize {
		c := piece(off)
		if err := s.n.stampFor(c, origin); err != nil {
			return "", err
		}
		if err := s.n.AddAttachmentPiece(ctx, c); err != nil {
			if errors.Is(err, fsm.ErrAttachmentMismatch) {
				return "", fmt.Errorf("%w: %v", relay.ErrMismatch, err)
			}
			return "", fmt.Errorf("store attachment %s at %d: %w", h, off, err)
		}
	}
	return h, nil
}

// forwardAttachment sends an attachment to the leader as an upload a
// member forwards, charged to origin (pieceOrigin reads it there).
func (s *Service) forwardAttachment(ctx context.Context, origin, h string, piece func(int64) *clusterv1.AttachmentChunk) error {
	c, fctx, err := s.leaderConn(ctx)
	if err != nil {
		return err
	}
	client := sanziv1.NewSyncServiceClient(c)
	states, err := client.SyncAttachments(fctx, &sanziv1.SyncAttachmentsRequest{Sha256: []string{h}})
	if err != nil {
		return s.forwardErr(err)
	}
	var held int64
	if st := states.GetStates(); len(st) == 1 {
		if st[0].GetComplete() {
			return nil
		}
		held = st[0].GetReceived()
	}
	stream, err := client.SyncAttachmentUpload(metadata.AppendToOutgoingContext(fctx, originKey, origin))
	if err != nil {
		return s.forwardErr(err)
	}
	first := piece(0)
	for off := held; off < first.GetSize(); off += relay.PieceSize {
		p := piece(off)
		if err := stream.Send(&sanziv1.SyncAttachmentUploadRequest{Sha256: p.GetSha256(), Offset: p.GetOffset(), Size: p.GetSize(), Data: p.GetData(),
			FileName: p.GetFileName(), ContentType: p.GetContentType()}); err != nil {
			_, rerr := stream.CloseAndRecv()
			return s.forwardErr(errors.Join(err, rerr))
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return s.forwardErr(err)
	}
	if !resp.GetState().GetComplete() {
		return fmt.Errorf("the leader holds %d of the %d bytes of attachment %s after the upload", resp.GetState().GetReceived(), first.GetSize(), h)
	}
	return nil
}
