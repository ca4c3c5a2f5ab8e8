package relay

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
)

// Refused is a chain the parent refused for good (a refusal carrying the
// refusal package's detail, issue 18): the outbox stops pushing it, and
// pushes it again once its local head changes (a repair rewrote it) or
// after Config.Recheck. Other chains keep syncing.
type Refused struct {
	Origin  string    `json:"origin"`
	Seq     uint64    `json:"seq"`
	Reason  string    `json:"reason"`            // refusal.Reason, e.g. CHAIN_BROKEN
	Failure string    `json:"failure,omitempty"` // for CHAIN_BROKEN: hash, signature, link or seq
	Message string    `json:"message"`           // the parent's words
	At      time.Time `json:"at"`
	// Summary is the line to show: "chain broken at seq N, refused by
	// parent".
	Summary string `json:"summary"`
	// Remedy says what lifts the refusal: a repair from the parent's copy
	// for a broken chain, a new key for a revoked or expired one.
	Remedy string `json:"remedy"`

	head ledger.Head // the local head when refused
}

// summary words a refusal for people.
func summary(r *refusal.Refusal) string {
	what := strings.ToLower(strings.ReplaceAll(string(r.Reason), "_", " "))
	switch r.Reason {
	case refusal.ReasonChainBroken:
		what = "chain broken"
	case refusal.ReasonKeyRevoked:
		what = "signing key revoked"
	case refusal.ReasonKeyExpired:
		what = "signing key's certificate expired"
	}
	if f := r.Extra[refusal.KeyFailure]; f != "" {
		return fmt.Sprintf("%s at seq %d (%s), refused by parent", what, r.Seq, f)
	}
	return fmt.Sprintf("%s at seq %d, refused by parent", what, r.Seq)
}

// remedy says what lifts a refusal of reason.
func remedy(reason refusal.Reason) string {
	switch reason {
	case refusal.ReasonKeyRevoked, refusal.ReasonKeyExpired:
		return "re-key the node with a new certificate (sanzi village rekey)"
	}
	return "repair the chain from the parent's copy (sanzi repair --from-parent)"
}

// refuse records a permanent refusal; it returns false when the refusal
// names no chain this outbox pushes (then it is retried like any fault).
func (o *Outbox) refuse(r *refusal.Refusal) bool {
	if !slices.Contains(o.origins(), r.Origin) {
		return false
	}
	rec := &Refused{Origin: r.Origin, Seq: r.Seq, Reason: string(r.Reason), Failure: r.Extra[refusal.KeyFailure], Message: r.Message,
		At: o.cfg.Clock(), Summary: summary(r), Remedy: remedy(r.Reason), head: o.cfg.Ledger.Head(r.Origin)}
	o.mu.Lock()
	o.refused[r.Origin] = rec
	o.st.Refusals++
	o.mu.Unlock()
	o.cfg.Logger.Error("the parent refused the chain permanently; pushing it stops until its head changes",
		"origin", r.Origin, "seq", r.Seq, "reason", r.Reason, "failure", rec.Failure, "remedy", rec.Remedy, "parent_said", r.Message)
	return true
}

// pushable is origins without those refused, lifting a refusal once the
// chain's head moved (it was repaired) or Recheck has passed.
func (o *Outbox) pushable(origins []string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.refused) == 0 {
		return origins
	}
	out := make([]string, 0, len(origins))
	for _, org := range origins {
		if r, ok := o.refused[org]; ok {
			moved := o.cfg.Ledger.Head(org) != r.head
			if !moved && o.cfg.Clock().Sub(r.At) < o.cfg.Recheck {
				continue
			}
			delete(o.refused, org)
			o.cfg.Logger.Info("pushing a refused chain again", "origin", org, "head_moved", moved, "refused_at", r.At)
		}
		out = append(out, org)
	}
	return out
}

// refusedList is the chains refused now, by origin.
func (o *Outbox) refusedList() []Refused {
	out := make([]Refused, 0, len(o.refused))
	for _, r := range o.refused {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Refused) int { return strings.Compare(a.Origin, b.Origin) })
	return out
}
