package member

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The district's people (issue 12) are node/accounts' accounts kept in the
// district's replicated state:
//
//   - Account changes are entries of the district's own chain (districtChain
//     below): a member seals none itself but hands each to the leader
//     (cluster.Service.AppendDistrict), which seals it with the district
//     chain's key and proposes it through Raft like any push. So the chain
//     goes down to every town and village, which learn who every author is
//     and who made them so, and every member's accounts are the same chain
//     replayed. A member follows entries applied through Raft that another
//     member proposed by catching up (follow).
//   - Credentials (password hashes, token and session hashes) are in the
//     replicated state too (replicatedSecrets, fsm's "credentials" bucket),
//     written through Raft as COMMAND_TYPE_CREDENTIALS and read from the
//     member's own copy. Not a chain: nothing pulls or pushes them, so they
//     never go down to a town or village; they travel only between members,
//     in the Raft log and snapshots. Replicated because a person must sign
//     in at any member of a 3-member district, and a token revoked at one
//     member must be refused at every other, which a member-local
//     credentials.db cannot give. A member that does not lead reads them
//     only after catching up with what the leader had applied (fresh: one
//     linearizable round trip), so a token issued at one member works at
//     the next call at another, and a revoked one is refused there at once.

// districtChain is the district's chain as node/accounts' Chain: appends go
// to the leader through Raft, reads come from this member's state.
type districtChain struct {
	origin string
	svc    *cluster.Service
	fsm    interface {
		Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
	}
}

