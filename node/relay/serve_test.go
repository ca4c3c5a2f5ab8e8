package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// scriptedStream is a server's push stream that receives the batches of a
// script (each one entry: its name, then pad bytes) and then ends with end
// (io.EOF: the child closed its side), counting the receives and keeping
// the answers (the ack's origin, and the count of entries added).
type scriptedStream struct {
	grpc.ServerStream
	ctx     context.Context
	batches []string
	pad     int
	end     error
	// gate holds the batches after the first until the first is being
	// handled, so that the first is handled alone.
	gate     chan struct{}
	gateOnce sync.Once

	mu       sync.Mutex
	received int
	answers  []string
}

func (s *scriptedStream) Context() context.Context     { return s.ctx }
func (s *scriptedStream) SendHeader(metadata.MD) error { return nil }
func (s *scriptedStream) SetHeader(metadata.MD) error  { return nil }
func (s *scriptedStream) SetTrailer(metadata.MD)       {}
func (s *scriptedStream) SendMsg(any) error            { return nil }
func (s *scriptedStream) RecvMsg(any) error            { return nil }

func (s *scriptedStream) Send(r *sanziv1.SyncPushResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, fmt.Sprintf("%s+%d", r.GetAcks()[0].GetOrigin(), r.GetAdded()))
	return nil
}

func (s *scriptedStream) Recv() (*sanziv1.SyncPushRequest, error) {
	if s.receivedSoFar() > 0 {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.received == len(s.batches) {
		return nil, s.end
	}
	s.received++
	entry := append([]byte(s.batches[s.received-1]+":"), make([]byte, s.pad)...)
	return &sanziv1.SyncPushRequest{Entries: [][]byte{entry}}, nil
}

func (s *scriptedStream) receivedSoFar() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// TestServePush: the parent receives the next batches while it handles
// one (each handling waits until the receiver has taken all it may, which
// one-at-a-time receiving never does); it handles those already received
// as one batch, up to MergeBytes, and answers each batch in order with the
// heads after the whole (here the name of its last entry) and the counts
// on the last; it stops at the first refusal (what follows is neither
// handled nor answered), and ends with the stream's error once what came
// before it is answered.
func TestServePush(t *testing.T) {
	refused := errors.New("refused")
	cut := errors.New("link cut")
	for _, c := range []struct {
		name    string
		batches []string
		pad     int
		end     error
		refuse  string // a handled batch holding this entry is refused
		want    error
		handled []string // each handling: its entries
		answers []string
	}{
		{"merged while the parent is busy", []string{"1", "2", "3", "4", "5"}, 0, io.EOF, "", nil,
			[]string{"1", "2 3", "4 5"}, []string{"1+1", "3+0", "3+2", "5+0", "5+2"}},
		{"never past MergeBytes", []string{"1", "2", "3"}, MergeBytes/2 + 1, io.EOF, "", nil,
			[]string{"1", "2", "3"}, []string{"1+1", "2+1", "3+1"}},
		{"stops at a refusal", []string{"1", "2", "3", "4", "5"}, 0, io.EOF, "3", refused,
			[]string{"1", "2 3"}, []string{"1+1"}},
		{"the stream's error after what came before it", []string{"1", "2", "3"}, 0, cut, "", cut,
			[]string{"1", "2 3"}, []string{"1+1", "3+0", "3+2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := &scriptedStream{ctx: ctx, batches: c.batches, pad: c.pad, end: c.end, gate: make(chan struct{})}
			var handled []string
			taken := 0 // batches handled so far
			err := ServePush(s, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
				s.gateOnce.Do(func() { close(s.gate) })
				var names []string
				for _, e := range req.GetEntries() {
					names = append(names, string(e[:bytes.IndexByte(e, ':')]))
				}
				handled = append(handled, strings.Join(names, " "))
				taken += len(names)
				for deadline := time.Now().Add(5 * time.Second); s.receivedSoFar() < min(len(c.batches), taken+ReadAhead); time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%d batches received while batch %d was handled, want %d: the parent does not read ahead", s.receivedSoFar(), taken, min(len(c.batches), taken+ReadAhead))
					}
				}
				if slices.Contains(names, c.refuse) {
					return nil, refused
				}
				return &sanziv1.SyncPushResponse{Added: int64(len(names)), Acks: []*sanziv1.SyncAck{{Origin: names[len(names)-1]}}}, nil
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("ServePush ended with %v, want %v", err, c.want)
			}
			if !slices.Equal(handled, c.handled) {
				t.Errorf("handled %q, want %q", handled, c.handled)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if !slices.Equal(s.answers, c.answers) {
				t.Errorf("answered %q, want %q", s.answers, c.answers)
			}
		})
	}
}
