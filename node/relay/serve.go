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
//
// The next batches are received while one is handled (up to ReadAhead
// of them): receiving a batch (TLS, gzip, protobuf) is as long as a good
// part of storing it, and the child pipelines its batches (relay.Outbox's
// window) so that the parent never waits for the next one; received one
// at a time, after the ack of the previous one, the parent's store (a
// town's fsync, the district's Raft commit) and its receive took turns.
// Batches are still handled one at a time, in order, and a batch is
// acknowledged only once handled, so what an ack says is unchanged.
func ServePush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse], handle func(*sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error)) error {
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	type received struct {
		req *sanziv1.SyncPushRequest
		err error
	}
	// The receiver ends at the stream's first error (io.EOF included),
	// which it passes on; or, once ServePush returned, when gRPC ends the
	// stream (its Recv then fails) and done lets it go without a reader.
	next := make(chan received, ReadAhead-1) // and one in the receiver's hands
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			req, err := stream.Recv()
			select {
			case next <- received{req, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for r := range next {
		if errors.Is(r.err, io.EOF) {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		resp, err := handle(r.req)
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil // not reached: the receiver ends on an error it passes on
}

// ReadAhead is how many batches a parent receives of one push stream while
// it handles an earlier one (ServePush): 2 is enough for the receive to
// overlap the store, and bounds what a child makes the parent hold (each
// batch at most the gRPC message limit).
const ReadAhead = 2

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
