package relay

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// scriptedStream is a server's push stream that receives the batches of a
// script (each named by its one entry) and then ends with end (io.EOF: the
// child closed its side), counting the receives and keeping the acks.
type scriptedStream struct {
	grpc.ServerStream
	ctx     context.Context
	batches []string
	end     error

	mu       sync.Mutex
	received int
	acked    []string
}

func (s *scriptedStream) Context() context.Context     { return s.ctx }
func (s *scriptedStream) SendHeader(metadata.MD) error { return nil }
func (s *scriptedStream) SetHeader(metadata.MD) error  { return nil }
func (s *scriptedStream) SetTrailer(metadata.MD)       {}
func (s *scriptedStream) SendMsg(any) error            { return nil }
func (s *scriptedStream) RecvMsg(any) error            { return nil }
func (s *scriptedStream) receivedSoFar() int           { s.mu.Lock(); defer s.mu.Unlock(); return s.received }
func (s *scriptedStream) answers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked)
}
func (s *scriptedStream) Send(r *sanziv1.SyncPushResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, r.GetAcks()[0].GetOrigin())
	return nil
}

func (s *scriptedStream) Recv() (*sanziv1.SyncPushRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.received == len(s.batches) {
		return nil, s.end
	}
	s.received++
	return &sanziv1.SyncPushRequest{Entries: [][]byte{[]byte(s.batches[s.received-1])}}, nil
}

// TestServePushReadsAhead: the parent receives the next batch while it
// handles one (the first batch's handling waits until the second has been
// received, which one-at-a-time receiving never does), yet handles and
// answers them one at a time in order, stops at the first refusal (what
// follows is neither handled nor answered), and ends with the stream's
// error once what came before it is answered.
func TestServePushReadsAhead(t *testing.T) {
	refused := errors.New("refused")
	cut := errors.New("link cut")
	for _, c := range []struct {
		name     string
		batches  []string
		end      error
		refuse   string // the batch the handler refuses
		want     error
		answered []string
	}{
		{"all handled in order", []string{"a", "b", "c", "d"}, io.EOF, "", nil, []string{"a", "b", "c", "d"}},
		{"stops at a refusal", []string{"a", "b", "c", "d"}, io.EOF, "b", refused, []string{"a"}},
		{"the stream's error after what came before it", []string{"a", "b", "c"}, cut, "", cut, []string{"a", "b", "c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := &scriptedStream{ctx: ctx, batches: c.batches, end: c.end}
			var handled []string
			err := ServePush(s, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
				name := string(req.GetEntries()[0])
				handled = append(handled, name)
				if len(handled) == 1 {
					for deadline := time.Now().Add(5 * time.Second); s.receivedSoFar() < 2; time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("the second batch was not received while the first was handled")
						}
					}
				}
				if name == c.refuse {
					return nil, refused
				}
				return &sanziv1.SyncPushResponse{Acks: []*sanziv1.SyncAck{{Origin: name}}}, nil
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("ServePush ended with %v, want %v", err, c.want)
			}
			if got := s.answers(); !slices.Equal(got, c.answered) {
				t.Fatalf("answered %v, want %v", got, c.answered)
			}
			if want := c.answered; c.refuse != "" {
				want = append(slices.Clone(want), c.refuse)
				if !slices.Equal(handled, want) {
					t.Fatalf("handled %v, want %v", handled, want)
				}
			}
			if r := s.receivedSoFar(); r > len(c.answered)+1+ReadAhead {
				t.Fatalf("received %d batches with %d answered: more than ReadAhead (%d) ahead of the one handled", r, len(c.answered), ReadAhead)
			}
		})
	}
}
