package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// TestAttachmentChunks: pieces are taken only in order, a whole that does
// not match its hash is dropped (the next try starts from nothing), a
// matching whole is readable and a resend of it is a no-op; the state
// survives a snapshot like everything else (same digest on a replica fed
// the same commands).
func TestAttachmentChunks(t *testing.T) {
	content := bytes.Repeat([]byte("scan of a lease contract "), 400) // 10,000 bytes
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	size := int64(len(content))
	piece := func(off, n int) *clusterv1.AttachmentChunk {
		return &clusterv1.AttachmentChunk{Sha256: h, Offset: int64(off), Size: size, Data: content[off : off+n], FileName: "lease.pdf", ContentType: "application/pdf"}
	}
	forged := piece(6000, 4000)
	forged.Data = bytes.Repeat([]byte("x"), 4000)
	steps := []struct {
		name     string
		c        *clusterv1.AttachmentChunk
		err      error
		received int64
		complete bool
	}{
		{"first piece", piece(0, 4000), nil, 4000, false},
		{"a piece behind", piece(0, 4000), ErrAttachment, 4000, false},
		{"a piece ahead", piece(6000, 4000), ErrAttachment, 4000, false},
		{"another size", &clusterv1.AttachmentChunk{Sha256: h, Offset: 4000, Size: size + 1, Data: content[4000:5000]}, ErrAttachment, 4000, false},
		{"past the size", &clusterv1.AttachmentChunk{Sha256: h, Offset: 4000, Size: size, Data: append(content[4000:], 'x')}, ErrAttachment, 4000, false},
		{"second piece", piece(4000, 2000), nil, 6000, false},
		{"a forged last piece", forged, ErrAttachmentMismatch, 0, false},
		{"again from the start", piece(0, 6000), nil, 6000, false},
		{"the genuine last piece", piece(6000, 4000), nil, size, true},
		{"a resend once whole", piece(0, 4000), nil, size, true},
	}
	f, g := openFSM(t), openFSM(t)
	for i, st := range steps {
		l := cmdLog(t, uint64(i+1), clusterv1.CommandType_COMMAND_TYPE_ATTACHMENT_CHUNK, false, st.c)
		got := f.Apply(l)
		g.Apply(l)
		err, _ := got.(error)
		if !errors.Is(err, st.err) || (st.err == nil) != (err == nil) {
			t.Fatalf("%s: result %v, want %v", st.name, got, st.err)
		}
		received, complete, rerr := f.AttachmentState(h)
		if rerr != nil || received != st.received || complete != st.complete {
			t.Fatalf("%s: state %d %v %v, want %d %v", st.name, received, complete, rerr, st.received, st.complete)
		}
	}
	desc, got, err := f.Attachment(h)
	if err != nil || !bytes.Equal(got, content) || desc.GetFileName() != "lease.pdf" || desc.GetSize() != size {
		t.Fatalf("Attachment: %v, %d bytes, %v", err, len(got), desc)
	}
	if _, _, err := f.Attachment(hex.EncodeToString(make([]byte, 32))); !errors.Is(err, ErrNoAttachment) {
		t.Errorf("an attachment never sent: %v, want ErrNoAttachment", err)
	}
	if digest(t, f) != digest(t, g) {
		t.Error("two replicas fed the same pieces differ")
	}
}
