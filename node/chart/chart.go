// Package chart holds the chart of accounts (会计科目表) the collective's
// books follow: the national chart of 农村集体经济组织会计制度 as data, the
// sub-accounts a district adds under it, and the mappings that turn a
// business record into a voucher's accounts. The district sends it down in
// its catalog, so a chart is versioned, four-eyed and synced like the
// catalog, and every node judges it with Validate before using it.
package chart

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ErrNoMapping: no mapping of the chart covers the record; it is recorded
// without a voucher, and its month cannot close until one is entered by
// hand naming it.
var ErrNoMapping = errors.New("no voucher mapping of the chart covers it")

// FieldError names the part of a chart at fault.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

var (
	nationalCode = regexp.MustCompile(`^[1-5][0-9]{2}$`)
	subCode      = regexp.MustCompile(`^[1-5][0-9]{4,8}$`)
)

// Chart is a validated chart of accounts, ready for lookups.
type Chart struct {
	src    *sanziv1.ChartOfAccounts
	byCode map[string]*sanziv1.LedgerAccount
	byName map[string]*sanziv1.LedgerAccount
}

// New validates c and indexes it. A nil or empty c is the national chart.
func New(c *sanziv1.ChartOfAccounts) (*Chart, error) {
	if c == nil || len(c.GetAccounts()) == 0 {
		c = National()
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	ch := &Chart{src: proto.Clone(c).(*sanziv1.ChartOfAccounts), byCode: map[string]*sanziv1.LedgerAccount{}, byName: map[string]*sanziv1.LedgerAccount{}}
	for _, a := range ch.src.GetAccounts() {
		ch.byCode[a.GetCode()] = a
		ch.byName[a.GetName()] = a
	}
	return ch, nil
}

// Proto returns the chart as sent (do not modify).
func (c *Chart) Proto() *sanziv1.ChartOfAccounts { return c.src }

// Accounts lists every account in chart order.
func (c *Chart) Accounts() []*sanziv1.LedgerAccount { return c.src.GetAccounts() }

// Account returns the account with that code.
func (c *Chart) Account(code string) (*sanziv1.LedgerAccount, bool) {
	a, ok := c.byCode[code]
	return a, ok
}

// Resolve finds an account by code or by name (a transaction's category
// names its account by either).
func (c *Chart) Resolve(codeOrName string) (*sanziv1.LedgerAccount, bool) {
	if a, ok := c.byCode[codeOrName]; ok {
		return a, true
	}
	a, ok := c.byName[codeOrName]
	return a, ok
}

// National is the national account an account rolls up to (itself for a
// national account): statements are laid out on national accounts.
func (c *Chart) National(code string) string {
	for {
		a, ok := c.byCode[code]
		if !ok || a.GetParent() == "" {
			return code
		}
		code = a.GetParent()
	}
}

// Leaf reports whether no account details code: vouchers post to leaves
// only, so a parent's balance is always the sum of its sub-accounts'.
func (c *Chart) Leaf(code string) bool {
	for _, a := range c.src.GetAccounts() {
		if a.GetParent() == code {
			return false
		}
	}
	return true
}

// Accounts are the accounts a mapping gives a record, CategoryAccount
// resolved: Gain and Loss only for disposals and appraisals, Credit empty
// for an appraisal (see VoucherMapping).
type Accounts struct {
	Debit, Credit, Gain, Loss string
}

// Map returns the debit and credit accounts of a record: source its entry
// type, kind and method as recorded (kind unspecified for records that
// have none), category its free-text category. CategoryAccount in the
// mapping is resolved against the category; a category that names no
// account is an error naming it.
func (c *Chart) Map(source sanziv1.EntryType, kind sanziv1.TransactionKind, method sanziv1.PaymentMethod, category string) (debit, credit string, err error) {
	a, err := c.MapAccounts(source, kind, method, category)
	return a.Debit, a.Credit, err
}

// MapAccounts is Map with every account of the mapping: what a disposal or
// an appraisal needs, which book a gain or a loss besides their amount.
func (c *Chart) MapAccounts(source sanziv1.EntryType, kind sanziv1.TransactionKind, method sanziv1.PaymentMethod, category string) (Accounts, error) {
	for _, m := range c.src.GetMappings() {
		if m.GetSource() != source ||
			(m.GetKind() != 0 && m.GetKind() != kind) ||
			(m.GetPaymentMethod() != 0 && m.GetPaymentMethod() != method) ||
			(m.GetCategory() != "" && m.GetCategory() != category) {
			continue
		}
		var out Accounts
		for _, f := range []struct {
			dst *string
			src string
		}{{&out.Debit, m.GetDebitAccount()}, {&out.Credit, m.GetCreditAccount()}, {&out.Gain, m.GetGainAccount()}, {&out.Loss, m.GetLossAccount()}} {
			if f.src == "" {
				continue
			}
			code, err := c.side(f.src, category)
			if err != nil {
				return Accounts{}, err
			}
			*f.dst = code
		}
		return out, nil
	}
	return Accounts{}, ErrNoMapping
}

func (c *Chart) side(account, category string) (string, error) {
	if account != CategoryAccount {
		return account, nil
	}
	if category == "" {
		return "", &FieldError{Field: "category", Reason: "empty: it must name the account (code or name) the amount is booked to"}
	}
	a, ok := c.Resolve(category)
	if !ok {
		return "", &FieldError{Field: "category", Reason: fmt.Sprintf("%q names no account of the chart", category)}
	}
	if !c.Leaf(a.GetCode()) {
		return "", &FieldError{Field: "category", Reason: fmt.Sprintf("%s %s has sub-accounts: name one of them", a.GetCode(), a.GetName())}
	}
	return a.GetCode(), nil
}

// Validate checks a chart: every national account present exactly as the
// standard has it and in its order, then the district's sub-accounts, each
// under an account already listed, its code the parent's plus two to four
// digits, of the parent's class and side; codes and names unique; every
// mapping's accounts known leaves (or CategoryAccount).
func Validate(c *sanziv1.ChartOfAccounts) error {
	accts := c.GetAccounts()
	if len(accts) < len(national) {
		return &FieldError{Field: "chart.accounts", Reason: fmt.Sprintf("%d accounts: the national chart alone has %d", len(accts), len(national))}
	}
	for i, want := range national {
		got := accts[i]
		f := fmt.Sprintf("chart.accounts[%d]", i)
		if got.GetCode() != want.code || got.GetName() != want.name || got.GetClass() != want.class || got.GetSide() != want.side ||
			got.GetParent() != "" || !slices.Equal(got.GetSubsidiary(), want.sub) {
			return &FieldError{Field: f, Reason: fmt.Sprintf("national account %s %s may not be changed, removed or moved (got %s %s)", want.code, want.name, got.GetCode(), got.GetName())}
		}
	}
	codes := map[string]*sanziv1.LedgerAccount{}
	names := map[string]bool{}
	for i, a := range accts {
		f := fmt.Sprintf("chart.accounts[%d]", i)
		if codes[a.GetCode()] != nil {
			return &FieldError{Field: f + ".code", Reason: fmt.Sprintf("%s listed twice", a.GetCode())}
		}
		if names[a.GetName()] {
			return &FieldError{Field: f + ".name", Reason: fmt.Sprintf("%q names two accounts", a.GetName())}
		}
		if i >= len(national) {
			if err := validateSub(f, a, codes); err != nil {
				return err
			}
		} else if !nationalCode.MatchString(a.GetCode()) {
			return &FieldError{Field: f + ".code", Reason: "not a national code"}
		}
		codes[a.GetCode()] = a
		names[a.GetName()] = true
	}
	leaf := func(code string) bool {
		for _, a := range accts {
			if a.GetParent() == code {
				return false
			}
		}
		return true
	}
	for i, m := range c.GetMappings() {
		f := fmt.Sprintf("chart.mappings[%d]", i)
		switch m.GetSource() {
		case sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT,
			sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL:
		default:
			return &FieldError{Field: f + ".source", Reason: fmt.Sprintf("%s is not a business record a voucher books", m.GetSource())}
		}
		// Which accounts each source uses: a field it does not use must be
		// empty (it would be ignored), and one it uses must be set.
		if m.GetSource() != sanziv1.EntryType_ENTRY_TYPE_TRANSACTION && m.GetKind() != 0 {
			return &FieldError{Field: f + ".kind", Reason: fmt.Sprintf("only a transaction has a kind, not a %s", m.GetSource())}
		}
		asset := m.GetSource() == sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL || m.GetSource() == sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL
		appraisal := m.GetSource() == sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL
		if appraisal && m.GetPaymentMethod() != 0 {
			return &FieldError{Field: f + ".payment_method", Reason: "an appraisal moves no money: leave it unspecified"}
		}
		for _, side := range []struct {
			field, code string
			used        bool
		}{
			{"debit_account", m.GetDebitAccount(), true},
			{"credit_account", m.GetCreditAccount(), !appraisal},
			{"gain_account", m.GetGainAccount(), asset},
			{"loss_account", m.GetLossAccount(), asset},
		} {
			switch {
			case !side.used && side.code != "":
				return &FieldError{Field: f + "." + side.field, Reason: fmt.Sprintf("a %s mapping has no %s: leave it empty", m.GetSource(), side.field)}
			case !side.used:
				continue
			case side.code == "":
				return &FieldError{Field: f + "." + side.field, Reason: fmt.Sprintf("required for a %s mapping", m.GetSource())}
			case side.code == CategoryAccount:
				continue
			}
			if codes[side.code] == nil {
				return &FieldError{Field: f + "." + side.field, Reason: fmt.Sprintf("%q is no account of the chart", side.code)}
			}
			if !leaf(side.code) {
				return &FieldError{Field: f + "." + side.field, Reason: fmt.Sprintf("%s has sub-accounts: map to one of them", side.code)}
			}
		}
	}
	return nil
}

func validateSub(f string, a *sanziv1.LedgerAccount, known map[string]*sanziv1.LedgerAccount) error {
	p := known[a.GetParent()]
	switch {
	case a.GetName() == "":
		return &FieldError{Field: f + ".name", Reason: "required"}
	case p == nil:
		return &FieldError{Field: f + ".parent", Reason: fmt.Sprintf("%q is no account listed before it: a district adds sub-accounts under the national ones, never new national accounts", a.GetParent())}
	case !subCode.MatchString(a.GetCode()) || len(a.GetCode()) != len(p.GetCode())+2 || a.GetCode()[:len(p.GetCode())] != p.GetCode():
		return &FieldError{Field: f + ".code", Reason: fmt.Sprintf("%q must be its parent's code %s and two more digits", a.GetCode(), p.GetCode())}
	case a.GetClass() != p.GetClass() || a.GetSide() != p.GetSide():
		return &FieldError{Field: f + ".class", Reason: fmt.Sprintf("a sub-account has its parent's class and side (%s, %s)", p.GetClass(), p.GetSide())}
	}
	return nil
}
