package authz

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The public pages (issue 15) show counterparties to anyone: a private
// person's name is masked there, a company's or an organisation's is not.
// Signed-in roles see names whole, so this is not part of Masked.

// orgWords mark a name as an organisation's when the counterparty gives
// no credit code: words only organisation names hold. orgEndings are the
// one-character endings of organisation names (厂, 店, 站 ...), counted
// only on names of five characters or more, since a person's name may end
// in one of them (李国行) but is rarely that long.
var (
	orgWords = []string{"公司", "合作社", "集团", "中心", "委员会", "经济联合社", "股份", "有限", "银行", "信用社", "协会", "基金",
		"办公室", "政府", "社区", "事务所", "工作室", "研究院", "学校", "医院", "Co.", "Ltd", "Inc"}
	orgEndings = []string{"厂", "店", "行", "站", "局", "所", "院", "校", "部", "队", "场", "馆", "处", "社"}
)

// PrivatePerson reports whether c is a private person, whose name the
// public pages mask: an ID number that is a valid resident ID, or none
// that is a valid credit code and a name without an organisation's words.
// When in doubt it says yes: masking a company's name by mistake costs a
// reader little, showing a person's costs that person.
func PrivatePerson(c *sanziv1.Counterparty, today time.Time) bool {
	id := strings.ToUpper(strings.TrimSpace(c.GetIdNumber()))
	switch {
	case id != "" && idcode.ResidentID(id, today) == nil:
		return true
	case id != "" && idcode.CreditCode(id) == nil:
		return false
	}
	name := strings.TrimSpace(c.GetName())
	for _, w := range orgWords {
		if strings.Contains(name, w) {
			return false
		}
	}
	if len([]rune(name)) >= 5 {
		for _, w := range orgEndings {
			if strings.HasSuffix(name, w) {
				return false
			}
		}
	}
	return true
}

// MaskName keeps the first character of a person's name (the family name)
// and stars the rest: "张三" → "张*", "欧阳娜娜" → "欧***". A one-character
// name is starred whole.
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= 1 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:1]) + strings.Repeat("*", len(r)-1)
}

// PublicCounterparty is c as the public pages show it (MaskPublic): resident
// ID, bank account and phone masked as for every role without
// read_personal, and a private person's name masked too. c is not changed.
func PublicCounterparty(c *sanziv1.Counterparty, today time.Time) *sanziv1.Counterparty {
	if c == nil {
		return nil
	}
	out := &sanziv1.Counterparty{Name: c.GetName(), IdNumber: c.GetIdNumber(), BankAccount: c.GetBankAccount(), BankName: c.GetBankName(), Phone: c.GetPhone()}
	MaskPublic(out, today)
	return out
}

var counterpartyMessage = (&sanziv1.Counterparty{}).ProtoReflect().Descriptor().FullName()

// MaskPublic masks m, in place, as anyone may see it: every piece of
// personal data (MaskPersonal), the name of every counterparty that is a
// private person (PrivatePerson, judged on the values before masking, at
// today), the persons named in an alert's evidence (counterparty_name
// unless counterparty_is_person is "false", relative_name, a payee), and
// each of those names and numbers wherever else m's text repeats it (a
// summary, an alert's detail or key). It is the one masking of the public:
// the ledger splits an entry whose payload it changes (node/entries.Masker,
// the whole payload kept outside the entry's hash), and the public pages
// show what it leaves. Applied to what it already masked it may mask more
// (a company's masked credit code no longer says it is a company), so
// readers of a masked payload take it as it is.
func MaskPublic(m proto.Message, today time.Time) {
	if m == nil {
		return
	}
	found := map[string]string{} // value -> masked
	collectPersonal(m.ProtoReflect(), today, found)
	if len(found) > 0 {
		olds := make([]string, 0, len(found))
		for o := range found {
			olds = append(olds, o)
		}
		// Longest first, so that a name inside a longer one is not
		// replaced before it.
		slices.SortFunc(olds, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
		pairs := make([]string, 0, 2*len(olds))
		for _, o := range olds {
			pairs = append(pairs, o, found[o])
		}
		replaceText(m.ProtoReflect(), strings.NewReplacer(pairs...))
	}
	MaskPersonal(m)
}

// Shortest values replaced in free text: a one-character name or a short
// number would star unrelated words.
const (
	minNameRunes   = 2
	minNumberRunes = 6
)

// collectPersonal notes, for every counterparty and alert evidence in r,
// the personal values and their masked forms; it masks a private person's
// counterparty name itself, however short.
func collectPersonal(r protoreflect.Message, today time.Time, found map[string]string) {
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
					collectPersonal(mv.Message(), today, found)
					return true
				})
			}
		case f.IsList():
			if f.Kind() == protoreflect.MessageKind {
				for j := range v.List().Len() {
					collectPersonal(v.List().Get(j).Message(), today, found)
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			collectPersonal(v.Message(), today, found)
		}
		return true
	})
}

// replaceText rewrites every string in r (fields, lists, map values) with
// rep.
func replaceText(r protoreflect.Message, rep *strings.Replacer) {
	var sets []stringSet
	r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsMap():
			m := v.Map()
			switch {
			case f.MapValue().Kind() == protoreflect.MessageKind:
				m.Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					replaceText(mv.Message(), rep)
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
					replaceText(l.Get(j).Message(), rep)
				case protoreflect.StringKind:
					if nv := rep.Replace(l.Get(j).String()); nv != l.Get(j).String() {
						l.Set(j, protoreflect.ValueOfString(nv))
					}
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			replaceText(v.Message(), rep)
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
