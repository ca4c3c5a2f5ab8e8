package authz

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestRequestOrgs(t *testing.T) {
	for _, c := range []struct {
		name string
		req  proto.Message
		want []string
	}{
		{"top-level org", &sanziv1.ListTransactionsRequest{Org: "350505100201"}, []string{"350505100201"}},
		{"top-level origin", &sanziv1.ListEntriesRequest{Origin: "350505100202"}, []string{"350505100202"}},
		{"district origin", &sanziv1.ListDistrictEntriesRequest{Origin: "350505200201"}, []string{"350505200201"}},
		{"transaction.org", &sanziv1.RecordTransactionRequest{Author: "a", Transaction: &sanziv1.Transaction{Org: "350505100201"}}, []string{"350505100201"}},
		{"contract.org", &sanziv1.RecordContractRequest{Contract: &sanziv1.Contract{Org: "350505100203"}}, []string{"350505100203"}},
		{"decision.org", &sanziv1.DecideStepRequest{Decision: &sanziv1.StepDecision{Org: "350505100201", Post: "town.reviewer"}}, []string{"350505100201"}},
		{"transition.org", &sanziv1.UpdateAlertStatusRequest{Transition: &sanziv1.AlertTransition{Org: "350505100201"}}, []string{"350505100201"}},
		{"stream row", &sanziv1.ImportTransactionsRequest{Row: 2, Transaction: &sanziv1.Transaction{Org: "350505100209"}}, []string{"350505100209"}},
		{"stats scope parent", &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: "village", Parent: "350505100000"}}, []string{"350505100000"}},
		{"dry run of rules", &sanziv1.TestRulesRequest{Transaction: &sanziv1.Transaction{Org: "350505100201"}}, []string{"350505100201"}},
		{"no org: handler scopes", &sanziv1.ListTransactionsRequest{}, nil},
		{"by id: handler scopes", &sanziv1.GetTransactionRequest{Id: "350505100202-7"}, nil},
		{"counterparty id is no org", &sanziv1.RecordTransactionRequest{Transaction: &sanziv1.Transaction{Counterparty: &sanziv1.Counterparty{IdNumber: "350505199001011234"}}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := RequestOrgs(c.req); !slices.Equal(got, c.want) {
				t.Errorf("RequestOrgs = %v, want %v", got, c.want)
			}
		})
	}
}

// orgPaths finds every string field named org or origin in md, down to
// depth levels of singular message fields, as dotted paths.
func orgPaths(md protoreflect.MessageDescriptor, prefix string, depth int) []string {
	var out []string
	for i := range md.Fields().Len() {
		f := md.Fields().Get(i)
		path := prefix + string(f.Name())
		switch {
		case isOrgField(f, false):
			out = append(out, path)
		case f.Kind() == protoreflect.MessageKind && !f.IsMap() && depth > 0:
			out = append(out, orgPaths(f.Message(), path+".", depth-1)...)
		}
	}
	return out
}

// TestOrgRuleReachesEveryRequest sets each org field of every request type
// of the table and checks RequestOrgs finds it: a new request type that puts
// its org deeper than the rule reaches (or in a list) fails here instead of
// going unscoped.
func TestOrgRuleReachesEveryRequest(t *testing.T) {
	n := 0
	for name, md := range servedMethods(t) {
		if perm, _ := Required(name); perm == NodeOnly {
			continue // nodes are scoped by their certificates
		}
		for _, path := range orgPaths(md.Input(), "", 3) {
			req := newRequest(t, md)
			setPath(req.ProtoReflect(), strings.Split(path, "."), "350505100299")
			if got := RequestOrgs(req); !slices.Equal(got, []string{"350505100299"}) {
				t.Errorf("%s: %s set, RequestOrgs = %v: the org rule does not reach it", name, path, got)
			}
			n++
		}
	}
	if n < 20 {
		t.Errorf("only %d org fields found in the request types", n)
	}
	t.Logf("%d org fields of request types checked", n)
}

