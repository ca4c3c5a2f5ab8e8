package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// forwardedKey marks a request a member forwarded to the leader, so that a
// stale leader view can never bounce a request around the cluster.
const forwardedKey = "x-sanzi-forwarded-by"

// Service is the DistrictService of one member: reads answer locally (or
// through the leader when linearizable), writes go to the leader.
type Service struct {
	sanziv1.UnimplementedDistrictServiceServer
	n     *Node
	creds credentials.TransportCredentials

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn

	w writer // memberwrite.go
}

// NewService serves n; creds (mutual TLS with this member's district
// certificate) are used to reach other members.
func NewService(n *Node, creds credentials.TransportCredentials) *Service {
	return &Service{n: n, creds: creds, conns: map[string]*grpc.ClientConn{}}
}

// Close drops connections to other members.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = map[string]*grpc.ClientConn{}
}

func (s *Service) client(addr string) (sanziv1.DistrictServiceClient, error) {
	c, err := s.conn(addr)
	if err != nil {
		return nil, err
	}
	return sanziv1.NewDistrictServiceClient(c), nil
}

// conn is the connection to another member's API, made once.
func (s *Service) conn(addr string) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[addr]
	if !ok {
		var err error
		c, err = grpc.NewClient(addr, grpc.WithTransportCredentials(s.creds), limits.CallOptions())
		if err != nil {
			return nil, fmt.Errorf("connect to member %s: %w", addr, err)
		}
		s.conns[addr] = c
	}
	return c, nil
}

// toLeader returns a client for the leader and a context marked as
// forwarded (the deadline of ctx travels with it).
func (s *Service) toLeader(ctx context.Context) (sanziv1.DistrictServiceClient, context.Context, error) {
	c, fctx, err := s.leaderConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sanziv1.NewDistrictServiceClient(c), fctx, nil
}

// leaderConn is toLeader's connection, for other services of the leader.
func (s *Service) leaderConn(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(forwardedKey)) > 0 {
		return nil, nil, status.Errorf(codes.Unavailable, "member %s is not the leader either (forwarded by %s); the cluster is electing, retry", s.n.ID(), md.Get(forwardedKey)[0])
	}
	id, _, api := s.n.Leader()
	if api == "" {
		return nil, nil, status.Error(codes.Unavailable, "no leader known yet; retry in a moment")
	}
	c, err := s.conn(api)
	if err != nil {
		s.n.met.forwardErrors.Inc()
		return nil, nil, status.Errorf(codes.Unavailable, "forward to leader %s: %v", id, err)
	}
	return c, metadata.AppendToOutgoingContext(ctx, forwardedKey, s.n.ID()), nil
}

func (s *Service) forwardErr(err error) error {
	if err != nil {
		if _, ok := status.FromError(err); !ok || status.Code(err) == codes.Unavailable {
			s.n.met.forwardErrors.Inc()
		}
	}
	return err
}

// toStatus maps member errors to gRPC statuses.
func toStatus(err error) error {
	var tamper *tamperError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tamper):
		return tamperStatus(tamper)
	case errors.Is(err, ErrSaturated):
		st, _ := status.New(codes.ResourceExhausted, err.Error()+"; retry after the delay in RetryInfo").
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(200 * time.Millisecond)})
		return st.Err()
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrTimeout):
		return status.Error(codes.Unavailable, err.Error())
	case ledger.KeyRefused(err):
		return relay.KeyRefusal(err)
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrGap), errors.Is(err, ErrFork), errors.Is(err, ErrUnknownOrigin):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

func ack(origin string, h ledger.Head) *sanziv1.OriginAck {
	a := &sanziv1.OriginAck{Origin: origin, Seq: h.Seq}
	if h.Seq > 0 {
		a.Hash = hex.EncodeToString(h.Hash[:])
	}
	return a
}

// PushEntries implements DistrictService.
func (s *Service) PushEntries(ctx context.Context, r *sanziv1.PushEntriesRequest) (*sanziv1.PushEntriesResponse, error) {
	if !s.n.IsLeader() {
		c, fctx, err := s.toLeader(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.PushEntries(fctx, r)
		return resp, s.forwardErr(err)
	}
	res, err := s.n.Push(ctx, r.GetEntries())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.PushEntriesResponse{Added: int64(res.Added), Duplicates: int64(res.Duplicates), RaftIndex: res.Index}
	for o, h := range res.Heads {
		out.Acks = append(out.Acks, ack(o, h))
	}
	return out, nil
}

// RegisterOrigin implements DistrictService.
func (s *Service) RegisterOrigin(ctx context.Context, r *sanziv1.RegisterOriginRequest) (*sanziv1.RegisterOriginResponse, error) {
	if len(r.GetPublicKey()) != 32 || len(r.GetOrigin()) != 12 {
		return nil, status.Error(codes.InvalidArgument, "origin must be a 12-digit org code and publicKey a 32-byte Ed25519 key")
	}
	if !s.n.IsLeader() {
		c, fctx, err := s.toLeader(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.RegisterOrigin(fctx, r)
		return resp, s.forwardErr(err)
	}
	if err := s.n.RegisterOrigin(r.GetOrigin(), r.GetPublicKey(), r.GetCertificate()); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "register %s: %v", r.GetOrigin(), err)
	}
	return &sanziv1.RegisterOriginResponse{}, nil
}

