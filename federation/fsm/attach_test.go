package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sanzi/sanzi/node/ledger"
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

// TestExpireAttachments: an ExpireAttachments command removes, on every
// member alike, the attachments no applied entry names that the leader took
// before the cutoff, with their charge to the origin; a named one and a
// young one stay; members fed the same log end with the same state.
func TestExpireAttachments(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	named := func(raw []byte) ([]string, error) {
		s, err := ledger.Decode(append([]byte(nil), raw...))
		if err != nil || !bytes.HasPrefix(s.Payload, []byte("names=")) {
			return nil, err
		}
		return []string{string(s.Payload[6:70])}, nil
	}
	open := func() *FSM {
		f, err := Open(Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true, Named: named})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	f, g := open(), open()
	whole := func(content, origin string, at time.Time) (*clusterv1.AttachmentChunk, string) {
		sum := sha256.Sum256([]byte(content))
		h := hex.EncodeToString(sum[:])
		return &clusterv1.AttachmentChunk{Sha256: h, Size: int64(len(content)), Data: []byte(content), Origin: origin, UploadedUnixMs: at.UnixMilli()}, h
	}
	unused, hUnused := whole("a receipt never named", oA, t0)
	kept, hKept := whole("a receipt an entry names", oA, t0)
	young, hYoung := whole("a receipt of last week", oB, t0.Add(6*24*time.Hour))
	c := newChains(t)
	entry := c.next(t, oA, "names="+hKept, 1, 0)
	var idx uint64
	apply := func(l func(uint64) *raft.Log) interface{} {
		idx++
		g.Apply(l(idx))
		return f.Apply(l(idx))
	}
	for _, ch := range []*clusterv1.AttachmentChunk{unused, kept, young} {
		if r := apply(func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_ATTACHMENT_CHUNK, false, ch)
		}); r != nil {
			t.Fatalf("chunk: %v", r)
		}
	}
	apply(func(i uint64) *raft.Log { return registerLog(t, i, oA, pub(c.ring, oA)) })
	if r := result(t, apply(func(i uint64) *raft.Log { return appendLog(t, i, entry...) })); r.Added != 1 {
		t.Fatalf("append: %+v", r)
	}
	if used, _ := f.AttachmentUsage(oA); used != unused.GetSize()+kept.GetSize() {
		t.Fatalf("use of %s: %d", oA, used)
	}
	expire := func(cutoff time.Time) *Expired {
		r := apply(func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_EXPIRE_ATTACHMENTS, false, &clusterv1.ExpireAttachments{CutoffUnixMs: cutoff.UnixMilli()})
		})
		out, ok := r.(*Expired)
		if !ok {
			t.Fatalf("expire: %v", r)
		}
		return out
	}
	// The cutoff is the leader's now less the TTL (a week).
	if out := expire(t0); out.Count != 0 {
		t.Fatalf("nothing is before the first upload: %+v", out)
	}
	if out := expire(t0.Add(time.Millisecond)); out.Count != 1 || out.Bytes != unused.GetSize() {
		t.Fatalf("a week on: %+v, want the one unnamed old attachment", out)
	}
	if _, _, err := f.Attachment(hUnused); !errors.Is(err, ErrNoAttachment) {
		t.Fatalf("expired attachment: %v", err)
	}
	for _, h := range []string{hKept, hYoung} {
		if _, _, err := f.Attachment(h); err != nil {
			t.Fatalf("%s removed: %v", h, err)
		}
	}
	if used, _ := f.AttachmentUsage(oA); used != kept.GetSize() {
		t.Fatalf("use of %s after the expiry: %d, want %d", oA, used, kept.GetSize())
	}
	if out := expire(t0.Add(365 * 24 * time.Hour)); out.Count != 1 { // the young one; never the named
		t.Fatalf("a year on: %+v", out)
	}
	if _, _, err := f.Attachment(hKept); err != nil {
		t.Fatalf("a named attachment expired: %v", err)
	}
	if digest(t, f) != digest(t, g) {
		t.Error("two replicas fed the same log differ")
	}
}
