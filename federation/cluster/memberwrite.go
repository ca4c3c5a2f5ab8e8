package cluster

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ErrNoChainKey: this member holds no key of the district's own chain, so
// it cannot write entries for the people signed in at it.
var ErrNoChainKey = errors.New("cluster: this member holds no key of the district's chain (give every member the same --chain-cert)")

// ChainSigner is the key the district's own chain is signed with, with its
// certificate. Every member that writes for people holds the same one: a
// chain has one key at a time, and the leader (whichever member it is)
// seals what any member forwards.
type ChainSigner struct {
	Origin string             // the district's org code
	Key    ed25519.PrivateKey // signs the chain's entries
	Cert   []byte             // DER certificate of Key, registered with the origin
}

// writer seals entries of the district's chain at the leader, one at a
// time so that two writes never take the same head.
type writer struct {
	mu     sync.Mutex
	signer *ChainSigner
	now    func() time.Time
}

// SetChainSigner gives the service the district chain's key, so that it
// can seal people's entries (MemberWrite) when it leads.
func (s *Service) SetChainSigner(cs *ChainSigner) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.signer = cs
	if s.w.now == nil {
		s.w.now = time.Now
	}
}

// AppendDistrict appends one entry (author, type, payload) to the
// district's chain: sealed and proposed here when this member leads,
// forwarded to the leader otherwise. It returns the entry once applied.
func (s *Service) AppendDistrict(ctx context.Context, author string, t sanziv1.EntryType, payload []byte) (*ledger.Stored, error) {
	resp, err := s.MemberWrite(ctx, &sanziv1.MemberWriteRequest{Record: &sanziv1.DistrictRecord{Author: author, Type: t, Payload: payload}})
	if err != nil {
		return nil, err
	}
	return ledger.Decode(resp.GetEntry())
}

// WriteCredentials proposes credential changes through Raft, here or at
// the leader, and returns once they are applied at the leader.
func (s *Service) WriteCredentials(ctx context.Context, c *clusterv1.Credentials) error {
	raw, err := proto.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	_, err = s.MemberWrite(ctx, &sanziv1.MemberWriteRequest{Credentials: raw})
	return err
}

// MemberWrite implements DistrictService: see district.proto.
//
// TODO(issue 12): cluster.Authorize admits any district-role certificate
// here; only the cluster's members should be. Member certificates all name
// the district's org, so telling them apart needs each member's
// certificate fingerprint in the replicated member records (stated at
// Join, checked against the joiner's peer certificate) and a check of the
// peer's against the Raft configuration's members.
func (s *Service) MemberWrite(ctx context.Context, r *sanziv1.MemberWriteRequest) (*sanziv1.MemberWriteResponse, error) {
	if (r.GetRecord() == nil) == (r.GetCredentials() == nil) {
		return nil, status.Error(codes.InvalidArgument, "give exactly one of record and credentials")
	}
	if !s.n.IsLeader() {
		c, fctx, err := s.toLeader(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.MemberWrite(fctx, r)
		return resp, s.forwardErr(err)
	}
	if r.GetCredentials() != nil {
		var c clusterv1.Credentials
		if err := proto.Unmarshal(r.GetCredentials(), &c); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "credentials: %v", err)
		}
		if _, err := s.n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_CREDENTIALS, &c); err != nil {
			return nil, toStatus(err)
		}
		return &sanziv1.MemberWriteResponse{}, nil
	}
	st, err := s.sealAndPush(ctx, r.GetRecord())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.MemberWriteResponse{Entry: st.Raw}, nil
}

// sealAndPush seals rec after the district chain's head with the chain's
// key and pushes it like any child's entry, registering the key first when
// the chain has none yet.
func (s *Service) sealAndPush(ctx context.Context, rec *sanziv1.DistrictRecord) (*ledger.Stored, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	cs := s.w.signer
	if cs == nil {
		return nil, ErrNoChainKey
	}
	pub := cs.Key.Public().(ed25519.PublicKey)
	if cur, ok := s.n.FSM().Current(cs.Origin); !ok {
		if err := s.n.RegisterOrigin(cs.Origin, pub, cs.Cert); err != nil {
			return nil, fmt.Errorf("register the district's chain key: %w", err)
		}
	} else if !cur.Equal(pub) {
		return nil, fmt.Errorf("%w: the district's chain is signed with another key than this member's --chain-cert", ErrNoChainKey)
	}
	head := s.n.FSM().Head(cs.Origin)
	st, err := ledger.SealSplit(cs.Key, head, ledger.Record{Origin: cs.Origin, Author: rec.GetAuthor(), Type: rec.GetType(), Payload: rec.GetPayload()}, s.w.now(), entries.Masker{})
	if err != nil {
		return nil, fmt.Errorf("seal the %s entry: %w", rec.GetType(), err)
	}
	if _, err := s.n.Push(ctx, [][]byte{st.Raw}); err != nil {
		return nil, err
	}
	return st, nil
}
