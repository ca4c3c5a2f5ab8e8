package catalog

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Save writes what p made of the district's catalog entries, for a
// checkpoint (node/checkpoint).
func (p *Published) Save(e *checkpoint.Encoder) {
	index := make(map[*Status]int, len(p.order))
	e.Uint(uint64(len(p.order)))
	for i, s := range p.order {
		index[s] = i
		for _, f := range []string{s.Version, s.State, s.DraftedBy, s.PublishedBy, s.DraftID, s.PublishedID, s.IgnoredReason} {
			e.String(f)
		}
	}
	e.Uint(uint64(len(p.drafts)))
	for _, v := range slices.Sorted(maps.Keys(p.drafts)) {
		d := p.drafts[v]
		e.String(v)
		e.Proto(d.cat)
		e.String(d.author)
		e.String(d.sha)
		e.Int(int64(index[d.status]))
	}
	live := -1
	if p.live != nil {
		live = index[p.live]
	}
	e.Int(int64(live))
}

// Load reads what Save wrote into p, replacing what it held.
func (p *Published) Load(d *checkpoint.Decoder) error {
	order := make([]*Status, d.Len())
	for i := range order {
		order[i] = &Status{Version: d.String(), State: d.String(), DraftedBy: d.String(), PublishedBy: d.String(),
			DraftID: d.String(), PublishedID: d.String(), IgnoredReason: d.String()}
	}
	status := func(i int64) (*Status, error) {
		if i < 0 || i >= int64(len(order)) {
			return nil, fmt.Errorf("catalog state: status %d of %d", i, len(order))
		}
		return order[i], nil
	}
	drafts := map[string]*draftOf{}
	for range d.Len() {
		v := d.String()
		df := &draftOf{cat: &sanziv1.Catalog{}}
		d.Proto(df.cat)
		df.author, df.sha = d.String(), d.String()
		s, err := status(d.Int())
		if d.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		df.status = s
		drafts[v] = df
	}
	var live *Status
	if i := d.Int(); i >= 0 && d.Err() == nil {
		s, err := status(i)
		if err != nil {
			return err
		}
		live = s
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("catalog state: %w", err)
	}
	p.order, p.drafts, p.live = order, drafts, live
	return nil
}
