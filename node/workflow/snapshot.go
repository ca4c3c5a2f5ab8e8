package workflow

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Save writes every procedure, the catalogs they follow and the cards
// given, for a checkpoint (node/checkpoint). A step's code, name and post
// are its matter's and are not written; its times and status are.
func (f *Flows) Save(e *checkpoint.Encoder) {
	versions := slices.Sorted(maps.Keys(f.catalogs))
	from := map[*sanziv1.Matter]string{} // which catalog each matter is of
	e.Uint(uint64(len(versions)))
	for _, v := range versions {
		e.String(v)
		e.Proto(f.catalogs[v])
		for _, m := range f.catalogs[v].GetMatters() {
			from[m] = v
		}
	}
	e.String(f.current.GetVersion())
	e.Uint(uint64(len(f.order)))
	for _, id := range f.order {
		p := f.procs[id]
		e.String(id)
		e.Proto(p.P)
		e.String(from[p.Matter])
		e.String(p.Matter.GetCode())
		e.Time(p.Opened)
		e.Time(p.Deadline)
		e.String(string(p.Status))
		e.Int(int64(p.Step))
		if p.packed == nil {
			e.Section(p.packSteps)
		} else {
			e.Bytes(p.packed) // restored closed and never read since: as it was
		}
	}
	e.Set(f.given)
}

// Load reads what Save wrote into f, a Flows New made with the same
// calendar, replacing its procedures.
func (f *Flows) Load(d *checkpoint.Decoder) error {
	catalogs := map[string]*sanziv1.Catalog{}
	for range d.Len() {
		v := d.String()
		c := &sanziv1.Catalog{}
		d.Proto(c)
		catalogs[v] = c
	}
	current, ok := catalogs[d.String()]
	if d.Err() == nil && !ok {
		return fmt.Errorf("workflow state: the catalog in force is not among those saved")
	}
	n := d.Len()
	procs, order := make(map[string]*Proc, n), make([]string, 0, n)
	for range n {
		p := &Proc{ID: d.String(), P: &sanziv1.Procedure{}}
		d.Proto(p.P)
		ver, code := d.String(), d.String()
		for _, m := range catalogs[ver].GetMatters() {
			if m.GetCode() == code {
				p.Matter = m
			}
		}
		if d.Err() == nil && p.Matter == nil {
			return fmt.Errorf("workflow state: procedure %s follows matter %s of catalog %q, which is not saved", p.ID, code, ver)
		}
		p.Opened, p.Deadline = d.Time(), d.Time()
		p.Status, p.Step = Status(d.String()), int(d.Int())
		p.packed = bytes.Clone(d.Bytes()) // not the whole state's buffer, kept alive by it
		if d.Err() != nil {
			break
		}
		// A closed procedure is only read whole when someone asks for it
		// (Record): most of a long history is closed, and its steps stay
		// packed until then.
		if p.Status == StatusOpen {
			if err := p.unpack(); err != nil {
				return err
			}
		}
		procs[p.ID] = p
		order = append(order, p.ID)
	}
	given := d.Set()
	if err := d.Err(); err != nil {
		return fmt.Errorf("workflow state: %w", err)
	}
	f.catalogs, f.current, f.procs, f.order, f.given = catalogs, current, procs, order, given
	f.reindex()
	return nil
}

// packSteps writes the steps' states and the decisions.
func (p *Proc) packSteps(e *checkpoint.Encoder) {
	e.Uint(uint64(len(p.Steps)))
	for _, s := range p.Steps {
		e.String(s.GetStatus())
		e.String(s.GetBy())
		e.Time(asTime(s.GetOpenedAt()))
		e.Time(asTime(s.GetDeadline()))
		e.Time(asTime(s.GetClosedAt()))
	}
	e.Strings(p.Decisions)
}

// unpack reads the steps' states and decisions a checkpoint left packed.
func (p *Proc) unpack() error {
	if p.packed == nil {
		return nil
	}
	d := checkpoint.NewDecoder(p.packed)
	steps := p.Matter.GetSteps()
	ns := d.Len()
	if d.Err() == nil && ns != len(steps) {
		return fmt.Errorf("workflow state: procedure %s has %d steps, its matter %d", p.ID, ns, len(steps))
	}
	out := make([]*sanziv1.StepState, ns)
	for i := range ns {
		s := steps[i]
		out[i] = &sanziv1.StepState{Code: s.GetCode(), Name: s.GetName(), Post: s.GetPost(), Status: d.String(), By: d.String(),
			OpenedAt: stamp(d.Time()), Deadline: stamp(d.Time()), ClosedAt: stamp(d.Time())}
	}
	decisions := d.Strings()
	if err := d.Done(); err != nil {
		return fmt.Errorf("workflow state: procedure %s: %w", p.ID, err)
	}
	p.Steps, p.Decisions, p.packed = out, decisions, nil
	return nil
}

// asTime is a step's time, zero when unset.
func asTime(ts *timestamppb.Timestamp) (t time.Time) {
	if ts == nil {
		return t
	}
	return ts.AsTime()
}

// stamp is t as a step's time, nil when zero.
func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
