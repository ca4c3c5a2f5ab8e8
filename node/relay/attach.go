package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Attachments travel up before the entries that name them, in pieces, so
// that a village link dropping in the middle of a scanned contract resumes
// at the byte it stopped at; the parent checks the whole against its hash
// and refuses an entry whose attachments it does not hold whole. That way
// an entry never reaches a tier without what it points at.

// PieceSize is the size of one piece of an attachment on the wire.
const PieceSize = 256 << 10

// AttachmentSink is where a parent keeps what its children send: the town's
// attachment store, or the district's replicated state.
type AttachmentSink interface {
	// AttachmentState says how many bytes of h are held and whether the
	// whole is held and matched h.
	AttachmentState(ctx context.Context, h string) (received int64, complete bool, err error)
	// AddPiece stores one piece, which must start at the bytes held. A
	// piece that does not follow is an error that wraps ErrPiece; a whole
	// that does not match its hash, one that wraps ErrMismatch.
	AddPiece(ctx context.Context, p *sanziv1.SyncAttachmentUploadRequest) error
}

// Held is how much of one attachment a parent holds.
type Held struct {
	Received int64
	Complete bool
}

// StatesSink is an AttachmentSink that answers for many attachments in
// one call. The district's sink does, so that checking a push of a
// thousand entries costs one leadership check (a Raft round trip), not
// one per attachment named.
type StatesSink interface {
	AttachmentSink
	// AttachmentStates is AttachmentState for each of hs, in order; an
	// error names the attachment it is about.
	AttachmentStates(ctx context.Context, hs []string) ([]Held, error)
}

// states asks sink about hs, in one call when it can.
func states(ctx context.Context, sink AttachmentSink, hs []string) ([]Held, error) {
	if b, ok := sink.(StatesSink); ok {
		return b.AttachmentStates(ctx, hs)
	}
	out := make([]Held, len(hs))
	for i, h := range hs {
		n, whole, err := sink.AttachmentState(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: %w", h, err)
		}
		out[i] = Held{Received: n, Complete: whole}
	}
	return out, nil
}

// Errors an AttachmentSink wraps, so the parent answers with the right code.
var (
	ErrPiece    = errors.New("sync: attachment piece does not follow what is held")
	ErrMismatch = errors.New("sync: attachment content does not match its hash")
	// ErrQuota: the sender's origin would pass its storage quota at the
	// parent; answered ResourceExhausted with the origin, quota and use.
	ErrQuota = errors.New("sync: attachment storage quota exceeded")
)

// MaxStatesAsked is how many attachments one SyncAttachments may ask
// about.
const MaxStatesAsked = 10_000

// AttachmentStates answers SyncAttachments from sink.
func AttachmentStates(ctx context.Context, sink AttachmentSink, r *sanziv1.SyncAttachmentsRequest) (*sanziv1.SyncAttachmentsResponse, error) {
	if len(r.GetSha256()) > MaxStatesAsked {
		return nil, status.Errorf(codes.InvalidArgument, "sha256: %d hashes, at most %d at a time", len(r.GetSha256()), MaxStatesAsked)
	}
	held, err := states(ctx, sink, r.GetSha256())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "sha256: %v", err)
	}
	out := &sanziv1.SyncAttachmentsResponse{States: make([]*sanziv1.SyncAttachmentState, len(held))}
	for i, h := range r.GetSha256() {
		out.States[i] = &sanziv1.SyncAttachmentState{Sha256: h, Received: held[i].Received, Complete: held[i].Complete}
	}
	return out, nil
}

// ReceiveAttachment serves one SyncAttachmentUpload stream into sink.
func ReceiveAttachment(stream grpc.ClientStreamingServer[sanziv1.SyncAttachmentUploadRequest, sanziv1.SyncAttachmentUploadResponse], sink AttachmentSink) error {
	ctx := stream.Context()
	h := ""
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if h == "" {
			h = p.GetSha256()
		} else if p.GetSha256() != h {
			return status.Errorf(codes.InvalidArgument, "sha256: one upload carries one attachment (%s), not also %s", h, p.GetSha256())
		}
		if err := sink.AddPiece(ctx, p); err != nil {
			switch {
			case errors.Is(err, ErrPiece):
				return status.Errorf(codes.FailedPrecondition, "%v", err)
			case errors.Is(err, ErrMismatch):
				return status.Errorf(codes.DataLoss, "%v", err)
			case errors.Is(err, ErrQuota):
				return status.Errorf(codes.ResourceExhausted, "%v", err)
			}
			if _, ok := status.FromError(err); ok {
				return err
			}
			return status.Errorf(codes.Internal, "store a piece of %s: %v", h, err)
		}
	}
	if h == "" {
		return status.Error(codes.InvalidArgument, "an upload with no piece")
	}
	n, whole, err := sink.AttachmentState(ctx, h)
	if err != nil {
		return status.Errorf(codes.Internal, "read the state of %s: %v", h, err)
	}
	return stream.SendAndClose(&sanziv1.SyncAttachmentUploadResponse{State: &sanziv1.SyncAttachmentState{Sha256: h, Received: n, Complete: whole}})
}

