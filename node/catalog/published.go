package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The district drafts a catalog as one rules officer and publishes it as
// another, in its own chain. Every node that applies the catalogs coming
// down that chain follows them with a Published and judges each
// publication itself: the district's writer checked the two accounts, but
// a writer that skipped the check (an older binary, a hand-made entry
// signed with a district key) must not put a self-published catalog in
// force anywhere.

// Statuses of a catalog version as a node sees it.
const (
	StatusDraft      = "draft"
	StatusLive       = "live"
	StatusSuperseded = "superseded"
	StatusIgnored    = "ignored"
)

// Errors of a publication the node does not apply; Observe wraps them with
// the accounts and versions involved.
var (
	// ErrOneEntry: a catalog written in one entry by one account, with no
	// draft (CATALOG_STATE_UNSPECIFIED, as the district wrote them before
	// drafts).
	ErrOneEntry = errors.New("written in one entry by one account, not drafted by one rules officer and published by another")
	// ErrNoDraft: a publication naming a version or content no draft holds.
	ErrNoDraft = errors.New("no draft of the district's chain holds what it publishes")
	// ErrDraftInvalid: the draft it publishes does not validate.
	ErrDraftInvalid = errors.New("the draft it publishes does not validate")
)

// Status is one catalog version as the node knows it.
type Status struct {
	Version     string
	State       string // StatusDraft, StatusLive, StatusSuperseded or StatusIgnored
	DraftedBy   string
	PublishedBy string
	DraftID     string
	PublishedID string
	// IgnoredReason says why a publication is not in force.
	IgnoredReason string
}

type draftOf struct {
	cat    *sanziv1.Catalog
	author string
	sha    string
	status *Status
}

// Published follows the catalog entries of the district's chain, in chain
// order. Not safe for concurrent use (its owner serialises it with the rest
// of its supervision state).
type Published struct {
	drafts map[string]*draftOf // by version
	order  []*Status
	live   *Status
}

// PayloadSum is the hex SHA-256 of a draft entry's payload as stored: what
// a publication's sha256 names.
func PayloadSum(payload []byte) string {
	s := sha256.Sum256(payload)
	return hex.EncodeToString(s[:])
}

// Observe takes one catalog entry of the district's chain: its id, its
// author (the account the district authenticated), its payload as stored
// and m, the payload decoded. It returns the catalog to put in force from
// this entry on (the draft's content naming its drafter and publisher),
// or nil. A publication not put in force is listed as ignored and returned
// as an error saying why (wrapping entries.ErrFourEyes for one published
// by its drafter); the caller logs it and goes on.
func (p *Published) Observe(id, author string, payload []byte, m *sanziv1.Catalog) (*sanziv1.Catalog, error) {
	if p.drafts == nil {
		p.drafts = map[string]*draftOf{}
	}
	switch m.GetState() {
	case sanziv1.CatalogState_CATALOG_STATE_DRAFT:
		st := &Status{Version: m.GetVersion(), State: StatusDraft, DraftedBy: author, DraftID: id}
		if _, dup := p.drafts[m.GetVersion()]; dup {
			return nil, nil // the district's writer refuses a second draft of a version; the first one counts
		}
		p.drafts[m.GetVersion()] = &draftOf{cat: m, author: author, sha: PayloadSum(payload), status: st}
		p.order = append(p.order, st)
		return nil, nil
	case sanziv1.CatalogState_CATALOG_STATE_PUBLISHED:
		d, ok := p.drafts[m.GetVersion()]
		if !ok || d.sha != m.GetSha256() {
			return nil, p.ignore(&Status{Version: m.GetVersion(), DraftedBy: m.GetDraftedBy()}, id, author,
				fmt.Errorf("catalog %s (sha256 %s): %w", m.GetVersion(), m.GetSha256(), ErrNoDraft))
		}
		if d.status.State == StatusLive || d.status.State == StatusSuperseded {
			return nil, nil // published already; a second publication changes nothing
		}
		if err := entries.FourEyes(author, d.cat.GetDraftedBy(), d.author); err != nil {
			return nil, p.ignore(d.status, id, author, fmt.Errorf("catalog %s was drafted by %s and published by %s: %w",
				m.GetVersion(), d.author, author, err))
		}
		if err := Validate(d.cat); err != nil {
			return nil, p.ignore(d.status, id, author, fmt.Errorf("catalog %s: %w: %w", m.GetVersion(), ErrDraftInvalid, err))
		}
		if p.live != nil {
			p.live.State = StatusSuperseded
		}
		// A draft whose earlier publication was ignored (by its drafter)
		// still goes live when a second account publishes it.
		d.status.State, d.status.PublishedBy, d.status.PublishedID, d.status.IgnoredReason = StatusLive, author, id, ""
		p.live = d.status
		cat := proto.CloneOf(d.cat)
		cat.DraftedBy, cat.PublishedBy, cat.State, cat.Sha256 = d.author, author, sanziv1.CatalogState_CATALOG_STATE_PUBLISHED, d.sha
		return cat, nil
	}
	return nil, p.ignore(&Status{Version: m.GetVersion(), DraftedBy: author}, id, author, fmt.Errorf("catalog %s by %s: %w", m.GetVersion(), author, ErrOneEntry))
}

// ignore lists st as an ignored publication (entry id, by author) for err.
func (p *Published) ignore(st *Status, id, author string, err error) error {
	if st.State == "" {
		p.order = append(p.order, st)
	}
	st.State, st.PublishedBy, st.PublishedID, st.IgnoredReason = StatusIgnored, author, id, err.Error()
	return err
}

// Versions lists the catalog versions of the district's chain, in the
// order the chain first names them, with what the node made of each.
func (p *Published) Versions() []Status {
	out := make([]Status, len(p.order))
	for i, s := range p.order {
		out[i] = *s
	}
	return out
}

// Draft is the draft of version as the chain holds it, naming its drafter
// (the draft entry's author), and whether there is one. The caller may
// change what it gets.
func (p *Published) Draft(version string) (*sanziv1.Catalog, bool) {
	d, ok := p.drafts[version]
	if !ok {
		return nil, false
	}
	cat := proto.CloneOf(d.cat)
	cat.DraftedBy = d.author
	return cat, true
}
