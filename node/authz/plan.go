package authz

import (
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// MaskPublic runs on every entry a node seals and on every entry an inbox
// checks (node/entries.Masker: the public payload must be the private one
// masked), so it is on the sync's path: walking every field of every
// message by reflection took a quarter of a town's CPU and a third of the
// district's while they caught up (issue 17). Which fields can matter is a
// property of the message type, not of the value: a plan per type, worked
// out once from its descriptor, lists them, and the walks visit only those.

// maskPlan is what MaskPublic visits in messages of one type. Each list
// holds fields in declaration order (the order reflection ranges them in).
type maskPlan struct {
	counterparty bool // the type is Counterparty: its values are noted and its name masked
	alert        bool // the type is Alert: its evidence is noted, its key masked
	// collect are the message fields (singular, lists, map values) under
	// which a Counterparty or an Alert may be.
	collect []protoreflect.FieldDescriptor
	// text are the fields that hold text, or messages that may: strings,
	// lists of strings, maps to strings, messages.
	text []protoreflect.FieldDescriptor
	// personal are the fields MaskPersonal may change or reach through:
	// the personal string fields (personalFields) and an alert's key,
	// maps of string to string (evidence), and messages that may hold any.
	personal []protoreflect.FieldDescriptor
}

// maskPlans caches the plan of each message type, made on first use. The
// plans are never changed once stored, so readers share them freely.
type maskPlans struct{ m sync.Map } // protoreflect.MessageDescriptor -> *maskPlan

// plans is the one cache of the process. Message types are fixed at build
// time, so it only grows to their number and holds nothing of any value.
var plans maskPlans

// of returns the plan of d.
func (p *maskPlans) of(d protoreflect.MessageDescriptor) *maskPlan {
	if v, ok := p.m.Load(d); ok {
		return v.(*maskPlan)
	}
	pl := newMaskPlan(d)
	v, _ := p.m.LoadOrStore(d, pl)
	return v.(*maskPlan)
}

// newMaskPlan works out the plan of d.
func newMaskPlan(d protoreflect.MessageDescriptor) *maskPlan {
	pl := &maskPlan{counterparty: d.FullName() == counterpartyMessage, alert: d.FullName() == alertMessage}
	fields := d.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		var sub protoreflect.MessageDescriptor
		switch {
		case f.IsMap() && f.MapValue().Kind() == protoreflect.MessageKind:
			sub = f.MapValue().Message()
		case !f.IsMap() && f.Kind() == protoreflect.MessageKind:
			sub = f.Message()
		}
		if sub != nil {
			// A message field may lead to anything: that is decided by
			// what its type holds, over every type it reaches.
			h := reach(sub)
			if h.collect {
				pl.collect = append(pl.collect, f)
			}
			if h.text {
				pl.text = append(pl.text, f)
			}
			if h.personal {
				pl.personal = append(pl.personal, f)
			}
			continue
		}
		switch {
		case f.IsMap():
			if f.MapValue().Kind() == protoreflect.StringKind {
				pl.text = append(pl.text, f)
				if f.MapKey().Kind() == protoreflect.StringKind {
					pl.personal = append(pl.personal, f)
				}
			}
		case f.Kind() == protoreflect.StringKind:
			pl.text = append(pl.text, f)
			if !f.IsList() && (personalFields[f.Name()] != nil || (pl.alert && f.Name() == keyField)) {
				pl.personal = append(pl.personal, f)
			}
		}
	}
	return pl
}

// holds says what messages of a type, or any message under them, may hold.
type holds struct{ collect, text, personal bool }

// reach is what d and every type reachable from it hold.
func reach(d protoreflect.MessageDescriptor) holds {
	var h holds
	seen := map[protoreflect.FullName]bool{}
	var visit func(d protoreflect.MessageDescriptor)
	visit = func(d protoreflect.MessageDescriptor) {
		if seen[d.FullName()] {
			return
		}
		seen[d.FullName()] = true
		if d.FullName() == counterpartyMessage || d.FullName() == alertMessage {
			h.collect = true
		}
		if d.FullName() == alertMessage {
			h.personal = true // its key
		}
		fields := d.Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			switch {
			case f.IsMap():
				switch f.MapValue().Kind() {
				case protoreflect.MessageKind:
					visit(f.MapValue().Message())
				case protoreflect.StringKind:
					h.text = true
					h.personal = h.personal || f.MapKey().Kind() == protoreflect.StringKind
				}
			case f.Kind() == protoreflect.MessageKind:
				visit(f.Message())
			case f.Kind() == protoreflect.StringKind:
				h.text = true
				h.personal = h.personal || (!f.IsList() && personalFields[f.Name()] != nil)
			}
		}
	}
	visit(d)
	return h
}

// collect notes, by plan, for every counterparty and alert evidence in r,
// the personal values and their masked forms (value -> masked, in found);
// a private person's counterparty name is masked in place, however short.
func (p *maskPlans) collect(r protoreflect.Message, today time.Time, found map[string]string) {
	pl := p.of(r.Descriptor())
	if pl.counterparty {
		c, _ := r.Interface().(*sanziv1.Counterparty)
		if name := c.GetName(); name != "" && PrivatePerson(c, today) {
			note(found, name, MaskName, minNameRunes)
			c.Name = MaskName(name)
		}
		note(found, c.GetIdNumber(), MaskResidentID, minNumberRunes)
		note(found, c.GetBankAccount(), MaskBankAccount, minNumberRunes)
		note(found, c.GetPhone(), MaskPhone, minNumberRunes)
		return
	}
	if pl.alert {
		if a, ok := r.Interface().(*sanziv1.Alert); ok {
			noteEvidence(found, a.GetEvidence())
		}
	}
	for _, f := range pl.collect {
		if !r.Has(f) {
			continue
		}
		v := r.Get(f)
		switch {
		case f.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				p.collect(mv.Message(), today, found)
				return true
			})
		case f.IsList():
			for j := range v.List().Len() {
				p.collect(v.List().Get(j).Message(), today, found)
			}
		default:
			p.collect(v.Message(), today, found)
		}
	}
}

