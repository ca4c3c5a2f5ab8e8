package cluster

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// roles are the certificate roles that may call a method at all; a method
// not listed is open to any certificate of the district CA, and its chains
// are then scoped by scope and trim.
var roles = map[string][]pki.Role{
	sanziv1.DistrictService_Join_FullMethodName:           {pki.RoleDistrict},
	sanziv1.DistrictService_Leave_FullMethodName:          {pki.RoleDistrict},
	sanziv1.DistrictService_RegisterOrigin_FullMethodName: {pki.RoleDistrict},
	sanziv1.DistrictService_MemberWrite_FullMethodName:    {pki.RoleDistrict},
	sanziv1.DistrictService_PushEntries_FullMethodName:    {pki.RoleDistrict, pki.RoleTown},
	// Every origin's heads: a town sees its villages' rows (trim).
	sanziv1.DistrictService_ListHeads_FullMethodName: {pki.RoleDistrict, pki.RoleTown},
	// The signed checkpoints, which a town keeps to serve its villages'
	// public site (public anyway: every member's site serves them).
	sanziv1.DistrictService_ListCheckpoints_FullMethodName: {pki.RoleDistrict, pki.RoleTown},
}

// analyticsPrefix names the statistics methods: figures of every origin,
// for district certificates only (they cannot be scoped by row cheaply).
const analyticsPrefix = "/sanzi.v1.AnalyticsService/"

// Authorize is a unary interceptor that lets only district members change
// the cluster, towns and district members push, and any certified node read;
// a node certificate reaches only the chains pki.May lets it push or pull
// (issue 12: a town pushed another town's village, a village read every
// origin). GetAttachment is scoped in its handler, which knows whose an
// attachment is.
func Authorize(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	org, role, err := peerIdentity(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%v", err)
	}
	need := roles[info.FullMethod]
	if strings.HasPrefix(info.FullMethod, analyticsPrefix) {
		need = []pki.Role{pki.RoleDistrict}
	}
	if len(need) > 0 {
		if err := pki.AllowRoles(need...)(org, role); err != nil {
			return nil, status.Errorf(codes.PermissionDenied, "%s (%s) may not call %s: %v", org, role, info.FullMethod, err)
		}
	}
	if err := scope(org, role, req); err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	if err == nil {
		trim(org, role, resp)
	}
	return resp, err
}

// scope refuses a request naming a chain the caller may not push or pull.
func scope(org string, role pki.Role, req any) error {
	if role == pki.RoleDistrict {
		return nil
	}
	pull := func(origin string) error {
		if err := pki.May(org, role, pki.Pull, origin); err != nil {
			return status.Errorf(codes.PermissionDenied, "%v", err)
		}
		return nil
	}
	switch r := req.(type) {
	case *sanziv1.PushEntriesRequest:
		for i, raw := range r.GetEntries() {
			l, err := ledger.Peek(raw)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "entry %d: %v", i, err)
			}
			if err := pki.May(org, role, pki.Push, l.Origin); err != nil {
				return status.Errorf(codes.PermissionDenied, "entry %d: %v", i, err)
			}
		}
	case *sanziv1.GetDistrictHeadRequest:
		return pull(r.GetOrigin())
	case *sanziv1.ListDistrictEntriesRequest:
		return pull(r.GetOrigin())
	case *sanziv1.ListForksRequest:
		if r.GetOrigin() == "" {
			return status.Errorf(codes.PermissionDenied, "%s %s may list the forks of the chains it may pull only: name one with origin", role, org)
		}
		return pull(r.GetOrigin())
	}
	return nil
}

// trim drops, from an unfiltered list of heads, the rows of chains the
// caller may not pull: a town keeps its own and its villages', a village
// its own (and its town's and district's).
func trim(org string, role pki.Role, resp any) {
	if role == pki.RoleDistrict {
		return
	}
	may := func(origin string) bool { return pki.May(org, role, pki.Pull, origin) == nil }
	switch r := resp.(type) {
	case *sanziv1.ListHeadsResponse:
		r.Heads = slices.DeleteFunc(r.Heads, func(a *sanziv1.OriginAck) bool { return !may(a.GetOrigin()) })
	case *sanziv1.SyncHeadsResponse:
		r.Heads = slices.DeleteFunc(r.Heads, func(a *sanziv1.SyncAck) bool { return !may(a.GetOrigin()) })
	}
}
