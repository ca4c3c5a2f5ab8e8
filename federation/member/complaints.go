package member

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// complaintIntake files the villagers' complaints of the public site
// (issue 15) through Raft: photos as attachments of the replicated state
// charged to the district, the complaint as an entry of the district's
// chain sealed by the leader with the chain's key (as the district's
// people's writes are), which locks the photos it names.
type complaintIntake struct{ m *Member }

var _ public.Intake = complaintIntake{}

// complaintAuthor is the author of a complaint's entry: the public, no
// account.
const complaintAuthor = "public"

// TownKey implements public.Intake: the key the town's chain is signed
// with, from the replicated state.
func (c complaintIntake) TownKey(town string) (ed25519.PublicKey, bool) {
	return c.m.node.FSM().Current(town)
}

// PutPhoto implements public.Intake.
func (c complaintIntake) PutPhoto(ctx context.Context, content []byte, contentType, fileName string) (string, error) {
	return c.m.svc.PutAttachment(ctx, c.m.chainKey.Origin, content, fileName, contentType)
}

// File implements public.Intake.
func (c complaintIntake) File(ctx context.Context, cm *sanziv1.Complaint) (*ledger.Stored, error) {
	payload, err := proto.Marshal(cm)
	if err != nil {
		return nil, fmt.Errorf("encode the complaint: %w", err)
	}
	return c.m.svc.AppendDistrict(ctx, complaintAuthor, sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, payload)
}

// complaintConfig is the public site's complaint side, unless turned off.
func (m *Member) complaintConfig() *public.ComplaintConfig {
	if m.cfg.NoComplaints {
		return nil
	}
	return &public.ComplaintConfig{Intake: complaintIntake{m}, ChallengeSecret: m.chainKey.Key.Seed(), Limits: m.cfg.ComplaintLimits}
}
