package authz

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// MaskResidentID shows the first four and last four characters of a
// resident ID number (or credit code): "3505**********1234".
func MaskResidentID(s string) string { return maskKeep(s, 4, 4) }

// MaskBankAccount shows the first four and last four digits of a bank account.
func MaskBankAccount(s string) string { return maskKeep(s, 4, 4) }

// MaskPhone shows the first three and last four digits of a phone number:
// "138****5678".
func MaskPhone(s string) string { return maskKeep(s, 3, 4) }

// maskKeep stars all but the first head and last tail characters; a value
// too short to keep both without showing it all is starred whole.
func maskKeep(s string, head, tail int) string {
	r := []rune(s)
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}

// personalFields are the string fields of proto/sanzi/v1 that hold personal
// data (Counterparty.id_number, bank_account, phone), with the names other
// messages may use for the same; the masker of each.
var personalFields = map[protoreflect.Name]func(string) string{
	"id_number":      MaskResidentID,
	"resident_id":    MaskResidentID,
	"bank_account":   MaskBankAccount,
	"account_number": MaskBankAccount,
	"phone":          MaskPhone,
}

// personalEvidence are the keys of an alert's evidence (map<string,string>)
// whose values are personal data, as node/watch writes them.
var personalEvidence = map[string]func(string) string{
	"id_number":       MaskResidentID,
	"counterparty_id": MaskResidentID,
	"resident_id":     MaskResidentID,
	"bank_account":    MaskBankAccount,
	"account_number":  MaskBankAccount,
	"phone":           MaskPhone,
	"payee":           maskNumber, // an id number, else a bank account, else a name
}

// keyField is the alert's unique key, which embeds the payee
// ("SPLIT/<payee>/<entry>"); its number-like segments are masked.
// Only an Alert's key is masked: the statistics' group keys (AlertStatsRow,
// EfficiencyRow) are rule, org, post or matter codes, and a town's 9-digit
// code looks like a number to maskNumber.
const keyField protoreflect.Name = "key"

var alertMessage = (&sanziv1.Alert{}).ProtoReflect().Descriptor().FullName()

// maskNumber masks s when it looks like an id number, bank account or
// phone (at least 10 digits, perhaps ending in X, and not an org code), and
// leaves names, other words and shorter codes alone: a statistics row's key
// is a 6- or 9-digit division code ("350505100", a town), no one's data.
func maskNumber(s string) string {
	if !numberLike(s) {
		return s
	}
	return maskKeep(s, 4, 4)
}

func numberLike(s string) bool {
	d := strings.TrimRight(s, "Xx")
	if len(s) < 10 || len(s)-len(d) > 1 || strings.Trim(d, "0123456789") != "" {
		return false
	}
	_, err := idcode.OrgCode(s)
	return err != nil
}

// maskSegments masks the number-like parts of a "/"-separated key.
func maskSegments(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = maskNumber(p)
	}
	return strings.Join(parts, "/")
}

// MayReadPersonal reports whether p sees personal data of org whole: an
// account whose roles grant read_personal (accountant, auditor) and whose
// scope covers org.
func MayReadPersonal(p Principal, org string) bool {
	return p.May(PermReadPersonal) && p.Covers(org)
}

// Masked returns m as p may see it: m itself when nothing in it is to be
// hidden from p, else a copy with personal data masked (m itself is never
// changed: handlers may answer from shared state). Each value is judged by
// the org of the nearest message around it that names one (org or origin);
// a value with none around it by p's own org, the handler having scoped the
// answer already.
func Masked(p Principal, m proto.Message) proto.Message {
	return MaskedUnless(m, func(org string) bool {
		if org == "" {
			org = p.Org
		}
		return MayReadPersonal(p, org)
	})
}

// MaskedUnless is Masked by a rule of the caller's: each value shows whole
// when whole(org) holds for the org of the nearest message around it that
// names one ("" when none does), masked otherwise. Like Masked it returns m
// itself when nothing is to be hidden, else a masked copy. A node with no
// accounts yet uses it to mask what nobody signed in may read (node/server:
// a town's answers about its villages).
func MaskedUnless(m proto.Message, whole func(org string) bool) proto.Message {
	if m == nil {
		return m
	}
	probe := masker{may: whole, dry: true}
	if probe.walk(m.ProtoReflect(), ""); !probe.found {
		return m
	}
	c := proto.Clone(m)
	(&masker{may: whole}).walk(c.ProtoReflect(), "")
	return c
}

// MaskPersonal masks every piece of personal data in m, in place, for
// outputs that go to no one in particular (exports for read-only roles).
func MaskPersonal(m proto.Message) {
	if m != nil {
		plans.personal(m.ProtoReflect())
	}
}

// stringSet is a string field's new value, set once the walk over the
// message's fields is over (a message is not changed while it is ranged).
type stringSet struct {
	f protoreflect.FieldDescriptor
	v string
}

// masker walks a message masking what may() refuses; dry only notes that
// something would be masked.
type masker struct {
	may   func(org string) bool
	dry   bool
	found bool
}

// hide records or applies a masked value; it reports whether to set it.
func (k *masker) hide(org, v string, mask func(string) string) (string, bool) {
	if v == "" || k.may(org) {
		return "", false
	}
	mv := mask(v)
	if mv == v {
		return "", false
	}
	k.found = true
	return mv, !k.dry
}

func (k *masker) walk(r protoreflect.Message, org string) {
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); isOrgField(f, false) {
			if s := r.Get(f).String(); s != "" {
				org = s
				break
			}
		}
	}
	var sets []stringSet
	r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsMap():
			k.walkMap(f, v.Map(), org)
		case f.IsList():
			if f.Kind() == protoreflect.MessageKind {
				l := v.List()
				for j := range l.Len() {
					k.walk(l.Get(j).Message(), org)
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			k.walk(v.Message(), org)
		case f.Kind() == protoreflect.StringKind:
			mask := personalFields[f.Name()]
			if f.Name() == keyField && f.ContainingMessage().FullName() == alertMessage {
				mask = maskSegments
			}
			if mask == nil {
				break
			}
			if mv, ok := k.hide(org, v.String(), mask); ok {
				sets = append(sets, stringSet{f, mv})
			}
		}
		return true
	})
	for _, s := range sets {
		r.Set(s.f, protoreflect.ValueOfString(s.v))
	}
}

func (k *masker) walkMap(f protoreflect.FieldDescriptor, m protoreflect.Map, org string) {
	switch {
	case f.MapValue().Kind() == protoreflect.MessageKind:
		m.Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
			k.walk(v.Message(), org)
			return true
		})
	case f.MapKey().Kind() == protoreflect.StringKind && f.MapValue().Kind() == protoreflect.StringKind:
		type set struct {
			k protoreflect.MapKey
			v string
		}
		var sets []set
		m.Range(func(mk protoreflect.MapKey, v protoreflect.Value) bool {
			if mask := personalEvidence[mk.String()]; mask != nil {
				if mv, ok := k.hide(org, v.String(), mask); ok {
					sets = append(sets, set{mk, mv})
				}
			}
			return true
		})
		for _, s := range sets {
			m.Set(s.k, protoreflect.ValueOfString(s.v))
		}
	}
}
