package authz

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// genericMaskPublic is MaskPublic as it was before the plans (issue 17):
// a walk over every set field of every message by reflection. It is the
// reference the planned walks must agree with.
func genericMaskPublic(m proto.Message, today time.Time) {
	found := map[string]string{}
	genericCollect(m.ProtoReflect(), today, found)
	if len(found) > 0 {
		olds := make([]string, 0, len(found))
		for o := range found {
			olds = append(olds, o)
		}
		slices.SortFunc(olds, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
		pairs := make([]string, 0, 2*len(olds))
		for _, o := range olds {
			pairs = append(pairs, o, found[o])
		}
		genericReplace(m.ProtoReflect(), strings.NewReplacer(pairs...))
	}
	genericMaskPersonal(m)
}

// genericMaskPersonal is MaskPersonal as it was before the plans.
func genericMaskPersonal(m proto.Message) {
	(&masker{may: func(string) bool { return false }}).walk(m.ProtoReflect(), "")
}

// genericCollect is collectPersonal as it was before the plans: it notes, for every counterparty and alert evidence in r,
// the personal values and their masked forms; it masks a private person's
// counterparty name itself, however short.
func genericCollect(r protoreflect.Message, today time.Time, found map[string]string) {
	note := func(v string, mask func(string) string, min int) {
		if v = strings.TrimSpace(v); len([]rune(v)) >= min {
			if mv := mask(v); mv != v {
				found[v] = mv
			}
		}
	}
	if r.Descriptor().FullName() == counterpartyMessage {
		c, _ := r.Interface().(*sanziv1.Counterparty)
		if name := c.GetName(); name != "" && PrivatePerson(c, today) {
			note(name, MaskName, minNameRunes)
			c.Name = MaskName(name)
		}
		note(c.GetIdNumber(), MaskResidentID, minNumberRunes)
		note(c.GetBankAccount(), MaskBankAccount, minNumberRunes)
		note(c.GetPhone(), MaskPhone, minNumberRunes)
		return
	}
	if a, ok := r.Interface().(*sanziv1.Alert); ok {
		ev := a.GetEvidence()
		if ev["counterparty_is_person"] != "false" {
			note(ev["counterparty_name"], MaskName, minNameRunes)
		}
		note(ev["relative_name"], MaskName, minNameRunes)
		if p := ev["payee"]; numberLike(p) {
			note(p, maskNumber, minNumberRunes)
		} else {
			note(p, MaskName, minNameRunes) // a payee with no number is a name: when in doubt, a person's
		}
		for k, mask := range personalEvidence {
			if k != "payee" {
				note(ev[k], mask, minNumberRunes)
			}
		}
	}
	r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsMap():
			if f.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					genericCollect(mv.Message(), today, found)
					return true
				})
			}
		case f.IsList():
			if f.Kind() == protoreflect.MessageKind {
				for j := range v.List().Len() {
					genericCollect(v.List().Get(j).Message(), today, found)
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			genericCollect(v.Message(), today, found)
		}
		return true
	})
}

// genericReplace is replaceText as it was before the plans: it rewrites every string in r (fields, lists, map values) with
// rep.
func genericReplace(r protoreflect.Message, rep *strings.Replacer) {
	var sets []stringSet
	r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsMap():
			m := v.Map()
			switch {
			case f.MapValue().Kind() == protoreflect.MessageKind:
				m.Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					genericReplace(mv.Message(), rep)
					return true
				})
			case f.MapValue().Kind() == protoreflect.StringKind:
				type kv struct {
					k protoreflect.MapKey
					v string
				}
				var kvs []kv
				m.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					if nv := rep.Replace(mv.String()); nv != mv.String() {
						kvs = append(kvs, kv{k, nv})
					}
					return true
				})
				for _, x := range kvs {
					m.Set(x.k, protoreflect.ValueOfString(x.v))
				}
			}
		case f.IsList():
			l := v.List()
			for j := range l.Len() {
				switch f.Kind() {
				case protoreflect.MessageKind:
					genericReplace(l.Get(j).Message(), rep)
				case protoreflect.StringKind:
					if nv := rep.Replace(l.Get(j).String()); nv != l.Get(j).String() {
						l.Set(j, protoreflect.ValueOfString(nv))
					}
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			genericReplace(v.Message(), rep)
		case f.Kind() == protoreflect.StringKind:
			if nv := rep.Replace(v.String()); nv != v.String() {
				sets = append(sets, stringSet{f, nv})
			}
		}
		return true
	})
	for _, x := range sets {
		r.Set(x.f, protoreflect.ValueOfString(x.v))
	}
}

