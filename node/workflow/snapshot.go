package workflow

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Save writes the procedures in memory, the catalogs they follow and the
// cards given, for a checkpoint (node/checkpoint). With an archive it
// writes the open ones only, and stages the closed ones in memory for the
// archive: the caller writes Staged in the checkpoint's transaction. A
// procedure that fails to encode fails the checkpoint (e.Data).
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
	var keep, closed []*Proc
	for _, p := range f.procs {
		if f.archive != nil && p.Status != StatusOpen {
			closed = append(closed, p)
		} else {
			keep = append(keep, p)
		}
	}
	f.staged = nil
	if f.archive != nil {
		// A closed procedure the batch could not encode is written with
		// the open ones: its error then fails the checkpoint (e.Data),
		// as without an archive, rather than let one be written that
		// holds it nowhere (a start from it would not replay it).
		var left []*Proc
		f.staged, left = f.stage(inOrder(closed), from)
		keep = append(keep, left...)
	}
	e.Uint(uint64(len(keep)))
	for _, p := range inOrder(keep) {
		encodeProc(e, p, from[p.Matter])
	}
	e.Set(f.given)
}

// Staged hands over what the last Save left to the archive (nil without
// an archive), for the checkpoint to write in its transaction; Done then
// drops it from memory.
func (f *Flows) Staged() *Batch {
	b := f.staged
	f.staged = nil
	return b
}

// Load reads what Save wrote into f, a Flows New or Blank made with the
// same calendar, replacing its procedures. With an archive, the closed
// procedures are the archive's (the checkpoint holds the open ones).
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
	procs := make(map[string]*Proc, n)
	// Save wrote them oldest first (inOrder): decoded, numbered and
	// indexed in that order, they need no sort.
	ordered := make([]*Proc, 0, n)
	seq := 0
	for range n {
		p, err := decodeProc(d, catalogs)
		if err != nil {
			return err
		}
		if procs[p.ID] != nil {
			// Save writes each once; indexed in the order decoded, a
			// second copy would sit in the indexes beside the first.
			return fmt.Errorf("workflow state: procedure %s is saved twice", p.ID)
		}
		// A closed procedure (a Flows without an archive) is only read
		// whole when someone asks for it (Record): most of a long history
		// is closed, and its steps stay packed until then.
		if p.Status == StatusOpen {
			if err := p.unpack(); err != nil {
				return err
			}
		}
		p.seq = seq
		seq++
		procs[p.ID] = p
		ordered = append(ordered, p)
	}
	given := d.Set()
	if err := d.Err(); err != nil {
		return fmt.Errorf("workflow state: %w", err)
	}
	f.catalogs, f.current, f.procs, f.seq = catalogs, current, procs, seq
	f.opens, f.ofPeriod, f.given, f.cards, f.staged = map[string]*Proc{}, map[string][]*Proc{}, map[string]bool{}, map[string][]string{}, nil
	for _, p := range ordered {
		f.index(p)
	}
	for _, k := range slices.Sorted(maps.Keys(given)) {
		// A card's key starts with its procedure's id (cardKey).
		if id, _, _ := strings.Cut(k, "/"); f.opens[id] != nil {
			f.give(id, k)
		}
	}
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