// replace rewrites, by plan, every string in r (fields, lists, map values)
// with rep.
func (p *maskPlans) replace(r protoreflect.Message, rep *replacer) {
	p.rewrite(r, func(m *maskPlan) []protoreflect.FieldDescriptor { return m.text },
		func(_ protoreflect.FieldDescriptor, _ protoreflect.MapKey, s string) string { return rep.Replace(s) })
}

// personal masks in place, by plan, every personal string field, an
// alert's key and the personal values of string maps (MaskPersonal).
func (p *maskPlans) personal(r protoreflect.Message) {
	p.rewrite(r, func(m *maskPlan) []protoreflect.FieldDescriptor { return m.personal },
		func(f protoreflect.FieldDescriptor, k protoreflect.MapKey, s string) string {
			var mask func(string) string
			switch {
			case f.IsMap():
				mask = personalEvidence[k.String()]
			case f.Name() == keyField && f.ContainingMessage().FullName() == alertMessage:
				mask = maskSegments
			default:
				mask = personalFields[f.Name()]
			}
			if mask == nil || s == "" {
				return s
			}
			return mask(s)
		})
}

// rewrite walks the fields of r that fields picks from its type's plan,
// into messages, lists and maps, and sets every string value to what
// with returns for it (k is the map key for a map's value), where that
// differs.
func (p *maskPlans) rewrite(r protoreflect.Message, fields func(*maskPlan) []protoreflect.FieldDescriptor, with func(f protoreflect.FieldDescriptor, k protoreflect.MapKey, s string) string) {
	for _, f := range fields(p.of(r.Descriptor())) {
		if !r.Has(f) {
			continue
		}
		v := r.Get(f)
		switch {
		case f.IsMap():
			m := v.Map()
			if f.MapValue().Kind() == protoreflect.MessageKind {
				m.Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					p.rewrite(mv.Message(), fields, with)
					return true
				})
				continue
			}
			type kv struct {
				k protoreflect.MapKey
				v string
			}
			var kvs []kv // set once the map is ranged
			m.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if nv := with(f, k, mv.String()); nv != mv.String() {
					kvs = append(kvs, kv{k, nv})
				}
				return true
			})
			for _, x := range kvs {
				m.Set(x.k, protoreflect.ValueOfString(x.v))
			}
		case f.IsList():
			l := v.List()
			for j := range l.Len() {
				if f.Kind() == protoreflect.MessageKind {
					p.rewrite(l.Get(j).Message(), fields, with)
				} else if nv := with(f, protoreflect.MapKey{}, l.Get(j).String()); nv != l.Get(j).String() {
					l.Set(j, protoreflect.ValueOfString(nv))
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			p.rewrite(v.Message(), fields, with)
		default:
			if nv := with(f, protoreflect.MapKey{}, v.String()); nv != v.String() {
				r.Set(f, protoreflect.ValueOfString(nv))
			}
		}
	}
}

// note records v's masked form when masking changes it and v is at least
// min characters long.
func note(found map[string]string, v string, mask func(string) string, min int) {
	if v = strings.TrimSpace(v); len([]rune(v)) >= min {
		if mv := mask(v); mv != v {
			found[v] = mv
		}
	}
}

// noteEvidence records the personal values of an alert's evidence: the
// persons it names (counterparty_name unless counterparty_is_person is
// "false", relative_name, a payee) and its personal numbers.
func noteEvidence(found map[string]string, ev map[string]string) {
	if ev["counterparty_is_person"] != "false" {
		note(found, ev["counterparty_name"], MaskName, minNameRunes)
	}
	note(found, ev["relative_name"], MaskName, minNameRunes)
	if p := ev["payee"]; numberLike(p) {
		note(found, p, maskNumber, minNumberRunes)
	} else {
		note(found, p, MaskName, minNameRunes) // a payee with no number is a name: when in doubt, a person's
	}
	for k, mask := range personalEvidence {
		if k != "payee" {
			note(found, ev[k], mask, minNumberRunes)
		}
	}
}

// replacer replaces each of olds (none empty) with the news at the same
// index, as strings.NewReplacer(old0, new0, old1, new1, …) does: left to
// right, at each position the first of olds found there, never inside a
// replacement. strings.Replacer builds a lookup trie for each new set of
// values, which cost more than the replacing for the two or three values
// of an entry; most strings hold none of them and are returned as they are.
type replacer struct {
	olds, news []string
}

// Replace returns s with olds replaced.
func (r *replacer) Replace(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		// The nearest position where any old starts; at a tie, the
		// first of olds.
		at, k := -1, -1
		for j, o := range r.olds {
			if x := strings.Index(s[i:], o); x >= 0 && (at < 0 || x < at) {
				at, k = x, j
			}
		}
		if k < 0 {
			break
		}
		i += at
		b.WriteString(s[last:i])
		b.WriteString(r.news[k])
		i += len(r.olds[k])
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
