package authz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// fakeAuth knows one token per account ("tok-<account>") and refuses the
// rest as a real Authenticator does.
type fakeAuth map[string]Principal

func (f fakeAuth) Authenticate(_ context.Context, cred string) (Principal, error) {
	p, ok := f[cred]
	if !ok {
		return Principal{}, fmt.Errorf("token %.6s…: unknown or expired: %w", cred, ErrUnauthenticated)
	}
	return p, nil
}

// home is where each role's test account works, and the org it may act on
// (own) and one it may not (other).
var home = map[Role]struct{ org, own, other string }{
	RoleAccountant:           {"350505100201", "350505100201", "350505100202"},
	RoleVillageCommittee:     {"350505100201", "350505100201", "350505100202"},
	RoleSupervisoryCommittee: {"350505100201", "350505100201", "350505100202"},
	RoleTownReviewer:         {"350505100000", "350505100201", "350505200201"},
	RoleTownAdmin:            {"350505100000", "350505100201", "350505200201"},
	RoleDistrictAnalyst:      {"350505000000", "350505100201", "350506100201"},
	RoleDistrictRulesOfficer: {"350505000000", "350505100201", "350506100201"},
	RoleAuditor:              {"350505000000", "350505100201", "350506100201"},
	RoleAdmin:                {"350505000000", "350505100201", "350506100201"},
}

func testAuth() fakeAuth {
	f := fakeAuth{}
	for r, h := range home {
		f["tok-"+string(r)] = Principal{Account: "acct-" + string(r), Name: string(r), Org: h.org, Roles: []Role{r}}
	}
	return f
}

func newRequest(t *testing.T, md protoreflect.MethodDescriptor) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		t.Fatalf("%s: %v", md.Input().FullName(), err)
	}
	return mt.New().Interface()
}

// withOrg sets the first org field the rule reads (top level, else one
// level down, else the stats scope's parent); false when there is none.
func withOrg(req proto.Message, org string) bool {
	r := req.ProtoReflect()
	paths := orgPaths(r.Descriptor(), "", 1)
	if len(paths) == 0 && r.Descriptor().Fields().ByName(scopeField) != nil {
		paths = []string{"scope.parent"}
	}
	if len(paths) == 0 {
		return false
	}
	setPath(r, strings.Split(paths[0], "."), org)
	return true
}

// fakeStream delivers one request and collects what is sent back.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	req  proto.Message
	sent []any
}

func (s *fakeStream) Context() context.Context { return s.ctx }
func (s *fakeStream) RecvMsg(m any) error {
	if s.req == nil {
		return io.EOF
	}
	proto.Merge(m.(proto.Message), s.req)
	s.req = nil
	return nil
}
func (s *fakeStream) SendMsg(m any) error { s.sent = append(s.sent, m); return nil }

// call runs md through the interceptor with a fake handler that receives
// the request (streams) and reports the principal it saw.
func call(x *Interceptor, ctx context.Context, md protoreflect.MethodDescriptor, name string, req proto.Message) (Principal, error) {
	var saw Principal
	if md.IsStreamingClient() || md.IsStreamingServer() {
		ss := &fakeStream{ctx: ctx, req: req}
		err := x.Stream(nil, ss, &grpc.StreamServerInfo{FullMethod: name, IsClientStream: md.IsStreamingClient(), IsServerStream: md.IsStreamingServer()},
			func(_ any, s grpc.ServerStream) error {
				m := proto.Clone(req)
				proto.Reset(m)
				if err := s.RecvMsg(m); err != nil {
					return err
				}
				saw, _ = FromContext(s.Context())
				return s.SendMsg(&sanziv1.ImportTransactionsResponse{})
			})
		return saw, err
	}
	_, err := x.Unary(ctx, req, &grpc.UnaryServerInfo{FullMethod: name}, func(ctx context.Context, _ any) (any, error) {
		saw, _ = FromContext(ctx)
		return &sanziv1.GetTransactionResponse{}, nil
	})
	return saw, err
}

func bearer(tok string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
}

func nodePeer() context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}}})
}

