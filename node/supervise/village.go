package supervise

import (
	"fmt"

	"github.com/sanzi/sanzi/node/books"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// townStepAtVillage refuses, at a village, a decision its own caller made
// on a step whose post is held at the town: such decisions reach the
// village only in its town's chain (applyInbound), where the town has
// checked them. d has passed the workflow's check, so its post is the
// step's. The caller holds s.mu.
func (s *Supervisor) townStepAtVillage(d *sanziv1.StepDecision) error {
	if s.parent == nil || !s.townPost(d.GetPost()) {
		return nil
	}
	return fmt.Errorf("%w: step %s of procedure %s is held by the town's post %s; its decision comes only from the town's chain (%s), not from the village's API",
		books.ErrPermissionDenied, d.GetStepCode(), d.GetProcedureId(), d.GetPost(), s.parent.town)
}