// readAt prepares a read: for a linearizable one on a follower it returns a
// leader client to ask instead.
func (s *Service) readAt(ctx context.Context, c sanziv1.Consistency) (sanziv1.DistrictServiceClient, context.Context, error) {
	if c != sanziv1.Consistency_CONSISTENCY_LINEARIZABLE {
		return nil, nil, nil
	}
	if s.n.IsLeader() {
		return nil, nil, toStatus(s.n.Linearize())
	}
	return s.toLeader(ctx)
}

// GetDistrictHead implements DistrictService.
func (s *Service) GetDistrictHead(ctx context.Context, r *sanziv1.GetDistrictHeadRequest) (*sanziv1.GetDistrictHeadResponse, error) {
	c, fctx, err := s.readAt(ctx, r.GetConsistency())
	if err != nil {
		return nil, err
	}
	if c != nil {
		resp, err := c.GetDistrictHead(fctx, r)
		return resp, s.forwardErr(err)
	}
	return &sanziv1.GetDistrictHeadResponse{Head: ack(r.GetOrigin(), s.n.fsm.Head(r.GetOrigin())), AppliedIndex: s.n.fsm.AppliedIndex(), Member: s.n.ID()}, nil
}

// ListHeads implements DistrictService.
func (s *Service) ListHeads(ctx context.Context, r *sanziv1.ListHeadsRequest) (*sanziv1.ListHeadsResponse, error) {
	c, fctx, err := s.readAt(ctx, r.GetConsistency())
	if err != nil {
		return nil, err
	}
	if c != nil {
		resp, err := c.ListHeads(fctx, r)
		return resp, s.forwardErr(err)
	}
	out := &sanziv1.ListHeadsResponse{AppliedIndex: s.n.fsm.AppliedIndex(), Member: s.n.ID()}
	for o, h := range s.n.fsm.Heads() {
		out.Heads = append(out.Heads, ack(o, h))
	}
	slices.SortFunc(out.Heads, func(a, b *sanziv1.OriginAck) int { return strings.Compare(a.GetOrigin(), b.GetOrigin()) })
	return out, nil
}

// ListDistrictEntries implements DistrictService.
func (s *Service) ListDistrictEntries(ctx context.Context, r *sanziv1.ListDistrictEntriesRequest) (*sanziv1.ListDistrictEntriesResponse, error) {
	c, fctx, err := s.readAt(ctx, r.GetConsistency())
	if err != nil {
		return nil, err
	}
	if c != nil {
		resp, err := c.ListDistrictEntries(fctx, r)
		return resp, s.forwardErr(err)
	}
	limit := int(r.GetLimit())
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	out := &sanziv1.ListDistrictEntriesResponse{AppliedIndex: s.n.fsm.AppliedIndex(), Member: s.n.ID()}
	var decodeErr error
	err = s.n.fsm.Range(r.GetOrigin(), max(r.GetFromSeq(), 1), limit, func(st *ledger.Stored) bool {
		var e sanziv1.Entry
		if decodeErr = proto.Unmarshal(st.Raw, &e); decodeErr != nil {
			return false
		}
		out.Entries = append(out.Entries, &e)
		return true
	})
	if err = errors.Join(err, decodeErr); err != nil {
		return nil, status.Errorf(codes.Internal, "read %s: %v", r.GetOrigin(), err)
	}
	return out, nil
}

// ListForks implements DistrictService: the forks this member has applied.
func (s *Service) ListForks(ctx context.Context, r *sanziv1.ListForksRequest) (*sanziv1.ListForksResponse, error) {
	forks, err := s.n.fsm.Forks(r.GetOrigin())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read forks: %v", err)
	}
	return &sanziv1.ListForksResponse{Forks: forks}, nil
}

// maxCheckpoints is the most checkpoints ListCheckpoints answers at once
// (each up to a line per chain held).
const maxCheckpoints = 100

// ListCheckpoints implements DistrictService: the signed checkpoints this
// member has applied after r.After, oldest first.
func (s *Service) ListCheckpoints(ctx context.Context, r *sanziv1.ListCheckpointsRequest) (*sanziv1.ListCheckpointsResponse, error) {
	limit := uint64(r.GetLimit())
	if limit == 0 || limit > maxCheckpoints {
		limit = maxCheckpoints
	}
	f := s.n.fsm
	latest, err := f.LatestCheckpoint()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read the newest checkpoint: %v", err)
	}
	out := &sanziv1.ListCheckpointsResponse{}
	if latest == nil {
		return out, nil
	}
	out.Latest = latest.Statement.Number
	for n := r.GetAfter() + 1; n <= out.Latest && n <= r.GetAfter()+limit && ctx.Err() == nil; n++ {
		c, err := f.Checkpoint(n)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "read checkpoint %d: %v", n, err)
		}
		if c == nil {
			break
		}
		out.Checkpoints = append(out.Checkpoints, &sanziv1.SignedCheckpoint{Statement: c.Text, Signature: c.Signature})
	}
	return out, ctx.Err()
}

