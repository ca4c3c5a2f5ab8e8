package watch

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The list rules: run by Check before an entry is committed.

// matchParty says on which identifier a listed party is the counterparty:
// id number, phone or bank account when both sides have it, or the name
// when the list knows nothing but the name; "" when it is not.
func matchParty(it rules.ListItem, c *sanziv1.Counterparty) string {
	for _, f := range []struct{ on, a, b string }{
		{"id_number", it.IDNumber, c.GetIdNumber()},
		{"phone", it.Phone, c.GetPhone()},
		{"bank_account", it.BankAccount, c.GetBankAccount()},
	} {
		if a := norm(f.a); a != "" && a == norm(f.b) {
			return f.on
		}
	}
	if it.IDNumber == "" && it.Phone == "" && it.BankAccount == "" && it.Name != "" && it.Name == c.GetName() {
		return "name"
	}
	return ""
}

// relative finds an expense's payee or a contract's counterparty on the
// "relatives" list (the declared relatives of cadres and the accountant).
func relative(w *Watcher, _ *rule, m proto.Message) []finding {
	it, on, c := Relative(w.lists["relatives"], m)
	if on == "" {
		return nil
	}
	return []finding{{detail: it.Note, ev: map[string]string{
		"counterparty_name": c.GetName(), "matched_on": on, "relative_name": it.Name, "relative_note": it.Note,
	}}}
}

// Relative finds an expense's payee or a contract's counterparty among
// relatives: the item, the identifier it matched on ("" when none) and the
// counterparty. A town runs it over each village's entries with the other
// villages' lists, which no village sees.
func Relative(relatives []rules.ListItem, m proto.Message) (rules.ListItem, string, *sanziv1.Counterparty) {
	var c *sanziv1.Counterparty
	switch m := m.(type) {
	case *sanziv1.Transaction:
		if m.GetKind() == sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE {
			c = m.GetCounterparty()
		}
	case *sanziv1.Contract:
		c = m.GetCounterparty()
	}
	if c == nil {
		return rules.ListItem{}, "", nil
	}
	for _, it := range relatives {
		if on := matchParty(it, c); on != "" {
			return it, on, c
		}
	}
	return rules.ListItem{}, "", c
}

// member says whether c is on the members list: by id number when both
// sides have one, else by name.
func member(items []rules.ListItem, c *sanziv1.Counterparty) bool {
	id := norm(c.GetIdNumber())
	for _, it := range items {
		if x := norm(it.IDNumber); x != "" && id != "" {
			if x == id {
				return true
			}
		} else if it.Name != "" && it.Name == c.GetName() {
			return true
		}
	}
	return false
}

// outsider finds land contracted out to a non-member of the collective
// without the vote record and the town's approval attached.
func outsider(w *Watcher, r *rule, m proto.Message) []finding {
	c, ok := m.(*sanziv1.Contract)
	members := w.lists["members"]
	if !ok || len(members) == 0 || c.GetKind() != sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT ||
		c.GetObject().GetKind() != sanziv1.ObjectKind_OBJECT_KIND_LAND || member(members, c.GetCounterparty()) ||
		int64(len(c.GetAttachments())) >= r.Params["min_attachments"] {
		return nil
	}
	return []finding{{detail: c.GetCounterparty().GetName() + "不是本集体经济组织成员", ev: map[string]string{
		"counterparty_name": c.GetCounterparty().GetName(), "counterparty_id": c.GetCounterparty().GetIdNumber(),
		"object_id": c.GetObject().GetObjectId(), "attachments": strconv.Itoa(len(c.GetAttachments())),
	}}}
}
