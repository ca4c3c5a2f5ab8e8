package town

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVillageAttachments: the town's inbox serves a village back the
// attachments it sent up (what a restored village pulls), and nothing
// else: not another village's, not one uploaded with no origin, not to a
// village of another town; uploads and deletions are refused.
func TestVillageAttachments(t *testing.T) {
	dir := t.TempDir()
	tl := openTownLedger(t, dir)
	in, err := NewInbox(tl, "350505100000", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store, err := attach.Open(filepath.Join(dir, "attachments"), tl.DB(), 1<<20, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	send := func(origin string, content []byte) string {
		sum := sha256.Sum256(content)
		h := hex.EncodeToString(sum[:])
		if _, done, err := store.AddPiece(origin, h, 0, int64(len(content)), content, "scan.pdf", "application/pdf"); err != nil || !done {
			t.Fatalf("send %s: %v", origin, err)
		}
		return h
	}
	own := send(testVillage, []byte("the village's own contract"))
	other := send("350505100202", []byte("a neighbour's contract"))
	local, err := store.Put([]byte("uploaded at the town"), "x.pdf", "application/pdf", "")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	as := func(org string) context.Context {
		iss, err := ca.Issue(org, pki.RoleVillage, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{iss.Cert}}}})
	}
	x := &VillageAttachments{In: in, Store: store}
	got, err := x.GetAttachment(as(testVillage), &sanziv1.GetAttachmentRequest{Sha256: own})
	if err != nil || !bytes.Equal(got.GetContent(), []byte("the village's own contract")) || got.GetAttachment().GetFileName() != "scan.pdf" {
		t.Fatalf("own attachment: %v %v", got, err)
	}
	for _, tc := range []struct {
		name, org, h string
		want         codes.Code
	}{
		{"another village's", testVillage, other, codes.NotFound},
		{"one with no origin", testVillage, local.GetSha256(), codes.NotFound},
		{"not held at all", testVillage, hex.EncodeToString(make([]byte, 32)), codes.NotFound},
		{"not a hash", testVillage, "../ledger.db", codes.InvalidArgument},
		{"a village of another town", "350505200201", own, codes.PermissionDenied},
	} {
		if _, err := x.GetAttachment(as(tc.org), &sanziv1.GetAttachmentRequest{Sha256: tc.h}); status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := x.UploadAttachment(as(testVillage), &sanziv1.UploadAttachmentRequest{Content: []byte("x")}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("upload: %v", err)
	}
	if _, err := x.DeleteAttachment(as(testVillage), &sanziv1.DeleteAttachmentRequest{Sha256: own}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("delete: %v", err)
	}
}
