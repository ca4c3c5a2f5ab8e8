package fsm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
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
	named := func(_ sanziv1.EntryType, payload []byte, dst [][]byte) ([][]byte, error) {
		if !bytes.HasPrefix(payload, []byte("names=")) {
			return dst, nil
		}
		return append(dst, payload[6:70]), nil
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

// TestLocksWhatTheDecodeNames: with production's Named, an applied entry
// locks exactly what decoding its payload names: the attachments of a
// transaction and an appraisal's report, none for a payload that does not
// decode (invalid UTF-8 in a field other than the names), the first entry
// naming one keeps the lock; two members fed the same log agree.
func TestLocksWhatTheDecodeNames(t *testing.T) {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	hA, hB, hC, hD := h("a"), h("b"), h("c"), h("d")
	enc := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := enc(&sanziv1.Transaction{Org: oA, Attachments: []string{hB}})
	bad = protowire.AppendBytes(protowire.AppendTag(bad, 7, protowire.BytesType), []byte{0xc3, 0x28}) // summary, not UTF-8
	recs := []ledger.Record{
		{Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: enc(&sanziv1.Transaction{Org: oA, Summary: "柴油", Attachments: []string{hA, ""}})},
		{Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: bad},
		{Type: sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, Payload: enc(&sanziv1.AssetAppraisal{AssetId: "x-1", ReportAttachment: hC})},
		{Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: enc(&sanziv1.Voucher{Org: oA, Attachments: []string{hA, hD}})},
		{Type: sanziv1.EntryType_ENTRY_TYPE_ALERT, Payload: enc(&sanziv1.Alert{RuleCode: "SPLIT"})},
	}
	c := newChains(t)
	for i := range recs {
		recs[i].Origin, recs[i].Author = oA, "test"
	}
	st, err := c.led.Append(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(st))
	for i, s := range st {
		raws[i] = s.Raw
	}
	var fs []*FSM
	for range 2 {
		f, err := Open(Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true, Named: entries.AttachmentsIn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		f.Apply(registerLog(t, 1, oA, pub(c.ring, oA)))
		if r := result(t, f.Apply(appendLog(t, 2, raws...))); r.Added != len(raws) {
			t.Fatalf("append: %+v", r)
		}
		fs = append(fs, f)
	}
	for _, tc := range []struct {
		h, want string
	}{
		{hA, ledger.EntryID(oA, 1)},
		{hB, ""}, // its entry's payload does not decode: it names nothing
		{hC, ledger.EntryID(oA, 3)},
		{hD, ledger.EntryID(oA, 4)},
	} {
		if got, err := fs[0].AttachmentLockedBy(tc.h); err != nil || got != tc.want {
			t.Errorf("AttachmentLockedBy(%s…) = %q, %v; want %q", tc.h[:8], got, err, tc.want)
		}
	}
	if digest(t, fs[0]) != digest(t, fs[1]) {
		t.Error("two members fed the same log differ")
	}
}
