package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const village = "350505100201"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// named is the test's stand-in for entries.Attachments: a payload
// "att:<hash>" names that attachment.
func named(raw []byte) ([]string, error) {
	s, err := ledger.Decode(raw)
	if err != nil {
		return nil, err
	}
	if h, ok := strings.CutPrefix(string(s.Payload), "att:"); ok {
		return []string{h}, nil
	}
	return nil, nil
}

func openStore(t *testing.T, dir string) *attach.Store {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "attach.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := attach.Open(filepath.Join(dir, "files"), db, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flakySink fails the piece after the first `after` pieces of every
// attachment, once each, as a link dropping mid-file would.
type flakySink struct {
	AttachmentSink
	after  int
	mu     sync.Mutex
	pieces map[string]int
	failed map[string]bool
	cuts   atomic.Int32
	stored atomic.Int64 // bytes of pieces stored
	behind atomic.Int32 // pieces refused for not following what is held
}

func (f *flakySink) AddPiece(ctx context.Context, p *sanziv1.SyncAttachmentUploadRequest) error {
	f.mu.Lock()
	f.pieces[p.GetSha256()]++
	fail := f.pieces[p.GetSha256()] > f.after && !f.failed[p.GetSha256()]
	if fail {
		f.failed[p.GetSha256()] = true
	}
	f.mu.Unlock()
	if fail {
		f.cuts.Add(1)
		return status.Error(codes.Unavailable, "link dropped")
	}
	err := f.AttachmentSink.AddPiece(ctx, p)
	switch {
	case errors.Is(err, ErrPiece):
		f.behind.Add(1)
	case err == nil:
		f.stored.Add(int64(len(p.GetData())))
	}
	return err
}

// storingParent takes pushes like a town would, without TLS: it refuses a batch
// naming an attachment it does not hold whole, and acks the rest.
type storingParent struct {
	sanziv1.UnimplementedSyncServiceServer
	sink  AttachmentSink
	mu    sync.Mutex
	heads map[string]*sanziv1.SyncAck
	held  int
}

func (p *storingParent) SyncHeads(context.Context, *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := &sanziv1.SyncHeadsResponse{}
	for _, h := range p.heads {
		out.Heads = append(out.Heads, h)
	}
	return out, nil
}

func (p *storingParent) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		if err := CheckAttachments(stream.Context(), p.sink, named, req.GetEntries()); err != nil {
			return err
		}
		resp := &sanziv1.SyncPushResponse{}
		p.mu.Lock()
		for _, raw := range req.GetEntries() {
			l, _ := ledger.Peek(raw)
			if h := p.heads[l.Origin]; h == nil || h.GetSeq() < l.Seq {
				p.heads[l.Origin] = &sanziv1.SyncAck{Origin: l.Origin, Seq: l.Seq, Hash: hex.EncodeToString(l.Hash[:])}
				p.held++
			}
		}
		for _, h := range p.heads {
			resp.Acks = append(resp.Acks, h)
		}
		p.mu.Unlock()
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (p *storingParent) SyncAttachments(ctx context.Context, r *sanziv1.SyncAttachmentsRequest) (*sanziv1.SyncAttachmentsResponse, error) {
	return AttachmentStates(ctx, p.sink, r)
}

func (p *storingParent) SyncAttachmentUpload(stream grpc.ClientStreamingServer[sanziv1.SyncAttachmentUploadRequest, sanziv1.SyncAttachmentUploadResponse]) error {
	return ReceiveAttachment(stream, p.sink)
}

// TestAttachmentsTravelBeforeTheirEntries: a child's entries name three
// attachments (one of a single byte, two of several pieces); the parent
// refuses entries without them, and the link drops in the middle of every
// attachment once. Everything arrives, each attachment's content is the
// child's, and no byte of an attachment is sent twice: each upload resumes
// where the parent stopped.
func TestAttachmentsTravelBeforeTheirEntries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ring := keys.NewRing()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ring.Add(village, priv)
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	child := openStore(t, filepath.Join(dir, "child"))
	var sizes []int
	var hashes []string
	var total int
	for _, n := range []int{1, 3*PieceSize + 17, 2 * PieceSize} {
		content := make([]byte, n)
		rand.Read(content)
		a, err := child.Put(content, "scan.pdf", "application/pdf", "")
		if err != nil {
			t.Fatal(err)
		}
		hashes, sizes, total = append(hashes, a.GetSha256()), append(sizes, n), total+n
	}
	var recs []ledger.Record
	for i := range 30 {
		p := []byte("plain")
		if i%10 == 5 {
			p = []byte("att:" + hashes[i/10])
		}
		recs = append(recs, ledger.Record{Origin: village, Author: "t", Type: sanziv1.EntryType(1), Payload: p})
	}
	if _, err := l.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}

	parentStore := openStore(t, filepath.Join(dir, "parent"))
	sink := &flakySink{AttachmentSink: StoreSink{Store: parentStore}, after: 1, pieces: map[string]int{}, failed: map[string]bool{}}
	par := &storingParent{sink: sink, heads: map[string]*sanziv1.SyncAck{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sanziv1.RegisterSyncServiceServer(srv, par)
	go srv.Serve(ln)
	defer srv.Stop()
	dial := func(context.Context) (sanziv1.SyncServiceClient, func(), error) {
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		return sanziv1.NewSyncServiceClient(conn), func() { conn.Close() }, nil
	}
	out, err := New(Config{Ledger: l, Origin: village, Dial: dial, MaxBatchBytes: 2 << 10, Base: time.Millisecond, Max: 5 * time.Millisecond,
		Poll: 5 * time.Millisecond, AckTimeout: 10 * time.Second, Logger: quiet,
		Attachments: &AttachmentSource{Named: named, Get: child.Get}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- out.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for out.Status().Acked < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("not all entries acked: %+v", out.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	st := out.Status()
	if got := sink.cuts.Load(); got != 2 {
		t.Errorf("the link dropped %d times mid-attachment, want 2 (once in each attachment of more than one piece)", got)
	}
	// Each upload after a drop starts at what the parent holds: no piece is
	// stored twice or refused for starting behind. (The child sends more
	// than the total: pieces in flight when the link dropped.)
	if st.Attachments != 3 || sink.stored.Load() != int64(total) || sink.behind.Load() != 0 || st.AttachmentBytes < uint64(total) {
		t.Errorf("%d attachments sent whole, %d bytes sent; the parent stored %d bytes and refused %d pieces as behind; want 3, at least %d, exactly %d, 0",
			st.Attachments, st.AttachmentBytes, sink.stored.Load(), sink.behind.Load(), total, total)
	}
	t.Logf("3 attachments of %d bytes with 2 drops mid-file: %d bytes sent, %d stored", total, st.AttachmentBytes, sink.stored.Load())
	for i, h := range hashes {
		_, content, err := parentStore.Get(h)
		if err != nil {
			t.Fatalf("attachment %d at the parent: %v", i, err)
		}
		sum := sha256.Sum256(content)
		if len(content) != sizes[i] || hex.EncodeToString(sum[:]) != h {
			t.Errorf("attachment %d at the parent: %d bytes hashing to %x", i, len(content), sum[:6])
		}
	}
	if par.held != 30 {
		t.Errorf("the parent holds %d entries, want 30", par.held)
	}
}

// TestCheckAttachments: a batch is refused while an attachment it names is
// missing or partly held, and taken once it is whole.
func TestCheckAttachments(t *testing.T) {
	ctx := context.Background()
	ring := keys.NewRing()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ring.Add(village, priv)
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Keys: ring, NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	content := bytes.Repeat([]byte("receipt "), 1000)
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	st, err := l.Append(ctx, ledger.Record{Origin: village, Author: "t", Type: sanziv1.EntryType(1), Payload: []byte("att:" + h)})
	if err != nil {
		t.Fatal(err)
	}
	batch := [][]byte{st[0].Raw}
	store := openStore(t, t.TempDir())
	sink := StoreSink{Store: store}
	add := func(off, n int) error {
		return sink.AddPiece(ctx, &sanziv1.SyncAttachmentUploadRequest{Sha256: h, Offset: int64(off), Size: int64(len(content)), Data: content[off : off+n]})
	}
	tests := []struct {
		name   string
		before func() error
		code   codes.Code
		want   string
	}{
		{"missing", func() error { return nil }, codes.FailedPrecondition, "of which 0 bytes have arrived"},
		{"partly held", func() error { return add(0, 3000) }, codes.FailedPrecondition, "of which 3000 bytes have arrived"},
		{"a piece that does not follow", func() error {
			if err := add(2000, 10); !errors.Is(err, ErrPiece) {
				t.Errorf("a piece at 2000 after 3000 bytes: %v, want ErrPiece", err)
			}
			return nil
		}, codes.FailedPrecondition, "of which 3000 bytes have arrived"},
		{"a forged last piece: dropped", func() error {
			forged := bytes.Repeat([]byte("x"), len(content)-3000)
			err := sink.AddPiece(ctx, &sanziv1.SyncAttachmentUploadRequest{Sha256: h, Offset: 3000, Size: int64(len(content)), Data: forged})
			if !errors.Is(err, ErrMismatch) {
				t.Errorf("a forged last piece: %v, want ErrMismatch", err)
			}
			return nil
		}, codes.FailedPrecondition, "of which 0 bytes have arrived"},
		{"whole", func() error { return add(0, len(content)) }, codes.OK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.before(); err != nil {
				t.Fatal(err)
			}
			err := CheckAttachments(ctx, sink, named, batch)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.want) {
				t.Errorf("CheckAttachments: %v, want %v containing %q", err, tc.code, tc.want)
			}
		})
	}
}

// countingSink answers from held and counts how it was asked.
type countingSink struct {
	held         map[string]Held
	single, many int
	asked        []string
}

func (c *countingSink) AttachmentState(_ context.Context, h string) (int64, bool, error) {
	c.single++
	return c.held[h].Received, c.held[h].Complete, nil
}

func (c *countingSink) AddPiece(context.Context, *sanziv1.SyncAttachmentUploadRequest) error {
	return errors.New("not used")
}

func (c *countingSink) AttachmentStates(_ context.Context, hs []string) ([]Held, error) {
	c.many++
	c.asked = append(c.asked, hs...)
	out := make([]Held, len(hs))
	for i, h := range hs {
		out[i] = c.held[h]
	}
	return out, nil
}

// TestCheckAttachmentsAsksOnce: a batch's attachments are asked about in
// one call (at the district, one leadership check), each once however many
// entries name it, and the refusal names the first entry naming one that
// is missing.
func TestCheckAttachmentsAsksOnce(t *testing.T) {
	names := map[string][]string{"e0": {"a", "b"}, "e1": {}, "e2": {"b", "c"}, "e3": {"a", "d"}}
	byName := func(raw []byte) ([]string, error) { return names[string(raw)], nil }
	batch := [][]byte{[]byte("e0"), []byte("e1"), []byte("e2"), []byte("e3")}
	for _, tc := range []struct {
		name    string
		missing string
		code    codes.Code
		want    string
	}{
		{"all held", "", codes.OK, ""},
		{"one named twice, missing", "b", codes.FailedPrecondition, "entry 0 names attachment b"},
		{"the last one missing", "d", codes.FailedPrecondition, "entry 3 names attachment d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &countingSink{held: map[string]Held{}}
			for _, h := range []string{"a", "b", "c", "d"} {
				if h != tc.missing {
					sink.held[h] = Held{Received: 10, Complete: true}
				}
			}
			err := CheckAttachments(context.Background(), sink, byName, batch)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.want) {
				t.Fatalf("CheckAttachments: %v, want %v containing %q", err, tc.code, tc.want)
			}
			if sink.many != 1 || sink.single != 0 || strings.Join(sink.asked, ",") != "a,b,c,d" {
				t.Fatalf("asked %d times for many (%v) and %d for one; want once for a,b,c,d", sink.many, sink.asked, sink.single)
			}
		})
	}
}
