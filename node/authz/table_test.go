package authz

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/sanzi/sanzi/proto/gen/sanzi/v1" // registers every sanzi.v1 service
)

// servedMethods enumerates every method of every service in the generated
// code of the sanzi proto packages, as "/pkg.Service/Method".
func servedMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "sanzi.") {
			return true
		}
		for i := range fd.Services().Len() {
			s := fd.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				out["/"+string(s.FullName())+"/"+string(m.Name())] = m
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no sanzi services registered: the generated code is not linked in")
	}
	return out
}

// TestEveryMethodInTable fails when an RPC is added without its line in the
// permission table (it would be refused to everyone), and when a line names
// a method that no longer exists.
func TestEveryMethodInTable(t *testing.T) {
	served := servedMethods(t)
	table := Methods()
	for name := range served {
		if _, ok := table[name]; !ok {
			t.Errorf("%s is not in the permission table (node/authz/perms.go): add the permission it needs, Public or NodeOnly", name)
		}
	}
	for name := range table {
		if _, ok := served[name]; !ok {
			t.Errorf("table line %s names no generated method", name)
		}
	}
	t.Logf("%d methods in %d-line table", len(served), len(table))
}

func TestRoleTable(t *testing.T) {
	known := append(slices.Clone(writes), PermRead, PermReadPersonal, PermReadStats, PermVerify)
	if len(Roles()) != 9 {
		t.Errorf("roles: %v, want the 9 of issue 12 item 6", Roles())
	}
	for _, r := range Roles() {
		if len(r.Permissions()) == 0 {
			t.Errorf("role %s grants nothing", r)
		}
		for _, p := range r.Permissions() {
			if !slices.Contains(known, p) {
				t.Errorf("role %s grants %q, which is no permission a person may hold", r, p)
			}
		}
	}
	for _, r := range readOnly {
		for _, p := range r.Permissions() {
			if p.Writes() {
				t.Errorf("read-only role %s holds %s", r, p)
			}
		}
	}
	if got := RoleAdmin.Permissions(); !slices.Equal(got, []Permission{PermManageAccounts}) {
		t.Errorf("admin holds %v, want accounts only", got)
	}
	for _, r := range Roles() {
		if r.May(PermReadPersonal) != (r == RoleAccountant || r == RoleAuditor) {
			t.Errorf("role %s: read_personal %v; only accountant and auditor see personal data whole", r, r.May(PermReadPersonal))
		}
	}
	// Every write a person may make is reached by some role, and every
	// permission a method needs is held by some role or marks the method
	// Public/NodeOnly/SignedIn (every account holds SignedIn).
	for m, p := range Methods() {
		if p == Public || p == NodeOnly || p == SignedIn {
			continue
		}
		held := false
		for _, r := range Roles() {
			held = held || r.May(p)
		}
		if !held {
			t.Errorf("%s needs %s, which no role holds", m, p)
		}
	}
}
