package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // children compress their batches
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// SyncServer is the district's side of SyncService: children push their
// chains over a stream, each batch authorised by the pusher's certificate,
// verified and committed through Raft by the leader, then acked.
type SyncServer struct {
	sanziv1.UnimplementedSyncServiceServer
	s    *Service
	pool *x509.CertPool
	log  *slog.Logger
	// Named lists the attachments an encoded entry names; when set, a batch
	// with an entry whose attachments the district does not hold whole is
	// refused, so nothing reaches the district without what it points at.
	Named func(raw []byte) ([]string, error)
	// Refused keeps the last push of each origin refused here for its
	// signing key (revoked, expired), for GET /v1/sync/status.
	Refused relay.Refusals
}

// NewSyncServer serves pushes through s (which forwards to the leader);
// pool is the district CA, which forwarded village certificates must chain
// to.
func NewSyncServer(s *Service, pool *x509.CertPool, log *slog.Logger) *SyncServer {
	return &SyncServer{s: s, pool: pool, log: log}
}

// SyncPush implements SyncService.
func (x *SyncServer) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	ctx := stream.Context()
	org, role, err := peerIdentity(ctx)
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "%v", err)
	}
	return relay.ServePush(stream, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
		if err := x.introduce(ctx, org, role, req.GetCertificates()); err != nil {
			x.log.Warn("sync push refused", "peer", org, "role", role, "err", err)
			return nil, err
		}
		resp, err := x.batch(ctx, org, role, req.GetEntries())
		if err != nil && status.Code(err) == codes.PermissionDenied {
			x.log.Warn("sync push refused", "peer", org, "role", role, "err", err)
		}
		return resp, x.Refused.Note(org, err, time.Now())
	})
}

func (x *SyncServer) batch(ctx context.Context, org string, role pki.Role, entries [][]byte) (*sanziv1.SyncPushResponse, error) {
	if len(entries) == 0 {
		return &sanziv1.SyncPushResponse{}, nil
	}
	origins := map[string]bool{}
	for i, raw := range entries {
		l, err := ledger.Peek(raw)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "entry %d: %v", i, err)
		}
		if err := pki.May(org, role, pki.Push, l.Origin); err != nil {
			return nil, status.Errorf(codes.PermissionDenied, "%v", err)
		}
		origins[l.Origin] = true
	}
	// A node's signing key is its certificate's key: the first push of its
	// own chain registers it (with the certificate, which children check
	// when they pull the district's own chain), and another key is refused.
	if origins[org] {
		c, err := pki.PeerCertificate(ctx)
		if err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "%v", err)
		}
		pub, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok {
			return nil, status.Errorf(codes.Unauthenticated, "the certificate's key is not Ed25519")
		}
		cert := c.Raw
		known, ok := x.s.n.FSM().Current(org)
		switch {
		case !ok:
			if _, err := x.s.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: org, PublicKey: pub, Certificate: cert}); err != nil {
				return nil, err
			}
		case !known.Equal(pub) && !rotates(entries, org):
			return nil, status.Errorf(codes.PermissionDenied, "%s %s: the district holds another signing key for this origin than the certificate's; a new key needs a key rotation entry (sanzi village rekey)", role, org)
		}
	}
	if err := relay.CheckAttachments(ctx, attachSink{x.s}, x.Named, entries); err != nil {
		return nil, err
	}
	resp, err := x.s.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: entries})
	if err != nil {
		return nil, err
	}
	out := &sanziv1.SyncPushResponse{Added: resp.GetAdded(), Duplicates: resp.GetDuplicates()}
	for _, a := range resp.GetAcks() {
		out.Acks = append(out.Acks, &sanziv1.SyncAck{Origin: a.GetOrigin(), Seq: a.GetSeq(), Hash: a.GetHash()})
	}
	return out, nil
}

