package public

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// books computes villages' disclosures from the state and keeps them until
// the village's chain grows: a page view reads memory, a new entry costs
// one pass over that village's chain.
type books struct {
	state    State
	district string
	now      func() time.Time

	mu       sync.Mutex
	villages map[string]*villageBook
	cat      *catalogAt
}

type villageBook struct {
	head uint64
	all  []*disclosed.Disclosure // every published one, oldest first
	rule matterRule
	// unmasked are the seqs of the entries that hold personal data in
	// their hashed bodies (sealed before entries were split, issue 15),
	// in order: the site never serves them, so no proof spans them.
	unmasked []uint64
}

type catalogAt struct {
	head uint64
	rule matterRule
}

// matterRule is what the catalog in force says of GOV-DISCLOSE.
type matterRule struct {
	itemizeFromFen  int64
	retentionMonths int
	version         string
}

func newBooks(st State, district string, now func() time.Time) *books {
	return &books{state: st, district: district, now: now, villages: map[string]*villageBook{}}
}

// rule reads the catalog in force from the district's chain (the last
// published version, four eyes checked as every node checks them; the
// default catalog before any), again only when that chain grew.
func (b *books) rule() (matterRule, error) {
	head := b.state.Heads()[b.district].Seq
	b.mu.Lock()
	c := b.cat
	b.mu.Unlock()
	if c != nil && c.head == head {
		return c.rule, nil
	}
	cat := catalog.Default(b.district[:6])
	var pub catalog.Published
	var ferr error
	err := b.state.Range(b.district, 1, 0, func(s *ledger.Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION {
			return true
		}
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			ferr = fmt.Errorf("catalog entry %s: %w", s.ID(), err)
			return false
		}
		if c, _ := pub.Observe(s.ID(), s.Author, s.Payload, m.(*sanziv1.Catalog)); c != nil {
			cat = c
		}
		return true
	})
	if err != nil || ferr != nil {
		return matterRule{}, fmt.Errorf("read the catalog in force: %w", cmpErr(err, ferr))
	}
	r := matterRule{retentionMonths: disclosed.DefaultRetentionMonths, version: cat.GetVersion()}
	for _, m := range cat.GetMatters() {
		if m.GetCode() == disclosed.Matter {
			r.itemizeFromFen = m.GetThresholdFen()
			if m.GetRetentionMonths() > 0 {
				r.retentionMonths = int(m.GetRetentionMonths())
			}
		}
	}
	b.mu.Lock()
	b.cat = &catalogAt{head: head, rule: r}
	b.mu.Unlock()
	return r, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// published is village's disclosures still on the site (within the
// catalog's retention), oldest first.
func (b *books) published(village string) ([]*disclosed.Disclosure, matterRule, error) {
	rule, err := b.rule()
	if err != nil {
		return nil, rule, err
	}
	head := b.state.Heads()[village].Seq
	if head == 0 {
		// No chain: nothing published, and nothing cached, so asking for
		// every possible village code fills no memory.
		return nil, rule, nil
	}
	b.mu.Lock()
	vb := b.villages[village]
	b.mu.Unlock()
	if vb == nil || vb.head != head || vb.rule != rule {
		sc := &scanner{State: b.state}
		all, err := disclosed.Compute(sc, village, 1, disclosed.Options{ItemizeFromFen: rule.itemizeFromFen})
		if err != nil {
			return nil, rule, err
		}
		vb = &villageBook{head: head, all: all, rule: rule, unmasked: sc.unmasked}
		b.mu.Lock()
		b.villages[village] = vb
		b.mu.Unlock()
	}
	cutoff := b.now().AddDate(0, -rule.retentionMonths, 0)
	out := slices.DeleteFunc(slices.Clone(vb.all), func(d *disclosed.Disclosure) bool { return d.PublishedAt.Before(cutoff) })
	return out, rule, nil
}

// scanner notes, as Compute reads a chain, the entries that hold personal
// data unmasked in their hashed bodies.
type scanner struct {
	State
	unmasked []uint64
}

func (sc *scanner) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	return sc.State.Range(origin, from, limit, func(s *ledger.Stored) bool {
		if ledger.Unmasked(s, entries.Masker{}) {
			sc.unmasked = append(sc.unmasked, s.Seq)
		}
		return fn(s)
	})
}

// unmaskedIn is the first entry of village from..to (inclusive) that
// holds personal data unmasked in its hashed body (0: none known).
func (b *books) unmaskedIn(village string, from, to uint64) uint64 {
	b.mu.Lock()
	vb := b.villages[village]
	b.mu.Unlock()
	if vb == nil {
		return 0
	}
	i, _ := slices.BinarySearch(vb.unmasked, from)
	if i < len(vb.unmasked) && vb.unmasked[i] <= to {
		return vb.unmasked[i]
	}
	return 0
}

// month is village's published disclosure of period.
func (b *books) month(village, period string) (*disclosed.Disclosure, []*disclosed.Disclosure, error) {
	all, _, err := b.published(village)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range all {
		if d.Period == period {
			return d, all, nil
		}
	}
	return nil, all, errNotFound
}
