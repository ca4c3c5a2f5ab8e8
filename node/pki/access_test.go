package pki

import "testing"

// TestMay: every role against every kind of chain, both ways. The chains
// are seen from village 350505100201 of town 350505100000 in district
// 350505.
func TestMay(t *testing.T) {
	const (
		village      = "350505100201"
		sibling      = "350505100202" // another village of the same town
		town         = "350505100000"
		otherTown    = "350505101000"
		otherVillage = "350505101201" // a village of another town
		district     = "350505000000"
		otherDist    = "350506000000"
		farVillage   = "350506100201" // a village of another district
	)
	for _, c := range []struct {
		org    string
		role   Role
		origin string
		push   bool
		pull   bool
	}{
		{village, RoleVillage, village, true, true},
		{village, RoleVillage, sibling, false, false},
		{village, RoleVillage, town, false, true},
		{village, RoleVillage, otherTown, false, false},
		{village, RoleVillage, otherVillage, false, false},
		{village, RoleVillage, district, false, true},
		{village, RoleVillage, otherDist, false, false},
		{town, RoleTown, town, true, true},
		{town, RoleTown, village, true, true},
		{town, RoleTown, "350505100299", true, true},
		{town, RoleTown, otherTown, false, false},
		{town, RoleTown, otherVillage, false, false},
		{town, RoleTown, farVillage, false, false},
		{town, RoleTown, district, false, true},
		{town, RoleTown, otherDist, false, false},
		{district, RoleDistrict, farVillage, true, true},
		{district, RoleDistrict, town, true, true},
		{district, RoleDistrict, district, true, true},
		{village, Role("mayor"), village, false, false},
		{village, RoleVillage, "3505051002xx", false, false},
	} {
		for op, want := range map[Op]bool{Push: c.push, Pull: c.pull} {
			if err := May(c.org, c.role, op, c.origin); (err == nil) != want {
				t.Errorf("%s %s may %s %s: %v, want allowed=%v", c.role, c.org, op, c.origin, err, want)
			}
		}
	}
}
