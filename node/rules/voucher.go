package rules

import (
	"fmt"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The roles of accounts a voucher expression reads in roles.
const (
	RoleCash      = "cash"
	RoleBank      = "bank"
	RoleIncome    = "income"
	RoleExpense   = "expense"
	RoleCost      = "cost"
	RoleAsset     = "asset"
	RoleLiability = "liability"
	RoleEquity    = "equity"
	RoleUnknown   = "unknown"
)

// VoucherFacts are what the books know of a voucher that its lines alone do
// not say, found by the node and never taken from the caller.
type VoucherFacts struct {
	// Chart is the chart of accounts in force, for the accounts' roles;
	// nil is the national chart.
	Chart *chart.Chart
	// Source is the kind of the record a derived voucher books
	// (KindTransaction, KindContractPayment, …); "" for a hand voucher.
	// Set it (DerivedFacts) for a derived voucher checked before its
	// source has an entry id: a voucher is taken as entered by hand only
	// when Source and its source_entry_id are both empty.
	Source string
	// SourceKind is that transaction's kind, when Source is
	// KindTransaction.
	SourceKind sanziv1.TransactionKind
	// ResolutionApproved: the voucher books spending an approved
	// four-deliberations resolution covers. TODO(issue 19): a Voucher has
	// no field naming its procedure yet, so the books can only pass false
	// for a hand voucher (BIG-SPEND then fires at its threshold with its
	// action on vouchers, a warning by default); a derived voucher is not
	// checked by BIG-SPEND, its transaction was.
	ResolutionApproved bool
}

// DerivedFacts are the facts of the voucher the books derive from source,
// the record it books (a *Transaction, *ContractPayment, *AssetDisposal,
// …), under chart c (nil: national). A source of no kind the rules know
// gives Source "": call it only for a derived voucher.
func DerivedFacts(c *chart.Chart, source proto.Message) VoucherFacts {
	f := VoucherFacts{Chart: c}
	switch m := source.(type) {
	case *sanziv1.Transaction:
		f.Source, f.SourceKind = KindTransaction, m.GetKind()
	case *sanziv1.ContractPayment:
		f.Source = KindContractPayment
	case *sanziv1.Contract:
		f.Source = KindContract
	case *sanziv1.AssetDisposal:
		f.Source = KindAssetDisposal
	case *sanziv1.AssetAppraisal:
		f.Source = KindAssetAppraisal
	case *sanziv1.AssetRegistration:
		f.Source = KindAssetRegistration
	}
	return f
}

// nationalChart is built once: validating the chart is the slow part.
var nationalChart = sync.OnceValues(func() (*chart.Chart, error) { return chart.New(nil) })

// AccountRole is the role a voucher expression sees for code under c (nil:
// the national chart): cash and bank by the national account the code rolls
// up to, then by class, income and expense split by the account's side.
func AccountRole(c *chart.Chart, code string) string {
	if c == nil {
		var err error
		if c, err = nationalChart(); err != nil {
			return RoleUnknown
		}
	}
	a, ok := c.Account(code)
	if !ok {
		return RoleUnknown
	}
	switch c.National(code) {
	case chart.Cash:
		return RoleCash
	case chart.Bank:
		return RoleBank
	}
	switch a.GetClass() {
	case sanziv1.AccountClass_ACCOUNT_CLASS_ASSET:
		return RoleAsset
	case sanziv1.AccountClass_ACCOUNT_CLASS_LIABILITY:
		return RoleLiability
	case sanziv1.AccountClass_ACCOUNT_CLASS_EQUITY:
		return RoleEquity
	case sanziv1.AccountClass_ACCOUNT_CLASS_COST:
		return RoleCost
	case sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS:
		if a.GetSide() == sanziv1.BalanceSide_BALANCE_SIDE_CREDIT {
			return RoleIncome
		}
		return RoleExpense
	}
	return RoleUnknown
}

// CheckVoucher evaluates the voucher rules on a voucher about to be
// recorded: one entered by hand, or one the books derive from a record (the
// facts say which). Evidence: org, business_date, summary, source_entry_id,
// opening, lines (count), attachments (count), money_out_fen,
// money_in_fen, max_cash_credit_fen (the largest credit on a cash line),
// source, source_kind and resolution_approved.
func (e *Engine) CheckVoucher(v *sanziv1.Voucher, facts VoucherFacts) ([]Hit, error) {
	if v == nil {
		return nil, required("voucher")
	}
	c := facts.Chart
	if c == nil {
		var err error
		if c, err = nationalChart(); err != nil {
			return nil, fmt.Errorf("rules: national chart: %w", err)
		}
	}
	roles := map[string]string{}
	var flow, maxCash int64 // flow: debit-positive movement of cash and bank together
	for _, l := range v.GetLines() {
		r := AccountRole(c, l.GetAccount())
		roles[l.GetAccount()] = r
		if r == RoleCash || r == RoleBank {
			flow += l.GetDebitFen() - l.GetCreditFen()
		}
		if r == RoleCash {
			maxCash = max(maxCash, l.GetCreditFen())
		}
	}
	out, in := max(-flow, 0), max(flow, 0)
	vars := map[string]any{
		"voucher": v, "roles": roles, "money_out_fen": out, "money_in_fen": in,
		"source": facts.Source, "source_kind": int64(facts.SourceKind), "resolution_approved": facts.ResolutionApproved,
	}
	return e.checkSized(KindVoucher, len(v.GetLines()), vars, func() map[string]string {
		ev := evidence(v, "org", "business_date", "summary", "source_entry_id", "opening", "lines", "attachments")
		ev["money_out_fen"] = strconv.FormatInt(out, 10)
		ev["money_in_fen"] = strconv.FormatInt(in, 10)
		ev["max_cash_credit_fen"] = strconv.FormatInt(maxCash, 10)
		ev["source"] = facts.Source
		ev["source_kind"] = facts.SourceKind.String()
		ev["resolution_approved"] = strconv.FormatBool(facts.ResolutionApproved)
		return ev
	})
}
