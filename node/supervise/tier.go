package supervise

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Tier is the supervision a node adds for where it stands between the tiers
// (DESIGN.md, "Sync between tiers"): a town looks across the chains of its
// villages and decides their town steps and alert reviews in its own
// chain; a village applies its town's decisions in its own. Both live in
// node/town; the node picks one by the idcode.Level it runs at. None is
// the tier of a node that supervises its own chains only.
//
// The Supervisor calls every method with its mutex held (so a Tier needs no
// lock of its own for what these methods touch), feeds entries in chain
// order, and replays every chain from the start when the node starts.
type Tier interface {
	// Follows says whether origin's chain, one the node holds but does not
	// serve, is fed to ObserveHeld (a town: its villages'; a village: its
	// town's); chains it does not follow are not supervised here.
	Follows(origin string) bool
	// ObserveHeld takes one entry of a followed chain and returns the
	// alerts to record about it in the node's own chain, each with Key and
	// Subject set; a hit whose key is Raised is not returned again. An
	// error stops the catch-up; the entry is fed again at the next.
	ObserveHeld(st *ledger.Stored) ([]rules.Hit, error)
	// ObserveOwn takes one entry of the node's own chains (and of its
	// district's: catalogs), decoded as m, that the Supervisor accepted.
	ObserveOwn(st *ledger.Stored, m proto.Message)
	// SetRules is told of every rule set published in the chain, once it
	// is in force here.
	SetRules(e *rules.Engine) error
	// Apply records, once every chain is observed, what the tier owes in
	// the node's own chain (a village: its town's decisions, checked
	// against own, the node's own procedures), and returns how many
	// entries it appended; the Supervisor observes them and asks again
	// until it appends none. Not called while replaying at start.
	Apply(ctx context.Context, own *workflow.Flows) (int, error)
	// Raised says whether an alert of key about a held chain is in the
	// node's own chain, and remembers it as raised when mark is set. A
	// tier that keeps no such memory answers false.
	Raised(key string, mark bool) bool
	// DecidesFor says whether steps and alert reviews of org are decided
	// here for it (a town: its villages'), through DecideStep and
	// ReviewAlert, rather than in org's own chain.
	DecidesFor(org string) bool
	// DecideStep records a decision on the open step of a procedure of an
	// org DecidesFor, and returns its entry and the procedure as held; the
	// Supervisor has caught up before and catches up after. Its errors are
	// the books' (InvalidError, ConflictError, BlockedError).
	DecideStep(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error)
	// ReviewAlert records one step of the review of an alert of an org
	// DecidesFor, as DecideStep does.
	ReviewAlert(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error)
	// Held are the procedures of the followed chains (a town's villages'),
	// listed with the node's own; nil when there are none.
	Held() *workflow.Flows
	// HeldHistory is the tier's own watcher over the followed chains (a
	// town's cross-village rules), nil when there is none: the Supervisor
	// gives it an archive written with each checkpoint (watch.Archive),
	// as it does its own, and rebuilds the state when its history, made
	// from the checkpoint when first needed (watch.Load), does not decode.
	// The tier hands the archive on to a watcher it makes in its place
	// (Restore).
	HeldHistory() *watch.Watcher
	// RefuseOwnDecision says why a decision d, made through the node's own
	// API on one of its own procedures, may not be recorded here, or nil:
	// a village refuses one on a step whose post the catalog cat holds at
	// the town, since those reach it only in its town's chain. The error
	// wraps books.ErrPermissionDenied.
	RefuseOwnDecision(cat *sanziv1.Catalog, d *sanziv1.StepDecision) error
	// Save writes the tier's state for the Supervisor's checkpoint
	// (node/checkpoint), at a moment when it is exactly what the chains
	// observed say.
	Save(e *checkpoint.Encoder)
	// Restore decodes what Save wrote and returns what puts it in place,
	// with e as the rule set in force; nothing changes until that is
	// called, so a checkpoint that fails to decode anywhere leaves the
	// tier as it was made.
	Restore(d *checkpoint.Decoder, e *rules.Engine) (func(), error)
}

// None is the Tier of a node that supervises its own chains only; a Tier
// embeds it to implement only what it adds.
type None struct{}

// errNotDecided is what None answers for an org it does not decide for
// (the Supervisor asks DecidesFor first, so it is never returned).
var errNotDecided = errors.New("this node does not decide for other orgs")

func (None) Save(*checkpoint.Encoder)                                        {}
func (None) Restore(*checkpoint.Decoder, *rules.Engine) (func(), error)      { return func() {}, nil }
func (None) Follows(string) bool                                             { return false }
func (None) ObserveHeld(*ledger.Stored) ([]rules.Hit, error)                 { return nil, nil }
func (None) ObserveOwn(*ledger.Stored, proto.Message)                        {}
func (None) SetRules(*rules.Engine) error                                    { return nil }
func (None) Apply(context.Context, *workflow.Flows) (int, error)             { return 0, nil }
func (None) Raised(string, bool) bool                                        { return false }
func (None) DecidesFor(string) bool                                          { return false }
func (None) Held() *workflow.Flows                                           { return nil }
func (None) HeldHistory() *watch.Watcher                                     { return nil }
func (None) RefuseOwnDecision(*sanziv1.Catalog, *sanziv1.StepDecision) error { return nil }
func (None) ReviewAlert(context.Context, string, *sanziv1.AlertTransition) (*ledger.Stored, error) {
	return nil, errNotDecided
}
func (None) DecideStep(context.Context, string, *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	return nil, nil, errNotDecided
}