// Append implements accounts.Chain: one record of the district's chain.
func (c *districtChain) Append(ctx context.Context, recs ...ledger.Record) ([]*ledger.Stored, error) {
	out := make([]*ledger.Stored, 0, len(recs))
	for _, r := range recs {
		if r.Origin != c.origin {
			return out, fmt.Errorf("append to the district's chain %s: record of origin %s", c.origin, r.Origin)
		}
		st, err := c.svc.AppendDistrict(ctx, r.Author, r.Type, r.Payload)
		if err != nil {
			return out, err
		}
		if err := c.await(ctx, st.Seq); err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}

// await returns once this member's state holds entry seq of the chain. At
// a member that does not lead, AppendDistrict returns once the leader has
// applied the entry, which this member may not have yet: accounts reads
// the change back right after (Create returns the new account), and found
// nothing (an empty account, "created by" blank). Not fresh, which the
// accounts' CatchUp ends with: the caller holds the accounts' write lock.
func (c *districtChain) await(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		var found bool
		if err := c.fsm.Range(c.origin, seq, 1, func(*ledger.Stored) bool {
			found = true
			return false
		}); err != nil {
			return fmt.Errorf("read entry %d of the district's chain back: %w", seq, err)
		}
		if found {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for entry %d of the district's chain to be applied here: %w", seq, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Range implements accounts.Chain from this member's state.
func (c *districtChain) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	return c.fsm.Range(origin, from, limit, fn)
}

// replicatedSecrets is accounts.Secrets over the replicated state: writes
// through Raft (at the leader, wherever they are made), reads from this
// member's copy.
type replicatedSecrets struct {
	svc *cluster.Service
	// fresh brings this member up to what the leader had applied.
	fresh func(context.Context) error
	state interface {
		Credential(bucket string, key []byte) ([]byte, error)
		EachCredential(bucket string, fn func(k, v []byte) error) error
	}
}

func (s *replicatedSecrets) Get(bucket string, key []byte) ([]byte, error) {
	if err := s.fresh(context.Background()); err != nil {
		return nil, err
	}
	return s.state.Credential(bucket, key)
}

func (s *replicatedSecrets) Put(ctx context.Context, bucket string, key, value []byte) error {
	return s.svc.WriteCredentials(ctx, &clusterv1.Credentials{Ops: []*clusterv1.CredentialOp{{Bucket: bucket, Key: key, Value: value}}})
}

func (s *replicatedSecrets) Delete(ctx context.Context, bucket string, keys ...[]byte) error {
	c := &clusterv1.Credentials{}
	for _, k := range keys {
		c.Ops = append(c.Ops, &clusterv1.CredentialOp{Bucket: bucket, Key: k, Delete: true})
	}
	return s.svc.WriteCredentials(ctx, c)
}

func (s *replicatedSecrets) ForEach(bucket string, fn func(k, v []byte) error) error {
	if err := s.fresh(context.Background()); err != nil {
		return err
	}
	return s.state.EachCredential(bucket, fn)
}

// fresh brings this member's state up to what the leader had applied when
// it was called (a linearizable read: the leader confirms it still leads),
// then its accounts up to its state. A leader is fresh once it has
// applied what earlier terms committed (cluster.Node.ReadyLeader); until
// then it asks itself linearizably too, which waits for that.
func (m *Member) fresh(ctx context.Context) error {
	if !m.node.ReadyLeader() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		// While the cluster elects (no leader known, or one that no longer
		// leads) the read is retried until the deadline: a sign-in right
		// after a leader dies waits for the next one instead of failing.
		var resp *sanziv1.GetDistrictHeadResponse
		var err error
		for {
			resp, err = m.svc.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: m.org, Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
			if status.Code(err) != codes.Unavailable || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("catch up with the leader: %w", err)
		}
		for m.node.FSM().AppliedIndex() < resp.GetAppliedIndex() {
			select {
			case <-ctx.Done():
				return fmt.Errorf("catch up with the leader's index %d: %w", resp.GetAppliedIndex(), ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	if m.accounts == nil {
		return nil
	}
	return m.accounts.CatchUp()
}

func (s *replicatedSecrets) Close() error { return nil }

// follow keeps the accounts in step with the district's chain as Raft
// applies it here: entries another member proposed reach this member's
// state without passing through its accounts.Service. It looks at the
// chain's head (a cached value) every interval and catches up when it grew.
func (m *Member) follow(ctx context.Context, origin string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h := m.node.FSM().Head(origin); h.Seq != seen {
			if err := m.accounts.CatchUp(); err != nil {
				m.log.Error("follow the district's accounts", "err", err)
				continue
			}
			seen = h.Seq
		}
	}
}

// bootstrapAdmin creates the district's first administrator at the first
// start of the cluster's first member, once the cluster has a leader. The
// writes go to the leader, which may move while the members start (a new
// member joins, an election): a write the cluster could not take is tried
// again, for a minute at most.
func (m *Member) bootstrapAdmin(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		if id, _, _ := m.node.Leader(); id == "" {
			err = errors.New("no leader yet")
		} else {
			var otp string
			var created bool
			if otp, created, err = m.accounts.EnsureAdmin(ctx, m.cfg.AdminPasswordFile); err == nil {
				if created {
					m.adminOTP = otp
				}
				return nil
			}
			if !transient(err) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("first administrator: the cluster took no write for a minute: %w", err)
		}
		m.log.Info("first administrator: retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// transient reports whether err is the cluster being between leaders,
// which a retry gets past.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// peopleTLS is the gRPC listener's TLS: people connect without a client
// certificate (and send a bearer token); nodes present theirs, which is
// verified against the district CA and must name a role in allow.
func peopleTLS(pool *x509.CertPool, cert tls.Certificate, allow pki.Allow) *tls.Config {
	cfg := pki.ServerConfig(pool, cert, allow)
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil // a person: the interceptor asks for a credential
		}
		org, role, err := pki.Identity(cs.PeerCertificates[0])
		if err != nil {
			return fmt.Errorf("refuse peer: %w", err)
		}
		return allow(org, role)
	}
	return cfg
}

// nodeServices are the services nodes call with their certificates
// (cluster.Authorize and the handlers scope them); people reach them, and
// every other service, with a credential through authz.
var nodeServices = []string{"/sanzi.v1.DistrictService/", "/sanzi.v1.SyncService/", "/sanzi.v1.AttachmentService/", "/sanzi.v1.AnalyticsService/"}

// byCertificate reports whether a call is a node's: it came with a
// verified certificate, carries no person's credential, and is for a
// service nodes call.
func byCertificate(ctx context.Context, method string) bool {
	if _, err := pki.PeerCertificate(ctx); err != nil {
		return false
	}
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) > 0 || len(md.Get(authz.SessionMetadata)) > 0 {
		return false
	}
	for _, p := range nodeServices {
		if len(method) > len(p) && method[:len(p)] == p {
			return true
		}
	}
	return false
}

// unary sends a node's call to cluster.Authorize and a person's (or one
// with no credential at all) to the permission table.
func (m *Member) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if byCertificate(ctx, info.FullMethod) {
		return cluster.Authorize(ctx, req, info, h)
	}
	return m.authz.Unary(ctx, req, info, h)
}

// stream does for streams what unary does: a node's streams (sync) are
// checked by their handlers against the certificate.
func (m *Member) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if byCertificate(ss.Context(), info.FullMethod) {
		return h(srv, ss)
	}
	return m.authz.Stream(srv, ss, info, h)
}

var _ accounts.Secrets = (*replicatedSecrets)(nil)
var _ accounts.Chain = (*districtChain)(nil)

// openAccounts opens the district's accounts over the replicated state and
// starts following it.
func (m *Member) openAccounts(ctx context.Context) error {
	cs := m.cfg.ChainSigner
	if cs == nil {
		leaf, err := x509.ParseCertificate(m.cfg.Cert.Certificate[0])
		if err != nil {
			return fmt.Errorf("member certificate: %w", err)
		}
		org, _, err := pki.Identity(leaf)
		if err != nil {
			return err
		}
		key, ok := m.cfg.Cert.PrivateKey.(ed25519.PrivateKey)
		if !ok {
			return errors.New("member certificate: the key is not Ed25519")
		}
		cs = &cluster.ChainSigner{Origin: org, Key: key, Cert: leaf.Raw}
	}
	m.org, m.chainKey = cs.Origin, cs
	m.svc.SetChainSigner(cs)
	var err error
	m.accounts, err = accounts.Open(ctx, accounts.Config{
		Org:     cs.Origin,
		Chain:   &districtChain{origin: cs.Origin, svc: m.svc, fsm: m.node.FSM()},
		Secrets: &replicatedSecrets{svc: m.svc, state: m.node.FSM(), fresh: m.fresh},
		// The sign-ins this member served (each member keeps its own:
		// signins.go says why not through Raft).
		AuditPath:  filepath.Join(m.cfg.Cluster.DataDir, "signins.db"),
		Logger:     m.log.With("subsystem", "accounts"),
		Registerer: m.node.Registry(),
		Argon:      m.cfg.Argon,
	})
	if err != nil {
		return fmt.Errorf("district accounts: %w", err)
	}
	m.authz = authz.NewInterceptor(m.accounts, m.log.With("subsystem", "authz"))
	bg, cancel := context.WithCancel(context.Background())
	m.stopBg = cancel
	go m.follow(bg, cs.Origin, cmp.Or(m.cfg.FollowEvery, 100*time.Millisecond))
	return nil
}