// TestInterceptorMatrix calls every method of the table as every role, on
// its own org and on another, without a credential and with a bad one, over
// the unary or stream interceptor as the method is, and checks the code and
// the reason of each answer.
func TestInterceptorMatrix(t *testing.T) {
	x := NewInterceptor(testAuth(), slog.New(slog.DiscardHandler))
	counts := map[codes.Code]int{}
	check := func(t *testing.T, got error, want codes.Code, reason string) {
		t.Helper()
		counts[status.Code(got)]++
		if status.Code(got) != want || !strings.Contains(status.Convert(got).Message(), reason) {
			t.Errorf("got %v; want %v with %q", got, want, reason)
		}
	}
	methods := servedMethods(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range methods {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		md := methods[name]
		perm, _ := Required(name)
		t.Run(name, func(t *testing.T) {
			if perm == NodeOnly {
				_, err := call(x, bearer("tok-"+string(RoleAuditor)), md, name, newRequest(t, md))
				check(t, err, codes.Unauthenticated, "is for nodes, with their certificate")
				_, err = call(x, nodePeer(), md, name, newRequest(t, md))
				check(t, err, codes.OK, "")
				return
			}
			if perm == Public {
				_, err := call(x, context.Background(), md, name, newRequest(t, md))
				check(t, err, codes.OK, "")
				return
			}
			_, err := call(x, context.Background(), md, name, newRequest(t, md))
			check(t, err, codes.Unauthenticated, "sign in first")
			_, err = call(x, bearer("stolen"), md, name, newRequest(t, md))
			check(t, err, codes.Unauthenticated, "unknown or expired")
			for _, role := range Roles() {
				h := home[role]
				ctx := bearer("tok-" + string(role))
				own := newRequest(t, md)
				hasOrg := withOrg(own, h.own)
				saw, err := call(x, ctx, md, name, own)
				if perm != SignedIn && !role.May(perm) {
					check(t, err, codes.PermissionDenied, fmt.Sprintf("role %s may not %s", role, perm))
					continue
				}
				check(t, err, codes.OK, "")
				if saw.Account != "acct-"+string(role) {
					t.Errorf("%s: handler saw principal %+v", role, saw)
				}
				if !hasOrg {
					continue
				}
				other := newRequest(t, md)
				withOrg(other, h.other)
				_, err = call(x, ctx, md, name, other)
				check(t, err, codes.PermissionDenied, fmt.Sprintf("account of %s may not act on %s", h.org, h.other))
			}
		})
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("matrix: %d methods × %d roles: %d calls: %d OK, %d Unauthenticated, %d PermissionDenied",
		len(methods), len(Roles()), total, counts[codes.OK], counts[codes.Unauthenticated], counts[codes.PermissionDenied])
}

// TestInterceptorCases are the refusals of issue 12 spelled out, each with
// the exact reason a person reads.
func TestInterceptorCases(t *testing.T) {
	x := NewInterceptor(testAuth(), slog.New(slog.DiscardHandler))
	methods := servedMethods(t)
	tx := func(org, author string) *sanziv1.RecordTransactionRequest {
		return &sanziv1.RecordTransactionRequest{Author: author, Transaction: &sanziv1.Transaction{Org: org}}
	}
	for _, c := range []struct {
		name   string
		ctx    context.Context
		method string
		req    proto.Message
		code   codes.Code
		reason string
	}{
		{"accountant records in its village", bearer("tok-accountant"), sanziv1.TransactionService_RecordTransaction_FullMethodName, tx("350505100201", ""), codes.OK, ""},
		{"accountant records in another village", bearer("tok-accountant"), sanziv1.TransactionService_RecordTransaction_FullMethodName, tx("350505100202", ""),
			codes.PermissionDenied, "account of 350505100201 may not act on 350505100202"},
		{"recording under another name", bearer("tok-accountant"), sanziv1.TransactionService_RecordTransaction_FullMethodName, tx("350505100201", "乙"),
			codes.PermissionDenied, `author "乙" is not the signed-in account "acct-accountant"`},
		{"accountant publishes rules", bearer("tok-accountant"), sanziv1.RuleService_PublishRuleSet_FullMethodName, &sanziv1.PublishRuleSetRequest{Version: "evil-1"},
			codes.PermissionDenied, "role accountant may not publish_rules"},
		{"village committee dismisses an alert of its village", bearer("tok-village_committee"), sanziv1.AlertService_UpdateAlertStatus_FullMethodName,
			&sanziv1.UpdateAlertStatusRequest{Transition: &sanziv1.AlertTransition{Org: "350505100201"}}, codes.OK, ""},
		{"village committee records", bearer("tok-village_committee"), sanziv1.TransactionService_RecordTransaction_FullMethodName, tx("350505100201", ""),
			codes.PermissionDenied, "role village_committee may not record"},
		{"town reviewer decides on its village", bearer("tok-town_reviewer"), sanziv1.WorkflowService_DecideStep_FullMethodName,
			&sanziv1.DecideStepRequest{Decision: &sanziv1.StepDecision{Org: "350505100201"}}, codes.OK, ""},
		{"town reviewer decides on another town's village", bearer("tok-town_reviewer"), sanziv1.WorkflowService_DecideStep_FullMethodName,
			&sanziv1.DecideStepRequest{Decision: &sanziv1.StepDecision{Org: "350505110201"}}, codes.PermissionDenied, "account of 350505100000 may not act on 350505110201"},
		{"analyst reads statistics of a town", bearer("tok-district_analyst"), sanziv1.AnalyticsService_Totals_FullMethodName,
			&sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "village", Parent: "350505100000"}}, codes.OK, ""},
		{"analyst writes", bearer("tok-district_analyst"), sanziv1.LedgerService_RecordReversal_FullMethodName, &sanziv1.RecordReversalRequest{},
			codes.PermissionDenied, "role district_analyst may not record"},
		{"auditor reads the raw chain", bearer("tok-auditor"), sanziv1.LedgerService_ListEntries_FullMethodName, &sanziv1.ListEntriesRequest{Origin: "350505100201"}, codes.OK, ""},
		{"admin reads the books", bearer("tok-admin"), sanziv1.TransactionService_ListTransactions_FullMethodName, &sanziv1.ListTransactionsRequest{},
			codes.PermissionDenied, "role admin may not read"},
		{"person pushes to the district", bearer("tok-auditor"), sanziv1.DistrictService_PushEntries_FullMethodName, &sanziv1.PushEntriesRequest{},
			codes.Unauthenticated, "is for nodes"},
		{"method not in the table", bearer("tok-auditor"), "/sanzi.v1.AccountService/Nothing", &sanziv1.ListTransactionsRequest{},
			codes.PermissionDenied, "not in the permission table"},
		{"basic auth", metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Basic eDp5")),
			sanziv1.TransactionService_ListTransactions_FullMethodName, &sanziv1.ListTransactionsRequest{}, codes.Unauthenticated, `not "Bearer <token>"`},
		{"session id", metadata.NewIncomingContext(context.Background(), metadata.Pairs(SessionMetadata, "tok-auditor")),
			sanziv1.TransactionService_ListTransactions_FullMethodName, &sanziv1.ListTransactionsRequest{}, codes.OK, ""},
		{"stream row of another village", bearer("tok-accountant"), sanziv1.TransactionService_ImportTransactions_FullMethodName,
			&sanziv1.ImportTransactionsRequest{Transaction: &sanziv1.Transaction{Org: "350505100202"}}, codes.PermissionDenied, "may not act on 350505100202"},
		{"alerts of another village watched", bearer("tok-supervisory_committee"), sanziv1.AlertService_WatchAlerts_FullMethodName,
			&sanziv1.WatchAlertsRequest{Org: "350505100202"}, codes.PermissionDenied, "account of 350505100201 may not act on 350505100202"},
	} {
		t.Run(c.name, func(t *testing.T) {
			md := methods[c.method]
			if md == nil {
				md = methods[sanziv1.TransactionService_ListTransactions_FullMethodName]
			}
			_, err := call(x, c.ctx, md, c.method, c.req)
			if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.reason) {
				t.Errorf("got %v; want %v with %q", err, c.code, c.reason)
			}
		})
	}
}
