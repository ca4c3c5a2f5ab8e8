package books

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// addressed says whether a directive is for org.
func addressed(d *sanziv1.Directive, org string) bool {
	for _, a := range d.GetAddressees() {
		if strings.HasPrefix(org, a) {
			return true
		}
	}
	return false
}

// Directives lists the district's directives (pulled with its chain) that
// are addressed to the node's orgs, with the node's reports on each.
func (b *Books) Directives() ([]*sanziv1.DirectiveRecord, error) {
	home := b.HomeOrg()
	if len(home) != 12 {
		return nil, nil
	}
	var out []*sanziv1.DirectiveRecord
	byID := map[string]*sanziv1.DirectiveRecord{}
	err := b.eachOfType(sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE, home[:6]+"000000", func(s *ledger.Stored) bool {
		// One that does not pass the district writer's checks (no task,
		// no deadline that is a date) is not listed: nothing could be
		// reported against it.
		d := &sanziv1.Directive{}
		if proto.Unmarshal(s.Payload, d) != nil || !addressed(d, home) || entries.CheckDirective(d) != nil {
			return true
		}
		r := &sanziv1.DirectiveRecord{Entry: s.Meta(), Directive: d}
		out = append(out, r)
		byID[s.ID()] = r
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("read the district's directives: %w", err)
	}
	err = b.eachOfType(sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE_REPORT, home, func(s *ledger.Stored) bool {
		rep := &sanziv1.DirectiveReport{}
		if proto.Unmarshal(s.Payload, rep) == nil {
			if r := byID[rep.GetDirectiveId()]; r != nil {
				r.ReportIds = append(r.ReportIds, s.ID())
				r.Done = r.Done || rep.GetDone()
			}
		}
		return true
	})
	return out, err
}

// eachOfType calls fn for origin's entries of type t in chain order, from
// the type index (not a walk of the whole chain), until it returns false.
func (b *Books) eachOfType(t sanziv1.EntryType, origin string, fn func(*ledger.Stored) bool) error {
	return b.l.DB().View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketByType).Bucket([]byte{byte(t)})
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		for k, _ := c.Seek([]byte(origin)); k != nil && len(k) == len(origin)+8 && bytes.HasPrefix(k, []byte(origin)); k, _ = c.Next() {
			s, err := ledger.GetTx(tx, origin, binary.BigEndian.Uint64(k[len(origin):]))
			if err != nil {
				return err
			}
			if !fn(s) {
				return nil
			}
		}
		return nil
	})
}

// ReportDirective records the node's report on a directive addressed to it;
// the report travels up with the node's chain.
func (b *Books) ReportDirective(ctx context.Context, author string, rep *sanziv1.DirectiveReport) (*ledger.Stored, error) {
	if err := b.val.Author(author); err != nil {
		return nil, err
	}
	ds, err := b.Directives()
	if err != nil {
		return nil, err
	}
	found := false
	for _, d := range ds {
		found = found || d.GetEntry().GetId() == rep.GetDirectiveId()
	}
	switch {
	case !found:
		return nil, &InvalidError{Violations: []Violation{{Field: "report.directiveId", Reason: fmt.Sprintf("no directive %q addressed to %s on this node", rep.GetDirectiveId(), b.HomeOrg())}}}
	case strings.TrimSpace(rep.GetText()) == "":
		return nil, &InvalidError{Violations: []Violation{{Field: "report.text", Reason: "required: what was done"}}}
	}
	rep = proto.CloneOf(rep)
	rep.Org = b.HomeOrg()
	st, _, err := b.record(ctx, author, rep.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE_REPORT, rep)
	return st, err
}