// introduce registers the keys of villages a town forwards, from their
// certificates: each must chain to the district CA, name a village, and be
// one the pusher may push for. A village the district knows under another
// key is refused: a town cannot swap a village's key.
func (x *SyncServer) introduce(ctx context.Context, org string, role pki.Role, certs [][]byte) error {
	for i, der := range certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "certificate %d: %v", i, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: x.pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return status.Errorf(codes.PermissionDenied, "certificate %d (%s): not issued by this district's CA: %v", i, c.Subject.CommonName, err)
		}
		vorg, vrole, err := pki.Identity(c)
		if err != nil {
			return status.Errorf(codes.PermissionDenied, "certificate %d: %v", i, err)
		}
		if vrole != pki.RoleVillage {
			return status.Errorf(codes.PermissionDenied, "certificate %d names a %s, not a village", i, vrole)
		}
		if err := pki.May(org, role, pki.Push, vorg); err != nil {
			return status.Errorf(codes.PermissionDenied, "%v", err)
		}
		pub, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok {
			return status.Errorf(codes.PermissionDenied, "certificate of %s: key is not Ed25519", vorg)
		}
		// A village the district knows keeps its key: a forwarded
		// certificate with another key changes nothing (only a key rotation
		// entry in the village's chain does), so a town cannot swap it.
		if _, ok := x.s.n.FSM().Public(vorg); !ok {
			if _, err := x.s.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: vorg, PublicKey: pub, Certificate: der}); err != nil {
				return err
			}
		}
	}
	return nil
}

// SyncHeads implements SyncService: this member's heads (a child resends
// what a lagging follower has not applied yet; that is a no-op).
func (x *SyncServer) SyncHeads(ctx context.Context, r *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	heads := x.s.n.FSM().Heads()
	out := &sanziv1.SyncHeadsResponse{}
	add := func(o string, h ledger.Head) {
		out.Heads = append(out.Heads, &sanziv1.SyncAck{Origin: o, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash[:])})
	}
	if len(r.GetOrigins()) == 0 {
		for o, h := range heads {
			add(o, h)
		}
		return out, nil
	}
	for _, o := range r.GetOrigins() {
		if h, ok := heads[o]; ok {
			add(o, h)
		}
	}
	return out, nil
}

// SyncPull implements SyncService: the district's own chain (rule sets and
// catalog versions it publishes, directives), or a town's (its decisions on
// its villages' steps and alerts, for a village under the district
// directly), from a seq, with the certificate that signs it and, once the
// chain rotated, the certificate of the key it starts with.
func (x *SyncServer) SyncPull(ctx context.Context, r *sanziv1.SyncPullRequest) (*sanziv1.SyncPullResponse, error) {
	origin := r.GetOrigin()
	if org, _, err := peerIdentity(ctx); err == nil && org == origin {
		// A node reads back its own chain as the district holds it,
		// verified: what `sanzi repair --from-parent` restores from
		// (issue 18); it checks the entries with its own key.
		return x.pull(origin, r, nil, nil)
	}
	if len(origin) != 12 || origin[9:] != "000" {
		return nil, status.Errorf(codes.InvalidArgument, "origin %q: only the district's own chain (…000000) and towns' (…000) are pulled", origin)
	}
	if origin[6:] != "000000" { // a town's chain: its decisions on its villages
		org, role, err := peerIdentity(ctx)
		if err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "%v", err)
		}
		if err := pki.May(org, role, pki.Pull, origin); err != nil {
			return nil, status.Errorf(codes.PermissionDenied, "%v", err)
		}
	}
	f := x.s.n.FSM()
	return x.pull(origin, r, f.Certificate(origin), f.FirstCertificate(origin))
}

// pull reads origin's chain from the request's seq, with cert, the
// certificate of the key at its head, and first, the certificate of the key
// it starts with, which the FSM keeps from the chain's first rotation on: a
// child whose first pull comes after a rotation pins that key, checked with
// the CA and against seq 1 (relay.Puller.trusted). A chain that rotated
// before the FSM kept it has none, and such a first pull is refused ("did
// not sign its seq 1") as before.
func (x *SyncServer) pull(origin string, r *sanziv1.SyncPullRequest, cert, first []byte) (*sanziv1.SyncPullResponse, error) {
	limit := int(r.GetLimit())
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	out := &sanziv1.SyncPullResponse{SignerCertificate: cert, FirstSignerCertificate: first}
	// A page ends on the signed last entry of an append, past limit if
	// need be: the puller refuses one cut inside an append.
	err := x.s.n.FSM().Range(origin, max(r.GetFromSeq(), 1), 0, ledger.WholeAppends(limit, func(s *ledger.Stored) bool {
		out.Entries = append(out.Entries, s.Raw)
		return true
	}))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read %s: %v", origin, err)
	}
	return out, nil
}

// rotates says whether entries hold a key rotation of origin's chain: a push
// made with a certificate whose key the district does not hold yet is
// verified (the rotation must be signed and carry that certificate) rather
// than refused at the door.
func rotates(entries [][]byte, origin string) bool {
	for _, raw := range entries {
		if l, err := ledger.Peek(raw); err == nil && l.Origin == origin && l.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION {
			return true
		}
	}
	return false
}
