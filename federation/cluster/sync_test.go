package cluster

import (
	"testing"

	"github.com/sanzi/sanzi/node/pki"
)

func TestMayPush(t *testing.T) {
	for _, c := range []struct {
		org    string
		role   pki.Role
		origin string
		ok     bool
	}{
		{"350505100201", pki.RoleVillage, "350505100201", true},
		{"350505100201", pki.RoleVillage, "350505100202", false}, // another village
		{"350505100201", pki.RoleVillage, "350505100000", false}, // its town
		{"350505100000", pki.RoleTown, "350505100000", true},
		{"350505100000", pki.RoleTown, "350505100299", true},
		{"350505100000", pki.RoleTown, "350505101201", false}, // a village of another town
		{"350505100000", pki.RoleTown, "350506100201", false}, // another district
		{"350505000000", pki.RoleDistrict, "350506100201", true},
		{"350505100201", pki.Role("mayor"), "350505100201", false},
	} {
		if err := MayPush(c.org, c.role, c.origin); (err == nil) != c.ok {
			t.Errorf("%s %s pushing %s: %v, want allowed=%v", c.role, c.org, c.origin, err, c.ok)
		}
	}
}