func setPath(r protoreflect.Message, path []string, v string) {
	f := r.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if len(path) == 1 {
		r.Set(f, protoreflect.ValueOfString(v))
		return
	}
	setPath(r.Mutable(f).Message(), path[1:], v)
}

func TestBindRequestAuthor(t *testing.T) {
	p := Principal{Account: "zhang.kj", Org: "350505100201", Roles: []Role{RoleAccountant}}
	req := &sanziv1.RecordTransactionRequest{Transaction: &sanziv1.Transaction{Org: "350505100201"}}
	if err := bindRequest(p, req); err != nil || req.GetAuthor() != "zhang.kj" {
		t.Fatalf("empty author: err %v, author %q; want filled with the account", err, req.GetAuthor())
	}
	req.Author = "li.cn"
	err := bindRequest(p, req)
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), `author "li.cn" is not the signed-in account "zhang.kj"`) {
		t.Fatalf("another author: %v", err)
	}
	for _, bad := range []string{"35050510020", "990505100201", "3505"} {
		var be *BadOrgError
		err := bindRequest(p, &sanziv1.RecordTransactionRequest{Transaction: &sanziv1.Transaction{Org: bad}})
		if !errors.As(err, &be) || be.Field != "transaction.org" {
			t.Errorf("org %q: %v, want a BadOrgError naming transaction.org", bad, err)
		}
		if st := toStatus(err); status.Code(st) != codes.InvalidArgument {
			t.Errorf("org %q answered %v, want InvalidArgument", bad, st)
		}
	}
	ctx := NewContext(context.Background(), p)
	if a, err := Author(ctx); a != "zhang.kj" || err != nil {
		t.Errorf("Author = %q, %v", a, err)
	}
	if err := CheckAuthor(ctx, ""); err != nil {
		t.Errorf("CheckAuthor(empty) = %v", err)
	}
	if err := CheckAuthor(ctx, "li.cn"); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("CheckAuthor(other) = %v", err)
	}
	if _, err := Author(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Author without a principal = %v", err)
	}
}

func TestCoversAndScopeOrg(t *testing.T) {
	village := Principal{Org: "350505100201"}
	town := Principal{Org: "350505100000"}
	district := Principal{Org: "350505000000"}
	for _, c := range []struct {
		p    Principal
		org  string
		want bool
	}{
		{village, "350505100201", true},
		{village, "350505100202", false},
		{village, "350505100000", false},
		{town, "350505100000", true},
		{town, "350505100201", true},
		{town, "350505100999", true},
		{town, "350505110201", false}, // another town, though it starts 3505051
		{town, "350505200201", false},
		{district, "350505100201", true},
		{district, "350505999999", true},
		{district, "350506100201", false},
		{district, "35050510020", false},  // malformed
		{district, "35050510020x", false}, // malformed
		{Principal{Org: "bogus"}, "350505100201", false},
	} {
		if got := c.p.Covers(c.org); got != c.want {
			t.Errorf("%s covers %s = %v, want %v", c.p.Org, c.org, got, c.want)
		}
	}
	ctx := NewContext(context.Background(), town)
	if org, err := ScopeOrg(ctx, ""); org != "350505100000" || err != nil {
		t.Errorf("ScopeOrg(none) = %q, %v; want the account's org", org, err)
	}
	if org, err := ScopeOrg(ctx, "350505100201"); org != "350505100201" || err != nil {
		t.Errorf("ScopeOrg(its village) = %q, %v", org, err)
	}
	_, err := ScopeOrg(ctx, "350505200201")
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "account of 350505100000 may not act on 350505200201") {
		t.Errorf("ScopeOrg(another town's village) = %v", err)
	}
	if _, err := ScopeOrg(context.Background(), ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("ScopeOrg without a principal = %v", err)
	}
}
