package pki

import (
	"fmt"
	"strings"

	"github.com/sanzi/sanzi/node/idcode"
)

// Op is what a node does with a chain over sync: push it up, or pull it
// down.
type Op string

// Ops of SyncService.
const (
	Push Op = "push"
	Pull Op = "pull"
)

// May says whether a node whose certificate names org and role may push or
// pull origin's chain (DESIGN.md, "Sync between tiers"), and why not:
//
//   - a village pushes only its own chain; it pulls its own (a repair reads
//     it back), its town's (the town's decisions on it) and its district's
//     (rule sets, catalogs, directives);
//   - a town pushes and pulls its own chain and its villages' (org code
//     prefix), and pulls its district's;
//   - a district member pushes and pulls anything.
//
// Both the town's inbox (node/town) and the district (federation/cluster)
// ask it, so the rule is written once. The caller maps a refusal to
// PermissionDenied (or to its own code where it always answered so).
func May(org string, role Role, op Op, origin string) error {
	if role == RoleDistrict {
		return nil
	}
	if op != Push && op != Pull {
		return fmt.Errorf("%q is not push or pull", op)
	}
	level, err := idcode.OrgCode(origin)
	if err != nil {
		return fmt.Errorf("%s %s may not %s %q: %w", role, org, op, origin, err)
	}
	own := origin == org
	district := level == idcode.LevelDistrict && strings.HasPrefix(org, origin[:6])
	switch role {
	case RoleVillage:
		town := level == idcode.LevelTown && strings.HasPrefix(org, origin[:9])
		if own || (op == Pull && (town || district)) {
			return nil
		}
		if op == Push {
			return fmt.Errorf("village %s may push only its own chain, not %s", org, origin)
		}
		return fmt.Errorf("village %s may pull only its own chain, its town's and its district's, not %s", org, origin)
	case RoleTown:
		if own || (level == idcode.LevelVillage && len(org) == 12 && strings.HasPrefix(origin, org[:9])) || (op == Pull && district) {
			return nil
		}
		if op == Push {
			return fmt.Errorf("town %s may push only its own chain and its villages' (%s…), not %s", org, org[:min(9, len(org))], origin)
		}
		return fmt.Errorf("town %s may pull only its own chain, its villages' and its district's, not %s", org, origin)
	}
	return fmt.Errorf("role %q may not %s", role, op)
}
