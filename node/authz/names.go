package authz

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

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
	plans.collect(m.ProtoReflect(), today, found)
	if len(found) > 0 {
		olds := make([]string, 0, len(found))
		for o := range found {
			olds = append(olds, o)
		}
		// Longest first, so that a name inside a longer one is not
		// replaced before it.
		slices.SortFunc(olds, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
		rep := &replacer{olds: olds, news: make([]string, len(olds))}
		for i, o := range olds {
			rep.news[i] = found[o]
		}
		plans.replace(m.ProtoReflect(), rep)
	}
	plans.personal(m.ProtoReflect())
}

// Shortest values replaced in free text: a one-character name or a short
// number would star unrelated words.
const (
	minNameRunes   = 2
	minNumberRunes = 6
)