// maskGen fills messages of any type with values the masking cares about:
// each personal field from its own pool (a value is masked one way
// wherever it shows, as it is in real entries), names, free text that
// repeats them, evidence under its keys.
type maskGen struct {
	rnd   *rand.Rand
	pools map[string][]string
}

func newMaskGen(t *testing.T, seed uint64) *maskGen {
	first := "35050219800101001"
	c, err := idcode.ResidentIDCheck(first)
	if err != nil {
		t.Fatal(err)
	}
	resident := first + string(c)
	names := []string{"张三", "欧阳娜娜", "李", "福州某建材有限公司", "王记五金加工店", "Acme Co. Ltd", " 赵六 "}
	ids := []string{resident, "91350100M000100Y43", "350505199001011234", "350505100201"}
	accounts := []string{"6222021234567890123", "6222020200112233445", "12345"}
	phones := []string{"13812345678", "0591-87654321"}
	text := []string{"", "劳务费", "张三 领取劳务费", "付 6222021234567890123 户", "欧阳娜娜的电话13812345678",
		"身份证" + resident, "350505100", "赵六"}
	p := map[string][]string{
		"name": names, "counterparty_name": names, "relative_name": names,
		"id_number": ids, "resident_id": ids, "counterparty_id": ids,
		"bank_account": accounts, "account_number": accounts,
		"phone": phones, "payee": append(append(slices.Clone(names), ids...), accounts...),
		"counterparty_is_person": {"true", "false", ""},
		"key":                    {"SPLIT/" + resident + "/v-1", "SPLIT/6222020200112233445/350505100201-7", "DUP-INVOICE/v-2", "350505100", "SPLIT/张三/v-3"},
	}
	p["text"] = append(append(text, names...), p["key"]...)
	return &maskGen{rnd: rand.New(rand.NewPCG(seed, 17)), pools: p}
}

func (g *maskGen) pick(pool []string) string { return pool[g.rnd.IntN(len(pool))] }

// text is a value for a string field or evidence key of that name.
func (g *maskGen) text(name string) string {
	if pool, ok := g.pools[name]; ok {
		return g.pick(pool)
	}
	return g.pick(g.pools["text"])
}

var evidenceKeys = []string{"payee", "counterparty_name", "counterparty_is_person", "relative_name", "id_number",
	"counterparty_id", "resident_id", "bank_account", "account_number", "phone", "note", "amount_fen"}

func (g *maskGen) scalar(f protoreflect.FieldDescriptor, name string) protoreflect.Value {
	switch f.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(g.text(name))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(g.rnd.IntN(2) == 0)
	case protoreflect.EnumKind:
		vs := f.Enum().Values()
		return protoreflect.ValueOfEnum(vs.Get(g.rnd.IntN(vs.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(g.rnd.IntN(1000)))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(g.rnd.IntN(1_000_000)))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(g.rnd.IntN(1000)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(g.rnd.IntN(1000)))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(g.rnd.IntN(100)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(g.rnd.IntN(100)))
	default: // bytes
		return protoreflect.ValueOfBytes([]byte(g.text(name)))
	}
}

// fill sets about two fields in three of m, nesting messages a few levels.
func (g *maskGen) fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if g.rnd.IntN(3) == 0 {
			continue
		}
		name := string(f.Name())
		switch {
		case f.IsMap():
			mp := m.Mutable(f).Map()
			for range 1 + g.rnd.IntN(4) {
				var k protoreflect.MapKey
				if f.MapKey().Kind() == protoreflect.StringKind {
					name = g.pick(evidenceKeys)
					k = protoreflect.ValueOfString(name).MapKey()
				} else {
					k = g.scalar(f.MapKey(), "").MapKey()
				}
				if f.MapValue().Kind() == protoreflect.MessageKind {
					if depth < 3 {
						v := mp.NewValue()
						g.fill(v.Message(), depth+1)
						mp.Set(k, v)
					}
					continue
				}
				mp.Set(k, g.scalar(f.MapValue(), name))
			}
		case f.IsList():
			l := m.Mutable(f).List()
			for range 1 + g.rnd.IntN(2) {
				if f.Kind() == protoreflect.MessageKind {
					if depth < 3 {
						v := l.NewElement()
						g.fill(v.Message(), depth+1)
						l.Append(v)
					}
					continue
				}
				l.Append(g.scalar(f, name))
			}
		case f.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				g.fill(m.Mutable(f).Message(), depth+1)
			}
		default:
			m.Set(f, g.scalar(f, name))
		}
	}
}

