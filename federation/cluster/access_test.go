package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/pki"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestNodeCertificateScope calls every DistrictService, SyncService and
// AttachmentService method a node calls at the district, under a
// certificate of each role and org, and checks that a node reaches only the
// chains pki.May lets it push or pull (issue 12: a town pushed another
// town's village; a village read every origin's entries and attachments).
func TestNodeCertificateScope(t *testing.T) {
	c := NewCluster(t, 1, nil)
	l := c.Leader()
	own := newVillage(1)                                                                   // 350505100201, town 350505100000
	sibling := newVillage(2)                                                               // 350505100202, same town
	far := &village{origin: "350505200201", key: ed25519.NewKeyFromSeed(make([]byte, 32))} // town 350505200000
	for _, v := range []*village{own, sibling, far} {
		c.register(v)
		if _, err := push(t, c.Client(l.id), v.next(2, 50)); err != nil {
			t.Fatalf("push %s: %v", v.origin, err)
		}
	}
	// Attachments charged to the village and to its sibling.
	attach := func(origin, content string) string {
		sum := sha256.Sum256([]byte(content))
		h := hex.EncodeToString(sum[:])
		if err := l.node.AddAttachmentPiece(context.Background(), &clusterv1.AttachmentChunk{Sha256: h, Size: int64(len(content)), Data: []byte(content),
			FileName: "a.pdf", ContentType: "application/pdf", Origin: origin, UploadedUnixMs: time.Now().UnixMilli()}); err != nil {
			t.Fatalf("attachment of %s: %v", origin, err)
		}
		return h
	}
	ownAtt, siblingAtt := attach(own.origin, "own scan"), attach(sibling.origin, "sibling scan")
	ownEntry := own.next(1, 50) // pushed below by whoever may

	type call func(ctx context.Context, conn *grpc.ClientConn, prefix string) error
	district := func(f func(sanziv1.DistrictServiceClient, string) error) call {
		return func(_ context.Context, conn *grpc.ClientConn, prefix string) error {
			return f(sanziv1.NewDistrictServiceClient(conn), prefix)
		}
	}
	ctx := context.Background()
	calls := map[string]call{
		"PushEntries(own)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: ownEntry})
			return err
		}),
		"GetDistrictHead(own)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: own.origin})
			return err
		}),
		"ListDistrictEntries(own)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.ListDistrictEntries(ctx, &sanziv1.ListDistrictEntriesRequest{Origin: own.origin})
			return err
		}),
		"ListDistrictEntries(far)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.ListDistrictEntries(ctx, &sanziv1.ListDistrictEntriesRequest{Origin: far.origin})
			return err
		}),
		"ListForks(own)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.ListForks(ctx, &sanziv1.ListForksRequest{Origin: own.origin})
			return err
		}),
		"ListForks(all)": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.ListForks(ctx, &sanziv1.ListForksRequest{})
			return err
		}),
		"ListHeads": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			resp, err := d.ListHeads(ctx, &sanziv1.ListHeadsRequest{})
			return rows(resp.GetHeads(), err, prefix, func(a *sanziv1.OriginAck) string { return a.GetOrigin() })
		}),
		"ListCheckpoints": district(func(d sanziv1.DistrictServiceClient, prefix string) error {
			_, err := d.ListCheckpoints(ctx, &sanziv1.ListCheckpointsRequest{})
			return err
		}),
		"SyncHeads(all)": func(ctx context.Context, conn *grpc.ClientConn, prefix string) error {
			resp, err := sanziv1.NewSyncServiceClient(conn).SyncHeads(ctx, &sanziv1.SyncHeadsRequest{})
			return rows(resp.GetHeads(), err, prefix, func(a *sanziv1.SyncAck) string { return a.GetOrigin() })
		},
		"GetAttachment(own)": func(ctx context.Context, conn *grpc.ClientConn, prefix string) error {
			_, err := sanziv1.NewAttachmentServiceClient(conn).GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: ownAtt})
			return err
		},
		"GetAttachment(sibling)": func(ctx context.Context, conn *grpc.ClientConn, prefix string) error {
			_, err := sanziv1.NewAttachmentServiceClient(conn).GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: siblingAtt})
			return err
		},
	}
	const ok, no = codes.OK, codes.PermissionDenied
	for _, tc := range []struct {
		org  string
		role pki.Role
		want map[string]codes.Code
		// rows, when set, is the origin prefix every row of an unfiltered
		// list must have.
		rows string
	}{
		{"350505000000", pki.RoleDistrict, map[string]codes.Code{"PushEntries(own)": ok, "GetDistrictHead(own)": ok, "ListDistrictEntries(own)": ok,
			"ListDistrictEntries(far)": ok, "ListForks(own)": ok, "ListForks(all)": ok, "ListHeads": ok, "SyncHeads(all)": ok, "GetAttachment(own)": ok, "GetAttachment(sibling)": ok, "ListCheckpoints": ok}, ""},
		{"350505100000", pki.RoleTown, map[string]codes.Code{"PushEntries(own)": ok, "GetDistrictHead(own)": ok, "ListDistrictEntries(own)": ok,
			"ListDistrictEntries(far)": no, "ListForks(own)": ok, "ListForks(all)": no, "ListHeads": ok, "SyncHeads(all)": ok, "GetAttachment(own)": ok, "GetAttachment(sibling)": ok, "ListCheckpoints": ok}, "350505100"},
		{"350505200000", pki.RoleTown, map[string]codes.Code{"PushEntries(own)": no, "GetDistrictHead(own)": no, "ListDistrictEntries(own)": no,
			"ListDistrictEntries(far)": ok, "ListForks(own)": no, "ListForks(all)": no, "ListHeads": ok, "SyncHeads(all)": ok, "GetAttachment(own)": no, "GetAttachment(sibling)": no, "ListCheckpoints": ok}, "350505200"},
		{own.origin, pki.RoleVillage, map[string]codes.Code{"PushEntries(own)": no, "GetDistrictHead(own)": ok, "ListDistrictEntries(own)": ok,
			"ListDistrictEntries(far)": no, "ListForks(own)": ok, "ListForks(all)": no, "ListHeads": no, "SyncHeads(all)": ok, "GetAttachment(own)": ok, "GetAttachment(sibling)": no, "ListCheckpoints": no}, own.origin},
		{sibling.origin, pki.RoleVillage, map[string]codes.Code{"PushEntries(own)": no, "GetDistrictHead(own)": no, "ListDistrictEntries(own)": no,
			"ListDistrictEntries(far)": no, "ListForks(own)": no, "ListForks(all)": no, "ListHeads": no, "SyncHeads(all)": ok, "GetAttachment(own)": no, "GetAttachment(sibling)": ok, "ListCheckpoints": no}, sibling.origin},
	} {
		t.Run(string(tc.role)+" "+tc.org, func(t *testing.T) {
			cert, err := c.ca.Issue(tc.org, tc.role, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := grpc.NewClient(l.apiAddr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(c.ca.Pool(), cert.TLSCertificate(), nil))))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for name, want := range tc.want {
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := calls[name](cctx, conn, tc.rows)
				cancel()
				if status.Code(err) != want {
					t.Errorf("%s: got %v, want %s", name, err, want)
				}
				if want == no && !strings.Contains(status.Convert(err).Message(), tc.org) {
					t.Errorf("%s: the refusal %q does not name the caller %s", name, status.Convert(err).Message(), tc.org)
				}
			}
		})
	}
	// The refused pushes changed nothing; the allowed one (a town of the
	// village's) added the entry.
	if h := l.node.FSM().Head(own.origin); h.Seq != 3 {
		t.Errorf("the village's head at the district is %d, want 3", h.Seq)
	}
	// People (signed in, the interceptor put the account in the context)
	// read the attachments of the origins in their account's org: the
	// origin the district recorded for it, not the caller's word.
	attachments := cluster.NewAttachmentServer(l.node)
	for _, tc := range []struct {
		who  authz.Principal
		h    string
		want codes.Code
	}{
		{authz.Principal{Account: "own.acct", Org: own.origin}, ownAtt, ok},
		{authz.Principal{Account: "own.acct", Org: own.origin}, siblingAtt, no},
		{authz.Principal{Account: "town.rev", Org: "350505100000"}, siblingAtt, ok},
		{authz.Principal{Account: "far.rev", Org: "350505200000"}, ownAtt, no},
		{authz.Principal{Account: "d.analyst", Org: "350505000000"}, siblingAtt, ok},
		{authz.Principal{Account: "d.analyst", Org: "350505000000"}, strings.Repeat("ab", 32), no}, // no origin recorded
	} {
		_, err := attachments.GetAttachment(authz.NewContext(ctx, tc.who), &sanziv1.GetAttachmentRequest{Sha256: tc.h})
		if status.Code(err) != tc.want {
			t.Errorf("GetAttachment %s… by %s of %s: %v, want %s", tc.h[:8], tc.who.Account, tc.who.Org, err, tc.want)
		}
	}
	// Statistics read every origin's figures: district certificates only.
	for role, want := range map[pki.Role]codes.Code{pki.RoleDistrict: ok, pki.RoleTown: no, pki.RoleVillage: no} {
		org := map[pki.Role]string{pki.RoleDistrict: "350505000000", pki.RoleTown: "350505100000", pki.RoleVillage: own.origin}[role]
		cert, err := c.ca.Issue(org, role, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pctx := peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tlsState(cert)}})
		_, err = cluster.Authorize(pctx, &sanziv1.RiskRequest{}, &grpc.UnaryServerInfo{FullMethod: sanziv1.AnalyticsService_Risk_FullMethodName},
			func(context.Context, any) (any, error) { return &sanziv1.RiskResponse{}, nil })
		if status.Code(err) != want {
			t.Errorf("Risk as %s: got %v, want %s", role, err, want)
		}
	}
}

// rows checks that every row of an answered list names an origin under
// prefix ("" = any).
func rows[T any](list []T, err error, prefix string, origin func(T) string) error {
	if err != nil {
		return err
	}
	for _, r := range list {
		if !strings.HasPrefix(origin(r), prefix) {
			return status.Errorf(codes.DataLoss, "a row of %s reached a caller under %s", origin(r), prefix)
		}
	}
	return nil
}

// tlsState is what the TLS layer hands a server for a client with cert.
func tlsState(cert *pki.Issued) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
}
