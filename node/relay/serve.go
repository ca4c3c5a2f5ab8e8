package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

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
//
// Batches already received when the parent is ready for the next are
// handled as one (up to MergeBytes): a parent slower than its child then
// pays its store's fixed cost (an fsync, a Raft commit) once for them, not
// once each. That is the batch the child would have sent with a larger
// bound: an origin's entries stay in order, each part still ends on a
// signed entry, and the whole is verified and refused as one. Each batch
// is still answered, in order, once all of it is stored, each with the
// heads after the whole (at or beyond its own last entries, which is what
// the child checks); the counts of added and duplicate entries go with the
// last answer. The parent never waits for a batch to merge.
//
// TODO(issue 17): a batch is still verified only after the one before it
// is stored (the town's append, the district's Raft commit, 20-110 ms a
// batch on 2 busy cores): verifying the next against the heads the
// previous one leaves, while it commits, would overlap them (the ledger
// and the district's FSM check links again when they store).
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
	var held *received // received while merging, and not merged
	for {
		var r received
		if held != nil {
			r, held = *held, nil
		} else {
			r = <-next
		}
		if errors.Is(r.err, io.EOF) {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		req, batches, size := r.req, 1, batchBytes(r.req)
	merge:
		for size < MergeBytes {
			select {
			case m := <-next:
				mb := batchBytes(m.req) // 0 for an error's
				if m.err != nil || size+mb > MergeBytes {
					held = &m // answered after the merged batches, or the stream's end
					break merge
				}
				if batches == 1 {
					req = &sanziv1.SyncPushRequest{Entries: slices.Clip(req.GetEntries()), Certificates: slices.Clip(req.GetCertificates())}
				}
				req.Entries = append(req.Entries, m.req.GetEntries()...)
				req.Certificates = append(req.Certificates, m.req.GetCertificates()...)
				batches++
				size += mb
			default:
				break merge
			}
		}
		resp, err := handle(req)
		if err != nil {
			return err
		}
		for i := 1; i < batches; i++ {
			if err := stream.Send(&sanziv1.SyncPushResponse{Acks: resp.GetAcks()}); err != nil {
				return err
			}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// ReadAhead is how many batches a parent receives of one push stream while
// it handles an earlier one (ServePush): 2 is enough for the receive to
// overlap the store, and bounds what a child makes the parent hold (each
// batch at most the gRPC message limit).
const ReadAhead = 2

// MergeBytes bounds the entries of the batches a parent handles as one
// (ServePush): 2 MiB, two of a child's batches (Config.MaxBatchBytes). The
// district coalesces pushes into a Raft entry until it holds
// cluster.Config.MaxBatchBytes (4 MiB), the last push taken whole, so one
// entry may now reach 6 MiB rather than 5.
const MergeBytes = 2 << 20

func batchBytes(r *sanziv1.SyncPushRequest) int {
	n := 0
	for _, e := range r.GetEntries() {
		n += len(e)
	}
	return n
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
