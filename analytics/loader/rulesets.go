package loader

import (
	"encoding/json"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// decode reads an entry's payload as its message (nil for a type this
// binary does not know): the loader's only call into the entry decoder.
func decode(s *ledger.Stored) (proto.Message, error) {
	return entries.Decode(s.Type, s.Payload)
}

// ruleSets is what the loader knows of the rule sets published in the
// chains it loads: per chain (an org's own), the drafts and the
// publications in Raft order with their "just under" thresholds. It is
// rebuilt from the rule_sets table whenever the loader (re)starts, and then
// follows the entries it loads, so a transaction is counted with the
// thresholds in force for its org when it was recorded, whichever loader
// run counts it.
type ruleSets struct {
	def    []int64
	known  map[string]bool                // entry ids already taken in
	drafts map[string]schema.RuleSetRow   // origin/version → draft
	live   map[string][]schema.RuleSetRow // origin → publications, Raft order
	over   map[string][]string            // origin → the chains whose sets apply to it, nearest first
}

// newRuleSets starts from the rows a previous run wrote (in Raft order).
func newRuleSets(rows []schema.RuleSetRow) *ruleSets {
	r := &ruleSets{def: schema.DefaultThresholds(), known: map[string]bool{}, drafts: map[string]schema.RuleSetRow{},
		live: map[string][]schema.RuleSetRow{}, over: map[string][]string{}}
	for _, row := range rows {
		r.keep(row)
	}
	return r
}

func (r *ruleSets) keep(row schema.RuleSetRow) {
	r.known[ledger.EntryID(row.Origin, row.Seq)] = true
	switch row.State {
	case schema.RuleSetDraft:
		r.drafts[row.Origin+"/"+row.Version] = row
	case schema.RuleSetPublished:
		r.live[row.Origin] = append(r.live[row.Origin], row)
	}
}

// take follows one rule-set entry loaded at Raft index index and returns
// the rule_sets row it adds; false when it adds none: an entry already
// known, a draft whose rules do not read, or a publication of no draft the
// chain holds (the nodes do not apply those either).
func (r *ruleSets) take(index uint64, s *ledger.Stored, v *sanziv1.RuleSetVersion) (schema.RuleSetRow, bool) {
	if r.known[s.ID()] {
		return schema.RuleSetRow{}, false
	}
	row := schema.RuleSetRow{RaftIndex: index, Origin: s.Origin, Seq: s.Seq, Version: v.GetVersion(), Sha256: v.GetSha256(),
		EffectiveAt: s.RecordedAt.UTC().Truncate(time.Second)}
	switch v.GetState() {
	case sanziv1.RuleSetState_RULE_SET_STATE_DRAFT:
		var rs rules.RuleSet
		if json.Unmarshal([]byte(v.GetRulesJson()), &rs) != nil {
			return schema.RuleSetRow{}, false
		}
		row.State, row.Thresholds = schema.RuleSetDraft, schema.ThresholdsOf(rs)
	case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
		d, ok := r.drafts[s.Origin+"/"+v.GetVersion()]
		if !ok || d.Sha256 != v.GetSha256() {
			return schema.RuleSetRow{}, false
		}
		row.State, row.Thresholds = schema.RuleSetPublished, d.Thresholds
	default:
		return schema.RuleSetRow{}, false
	}
	r.keep(row)
	return row, true
}

// thresholds are the "just under" thresholds in force for a transaction of
// origin recorded at at and loaded at Raft index index: the newest set
// published, by then, in the origin's own chain, else its town's, else the
// district's; else the default rule set's. Only publications loaded at or
// before index count, so a resumed loader decides as the first run did.
// Times are compared to the second, as rule_sets stores them.
func (r *ruleSets) thresholds(index uint64, origin string, at time.Time) []int64 {
	at = at.Truncate(time.Second)
	for _, chain := range r.chainsOver(origin) {
		pubs := r.live[chain]
		for i := len(pubs) - 1; i >= 0; i-- {
			if p := pubs[i]; p.RaftIndex <= index && !p.EffectiveAt.After(at) {
				return p.Fen
			}
		}
	}
	return r.def
}

// chainsOver are origin and the orgs above it, nearest first.
func (r *ruleSets) chainsOver(origin string) []string {
	if c, ok := r.over[origin]; ok {
		return c
	}
	c := []string{origin}
	switch level, err := idcode.OrgCode(origin); {
	case err != nil:
	case level == idcode.LevelVillage:
		c = append(c, origin[:9]+"000", origin[:6]+"000000")
	case level == idcode.LevelTown:
		c = append(c, origin[:6]+"000000")
	}
	r.over[origin] = slices.Clip(c)
	return c
}