// CheckAttachments refuses a batch with an entry whose attachments the
// parent does not hold whole (FailedPrecondition naming the first), named
// listing the attachments of an encoded entry. The sink is asked once for
// the whole batch (StatesSink), each attachment once however many entries
// name it.
func CheckAttachments(ctx context.Context, sink AttachmentSink, named func(raw []byte) ([]string, error), entries [][]byte) error {
	if sink == nil || named == nil {
		return nil
	}
	var hs []string
	first := map[string]int{} // attachment → the first entry naming it
	for i, raw := range entries {
		names, err := named(raw)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "entry %d: %v", i, err)
		}
		for _, h := range names {
			if _, ok := first[h]; !ok {
				first[h] = i
				hs = append(hs, h)
			}
		}
	}
	if len(hs) == 0 {
		return nil
	}
	held, err := states(ctx, sink, hs)
	if _, ok := status.FromError(err); ok && err != nil {
		return err // the sink's own answer (the district: not the leader, ...)
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "the entries name attachments: %v", err)
	}
	for k, h := range hs { // hs is in entry order: the first refused is the first entry's
		if !held[k].Complete {
			return status.Errorf(codes.FailedPrecondition, "entry %d names attachment %s, of which %d bytes have arrived: send it first (SyncAttachmentUpload)", first[h], h, held[k].Received)
		}
	}
	return nil
}

// AttachmentSource is how an outbox finds and reads what its entries name.
type AttachmentSource struct {
	// Named lists the attachments an encoded entry names.
	Named func(raw []byte) ([]string, error)
	// Get returns an attachment's description and content, checked
	// against its hash.
	Get func(h string) (*sanziv1.Attachment, []byte, error)
}

// sendAttachments makes sure the parent holds whole every attachment the
// entries name, sending what is missing from where the parent stopped;
// held remembers, for the session, what the parent is known to hold.
func (o *Outbox) sendAttachments(ctx context.Context, client sanziv1.SyncServiceClient, entries [][]byte, held map[string]bool) error {
	src := o.cfg.Attachments
	if src == nil {
		return nil
	}
	var ask []string
	for _, raw := range entries {
		hs, err := src.Named(raw)
		if err != nil {
			return fmt.Errorf("list the attachments of an entry: %w", err)
		}
		for _, h := range hs {
			if !held[h] {
				held[h] = true // asked once per batch; unset below if missing
				ask = append(ask, h)
			}
		}
	}
	if len(ask) == 0 {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, o.cfg.AckTimeout)
	states, err := client.SyncAttachments(actx, &sanziv1.SyncAttachmentsRequest{Sha256: ask})
	cancel()
	if err != nil {
		for _, h := range ask {
			delete(held, h)
		}
		return fmt.Errorf("ask the parent which attachments it holds: %w", err)
	}
	for _, st := range states.GetStates() {
		if st.GetComplete() {
			continue
		}
		if err := o.upload(ctx, client, st.GetSha256(), st.GetReceived()); err != nil {
			delete(held, st.GetSha256())
			return err
		}
	}
	return nil
}

// upload sends attachment h from offset on, one stream, with the ack timer
// of a batch per piece.
func (o *Outbox) upload(ctx context.Context, client sanziv1.SyncServiceClient, h string, offset int64) error {
	desc, content, err := o.cfg.Attachments.Get(h)
	if err != nil {
		return fmt.Errorf("read attachment %s to send it up: %w", h, err)
	}
	if offset > int64(len(content)) {
		offset = 0 // the parent holds more than there is: it will refuse and drop it
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stalled := time.AfterFunc(o.cfg.AckTimeout, cancel)
	defer stalled.Stop()
	stream, err := client.SyncAttachmentUpload(ctx)
	if err != nil {
		return fmt.Errorf("open the upload of attachment %s: %w", h, err)
	}
	for off := offset; off < int64(len(content)); off += PieceSize {
		end := min(off+PieceSize, int64(len(content)))
		// Every piece names the file: the piece that completes it may be
		// the first of a resumed upload or the last of this one.
		p := &sanziv1.SyncAttachmentUploadRequest{Sha256: h, Offset: off, Size: int64(len(content)), Data: content[off:end],
			FileName: desc.GetFileName(), ContentType: desc.GetContentType()}
		if err := stream.Send(p); err != nil {
			return fmt.Errorf("send attachment %s at %d of %d bytes: %w", h, off, len(content), recvUploadErr(stream, err))
		}
		stalled.Reset(o.cfg.AckTimeout)
		o.update(func(s *Status) { s.AttachmentBytes += uint64(end - off) })
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("send attachment %s from %d of %d bytes: %w", h, offset, len(content), err)
	}
	if !resp.GetState().GetComplete() {
		return fmt.Errorf("the parent holds %d of the %d bytes of attachment %s after the upload", resp.GetState().GetReceived(), len(content), h)
	}
	o.update(func(s *Status) { s.Attachments++ })
	return nil
}

// recvUploadErr prefers the status the server closed the upload with.
func recvUploadErr(stream grpc.ClientStreamingClient[sanziv1.SyncAttachmentUploadRequest, sanziv1.SyncAttachmentUploadResponse], sendErr error) error {
	if errors.Is(sendErr, io.EOF) {
		if _, err := stream.CloseAndRecv(); err != nil {
			return err
		}
	}
	return sendErr
}