// TestMaskPlansAgainstGeneric fills every message type of sanzi.v1 (every
// entry type's payload among them, Alerts with evidence, counterparties
// nested at every depth) from a seeded generator, and wants MaskPublic and
// MaskPersonal by plan to leave exactly what the generic walks leave.
func TestMaskPlansAgainstGeneric(t *testing.T) {
	today := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var types []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if mt.Descriptor().ParentFile().Package() == "sanzi.v1" {
			types = append(types, mt)
		}
		return true
	})
	slices.SortFunc(types, func(a, b protoreflect.MessageType) int {
		return strings.Compare(string(a.Descriptor().FullName()), string(b.Descriptor().FullName()))
	})
	if len(types) < 50 {
		t.Fatalf("only %d message types of sanzi.v1 registered", len(types))
	}
	changed := 0
	for _, mt := range types {
		for seed := range uint64(30) {
			g := newMaskGen(t, seed)
			m := mt.New()
			g.fill(m, 0)
			orig := m.Interface()
			for _, c := range []struct {
				name    string
				generic func(proto.Message)
				byPlan  func(proto.Message)
			}{
				{"MaskPublic", func(m proto.Message) { genericMaskPublic(m, today) }, func(m proto.Message) { MaskPublic(m, today) }},
				{"MaskPersonal", genericMaskPersonal, MaskPersonal},
			} {
				want, got := proto.Clone(orig), proto.Clone(orig)
				c.generic(want)
				c.byPlan(got)
				if !proto.Equal(got, want) {
					t.Fatalf("%s of %s (seed %d)\n got %v\nwant %v\n  of %v", c.name, mt.Descriptor().FullName(), seed, got, want, orig)
				}
				if !proto.Equal(got, orig) {
					changed++
				}
			}
		}
	}
	if changed < 500 {
		t.Errorf("masking changed only %d generated messages: the comparison tested little", changed)
	}
	t.Logf("%d message types, %d maskings compared, %d of them changed something", len(types), 2*30*len(types), changed)
}

// BenchmarkMaskPublic masks the payload a village records most (an
// expense to a company, its bank account on it), generic and by plan.
func BenchmarkMaskPublic(b *testing.B) {
	today := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	tx := &sanziv1.Transaction{Org: "350505100201", Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 1001,
		Counterparty: &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43", BankAccount: "6222020200112233445"},
		BusinessDate: "2026-12-07", Summary: "材料费 1", VoucherNumber: "记-1", InvoiceNumber: "00000001"}
	for _, c := range []struct {
		name string
		mask func(proto.Message)
	}{
		{"generic", func(m proto.Message) { genericMaskPublic(m, today) }},
		{"plan", func(m proto.Message) { MaskPublic(m, today) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.mask(proto.Clone(tx))
			}
		})
	}
}

// TestReplacerAgainstStrings: replacer replaces as strings.NewReplacer
// does, overlapping and nested values, ties and multi-byte text included.
func TestReplacerAgainstStrings(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 17))
	alphabet := []string{"a", "b", "ab", "张", "三", "*", "1"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20_000 {
		olds := make([]string, 1+rnd.IntN(4))
		for i := range olds {
			olds[i] = word(1 + rnd.IntN(3))
		}
		news := make([]string, len(olds))
		pairs := make([]string, 0, 2*len(olds))
		for i, o := range olds {
			news[i] = word(rnd.IntN(3))
			pairs = append(pairs, o, news[i])
		}
		s := word(rnd.IntN(12))
		want := strings.NewReplacer(pairs...).Replace(s)
		if got := (&replacer{olds: olds, news: news}).Replace(s); got != want {
			t.Fatalf("replace %q in %q: %q, strings.Replacer %q", pairs, s, got, want)
		}
	}
}