// ClusterStatus implements DistrictService.
func (s *Service) ClusterStatus(ctx context.Context, r *sanziv1.ClusterStatusRequest) (*sanziv1.ClusterStatusResponse, error) {
	id, raftAddr, _ := s.n.Leader()
	out := &sanziv1.ClusterStatusResponse{LeaderId: id, LeaderAddress: raftAddr}
	self := s.n.Status()
	if !r.GetAll() {
		out.Members = []*sanziv1.MemberStatus{self}
		return out, nil
	}
	cf := s.n.raft.GetConfiguration()
	if err := s.n.wait(cf); err != nil {
		return nil, status.Errorf(codes.Unavailable, "read configuration: %v", err)
	}
	apis := map[string]string{}
	for _, m := range s.n.fsm.Members() {
		apis[m.GetId()] = m.GetApiAddress()
	}
	var leaderCommit uint64
	for _, srv := range cf.Configuration().Servers {
		var ms *sanziv1.MemberStatus
		if string(srv.ID) == s.n.ID() {
			ms = self
		} else {
			ms = s.askMember(ctx, string(srv.ID), string(srv.Address), apis[string(srv.ID)])
		}
		ms.Voter = srv.Suffrage == raft.Voter
		if ms.GetState() == "Leader" {
			leaderCommit = ms.GetCommitIndex()
		}
		out.Members = append(out.Members, ms)
	}
	for _, ms := range out.Members {
		if ms.GetError() == "" && leaderCommit > ms.GetAppliedIndex() {
			ms.Lag = leaderCommit - ms.GetAppliedIndex()
		}
	}
	return out, nil
}

func (s *Service) askMember(ctx context.Context, id, raftAddr, api string) *sanziv1.MemberStatus {
	ms := &sanziv1.MemberStatus{Id: id, RaftAddress: raftAddr, ApiAddress: api, State: "unreachable"}
	if api == "" {
		ms.Error = "API address unknown"
		return ms
	}
	c, err := s.client(api)
	if err != nil {
		ms.Error = err.Error()
		return ms
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.ClusterStatus(ctx, &sanziv1.ClusterStatusRequest{})
	if err != nil || len(resp.GetMembers()) == 0 {
		ms.Error = fmt.Sprint(err)
		return ms
	}
	return resp.GetMembers()[0]
}

// Status describes this member as it sees itself.
func (n *Node) Status() *sanziv1.MemberStatus {
	st := n.raft.Stats()
	u := func(k string) uint64 {
		v, _ := strconv.ParseUint(st[k], 10, 64)
		return v
	}
	ms := &sanziv1.MemberStatus{
		Id: n.cfg.ID, RaftAddress: string(n.trans.LocalAddr()), ApiAddress: n.cfg.APIAddr, State: st["state"],
		Term: u("term"), LastLogIndex: u("last_log_index"), CommitIndex: u("commit_index"), AppliedIndex: n.fsm.AppliedIndex(),
		LastSnapshotIndex: u("last_snapshot_index"),
	}
	if lc := n.raft.LastContact(); !lc.IsZero() {
		ms.LastContact = timestamppb.New(lc)
	}
	return ms
}

// Join implements DistrictService.
func (s *Service) Join(ctx context.Context, r *sanziv1.JoinRequest) (*sanziv1.JoinResponse, error) {
	if r.GetId() == "" || r.GetRaftAddress() == "" || r.GetApiAddress() == "" {
		return nil, status.Error(codes.InvalidArgument, "id, raftAddress and apiAddress are required")
	}
	if !s.n.IsLeader() {
		c, fctx, err := s.toLeader(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.Join(fctx, r)
		return resp, s.forwardErr(err)
	}
	if err := s.n.Join(r.GetId(), r.GetRaftAddress(), r.GetApiAddress()); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.JoinResponse{}, nil
}

// Leave implements DistrictService.
func (s *Service) Leave(ctx context.Context, r *sanziv1.LeaveRequest) (*sanziv1.LeaveResponse, error) {
	if r.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	if !s.n.IsLeader() {
		c, fctx, err := s.toLeader(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.Leave(fctx, r)
		return resp, s.forwardErr(err)
	}
	if err := s.n.Leave(r.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.LeaveResponse{}, nil
}

func peerIdentity(ctx context.Context) (string, pki.Role, error) {
	c, err := pki.PeerCertificate(ctx)
	if err != nil {
		return "", "", err
	}
	return pki.Identity(c)
}
