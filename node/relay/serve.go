package relay

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // children compress their batches
	"google.golang.org/grpc/metadata"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ServePush is a parent's side of one SyncPush stream once the pusher is
// authorised: each batch is handled (verified, stored) and answered in
// order; the first error ends the stream with its status.
func ServePush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse], handle func(*sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error)) error {
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := handle(req)
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// StoreSink keeps attachments arriving from children in a node's
// attachment store.
type StoreSink struct{ Store *attach.Store }

// AttachmentState implements AttachmentSink.
func (s StoreSink) AttachmentState(_ context.Context, h string) (int64, bool, error) {
	return s.Store.Received(h)
}

// AddPiece implements AttachmentSink: the attachment is charged to the
// sending node's org, whose quota it must fit. The inbox has refused a
// caller without a certificate before this; a sink used with no TLS (tests,
// a local copy) charges nobody.
func (s StoreSink) AddPiece(ctx context.Context, p *sanziv1.SyncAttachmentUploadRequest) error {
	origin := ""
	if _, org, _, err := pki.PeerIdentity(ctx); err == nil {
		origin = org
	}
	_, _, err := s.Store.AddPiece(origin, p.GetSha256(), p.GetOffset(), p.GetSize(), p.GetData(), p.GetFileName(), p.GetContentType())
	switch {
	case errors.Is(err, attach.ErrQuota):
		return fmt.Errorf("%w: %v", ErrQuota, err)
	case errors.Is(err, attach.ErrPiece), errors.Is(err, attach.ErrTooLarge), errors.Is(err, attach.ErrBadHash):
		return fmt.Errorf("%w: %v", ErrPiece, err)
	case errors.Is(err, attach.ErrHashMismatch):
		return fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	return err
}
