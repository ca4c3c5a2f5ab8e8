package authz

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/idcode"
)

// orgFields are the names of string fields that name the org a request acts
// on; scopeParent is the one more a statistics scope uses.
var orgFields = []protoreflect.Name{"org", "origin"}

const (
	scopeField  protoreflect.Name = "scope"
	scopeParent protoreflect.Name = "parent"
	authorField protoreflect.Name = "author"
)

// RequestOrgs lists the orgs a request names, found by one rule for every
// request type so that a new RPC is scoped without a line of its own:
//
//   - a singular string field named org or origin at the top level
//     (ListTransactionsRequest.org, ListEntriesRequest.origin);
//   - the same one level down, in a singular message field
//     (RecordTransactionRequest.transaction.org, DecideStepRequest.decision.org,
//     TestRulesRequest.transaction.org);
//   - parent in a message field named scope (the statistics' StatsScope).
//
// Empty fields are left out: a request naming no org is scoped by its
// handler (ScopeOrg). Deeper fields, lists and maps are not looked at; the
// package's tests fail when a request type puts an org field deeper.
func RequestOrgs(m proto.Message) []string {
	var out []string
	for _, f := range requestOrgFields(m) {
		out = append(out, f.value)
	}
	return out
}

// orgField is an org a request names and where: its JSON path
// ("transaction.org"), as REST's field violations name fields.
type orgField struct{ path, value string }

func requestOrgFields(m proto.Message) []orgField {
	if m == nil {
		return nil
	}
	var out []orgField
	r := m.ProtoReflect()
	out = appendOrgs(out, "", r, false)
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.Cardinality() == protoreflect.Repeated || !r.Has(f) {
			continue
		}
		out = appendOrgs(out, f.JSONName()+".", r.Get(f).Message(), f.Name() == scopeField)
	}
	return out
}

// appendOrgs adds the non-empty org fields of r (and parent, in a scope).
func appendOrgs(out []orgField, prefix string, r protoreflect.Message, scope bool) []orgField {
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if !isOrgField(f, scope) {
			continue
		}
		if s := r.Get(f).String(); s != "" {
			out = append(out, orgField{prefix + f.JSONName(), s})
		}
	}
	return out
}

func isOrgField(f protoreflect.FieldDescriptor, scope bool) bool {
	if f.Kind() != protoreflect.StringKind || f.Cardinality() == protoreflect.Repeated {
		return false
	}
	for _, n := range orgFields {
		if f.Name() == n {
			return true
		}
	}
	return scope && f.Name() == scopeParent
}

// bindRequest is what the interceptor checks on every request message a
// person sends: each org it names is in p's scope, and its top-level author
// field, when it has one, is p's account (an empty one is filled in, so a
// handler that stores req.author stores the signed-in account).
func bindRequest(p Principal, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	for _, f := range requestOrgFields(msg) {
		if _, err := idcode.OrgCode(f.value); err != nil {
			// Refused all the same (a malformed code covers nothing), but
			// as the bad request it is, naming the field.
			return &BadOrgError{Field: f.path, Err: err}
		}
		if err := checkOrg(p, f.value); err != nil {
			return err
		}
	}
	r := msg.ProtoReflect()
	f := r.Descriptor().Fields().ByName(authorField)
	if f == nil || f.Kind() != protoreflect.StringKind || f.Cardinality() == protoreflect.Repeated {
		return nil
	}
	if err := checkAuthor(p, r.Get(f).String()); err != nil {
		return err
	}
	r.Set(f, protoreflect.ValueOfString(p.Account))
	return nil
}

// BadOrgError is a request naming an org by a malformed code: answered
// InvalidArgument (HTTP 400) with the field, before any handler runs.
type BadOrgError struct {
	Field string
	Err   error
}

func (e *BadOrgError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }

func (e *BadOrgError) Unwrap() error { return e.Err }
