package disclosed

import (
	"maps"
	"slices"
	"strings"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// effect is what one entry does to the figures: an amount in an income or
// expense category, and a movement of cash or bank money.
type effect struct {
	income, expense string // category; "" when none
	amount          int64
	move            Balances
}

// effectOf is r's effect on the figures.
func effectOf(r *rec) effect {
	switch m := r.msg.(type) {
	case *sanziv1.Transaction:
		e := effect{amount: m.GetAmountFen()}
		cat := m.GetCategory()
		if strings.TrimSpace(cat) == "" {
			cat = Uncategorised
		}
		sign := int64(0)
		switch m.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME:
			e.income, sign = cat, 1
		case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
			sign = 1
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			e.expense, sign = cat, -1
		case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
			sign = -1
		case sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
			// Between the collective's own accounts: recorded in cash it is
			// cash paid into the bank (as node/watch reads it), recorded as
			// a bank transfer or card it is cash drawn from the bank.
			switch m.GetPaymentMethod() {
			case sanziv1.PaymentMethod_PAYMENT_METHOD_CASH:
				e.move = Balances{CashFen: -e.amount, BankFen: e.amount}
			case sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD:
				e.move = Balances{CashFen: e.amount, BankFen: -e.amount}
			}
			return e
		}
		e.move = moved(m.GetPaymentMethod(), sign*e.amount)
		return e
	case *sanziv1.ContractPayment:
		return effect{income: ContractIncome, amount: m.GetAmountFen(), move: moved(m.GetPaymentMethod(), m.GetAmountFen())}
	}
	return effect{}
}

// moved is amount (signed) moved by method: cash, or the bank (a transfer
// or the village card); other methods move neither.
func moved(method sanziv1.PaymentMethod, amount int64) Balances {
	switch method {
	case sanziv1.PaymentMethod_PAYMENT_METHOD_CASH:
		return Balances{CashFen: amount}
	case sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD:
		return Balances{BankFen: amount}
	}
	return Balances{}
}

// fill computes d's figures from the entries in AfterSeq+1..ToSeq.
func (c *computer) fill(d *Disclosure) {
	income, expense := map[string]int64{}, map[string]int64{}
	add := func(e effect, sign int64) {
		if e.income != "" {
			income[e.income] += sign * e.amount
			d.IncomeFen += sign * e.amount
		}
		if e.expense != "" {
			expense[e.expense] += sign * e.amount
			d.ExpenseFen += sign * e.amount
		}
		d.Movement.CashFen += sign * e.move.CashFen
		d.Movement.BankFen += sign * e.move.BankFen
	}
	txAt := map[string]int{}       // listed transactions by entry id
	payAt := map[string][2]int{}   // listed payments: contract index, payment index
	contractAt := map[string]int{} // listed contracts by entry id
	contract := func(r *rec, isNew bool) int {
		if i, ok := contractAt[r.ref.ID]; ok {
			return i
		}
		m := r.msg.(*sanziv1.Contract)
		k := Contract{Ref: r.ref, Number: m.GetContractNumber(), Kind: contractKind(m.GetKind()), Party: c.party(m.GetCounterparty()),
			Object: objectText(m.GetObject()), AreaMu: m.GetObject().GetAreaMu(), TermStart: m.GetTermStart(), TermEnd: m.GetTermEnd(),
			AnnualFen: m.GetAnnualAmountFen(), Signed: m.GetSignedDate(), New: isNew}
		d.Contracts = append(d.Contracts, k)
		contractAt[r.ref.ID] = len(d.Contracts) - 1
		return len(d.Contracts) - 1
	}
	i, _ := slices.BinarySearch(c.order, d.AfterSeq+1)
	for ; i < len(c.order) && c.order[i] <= d.ToSeq; i++ {
		r := c.bySeq[c.order[i]]
		d.Entries++
		switch m := r.msg.(type) {
		case *sanziv1.Transaction:
			add(effectOf(r), 1)
			if m.GetAmountFen() >= d.ItemizeFromFen {
				e := effectOf(r)
				d.Transactions = append(d.Transactions, Tx{Ref: r.ref, Date: m.GetBusinessDate(), Kind: txKind(m.GetKind()),
					Category: cmpOr(e.income, e.expense, m.GetCategory()), AmountFen: m.GetAmountFen(), Method: methodName(m.GetPaymentMethod()),
					Party: c.party(m.GetCounterparty()), Summary: m.GetSummary(), Voucher: m.GetVoucherNumber()})
				txAt[r.ref.ID] = len(d.Transactions) - 1
			}
		case *sanziv1.ContractPayment:
			add(effectOf(r), 1)
			cr := c.lookup(d, m.GetContractId(), "the contract of payment "+r.ref.ID)
			if cr == nil {
				continue
			}
			if _, ok := cr.msg.(*sanziv1.Contract); !ok {
				d.Unsure = append(d.Unsure, "payment "+r.ref.ID+" names "+cr.ref.ID+", which is not a contract")
				continue
			}
			k := contract(cr, false)
			d.Contracts[k].Payments = append(d.Contracts[k].Payments, Payment{Ref: r.ref, Date: m.GetBusinessDate(), AmountFen: m.GetAmountFen(),
				Period: m.GetPeriod(), Method: methodName(m.GetPaymentMethod())})
			d.Contracts[k].PaidFen += m.GetAmountFen()
			payAt[r.ref.ID] = [2]int{k, len(d.Contracts[k].Payments) - 1}
		case *sanziv1.Contract:
			contract(r, true)
		case *sanziv1.AssetRegistration:
			d.Acquired = append(d.Acquired, Asset{Ref: r.ref, Code: m.GetAssetCode(), Name: m.GetName(), Category: m.GetCategory(),
				ValueFen: m.GetOriginalValueFen(), Date: m.GetAcquiredDate(), Location: m.GetLocation()})
		case *sanziv1.AssetDisposal:
			x := Disposal{Ref: r.ref, Method: disposalMethod(m.GetMethod()), PriceFen: m.GetPriceFen(), Date: m.GetDisposalDate(),
				Party: c.party(m.GetCounterparty()), Reason: m.GetReason()}
			if ar := c.lookup(d, m.GetAssetId(), "the asset of disposal "+r.ref.ID); ar != nil {
				x.Asset = ar.ref
				if reg, ok := ar.msg.(*sanziv1.AssetRegistration); ok {
					x.Name = reg.GetName()
				}
			}
			d.Disposed = append(d.Disposed, x)
		case *sanziv1.Reversal:
			x := Reversal{Ref: r.ref, Reason: m.GetReason()}
			t := c.lookup(d, m.GetTargetId(), "the target of reversal "+r.ref.ID)
			if t == nil {
				d.Reversals = append(d.Reversals, x)
				continue
			}
			x.Target, x.What = t.ref, whatName(t.typ)
			e := effectOf(t)
			add(e, -1)
			x.AmountFen = e.amount
			if j, ok := txAt[t.ref.ID]; ok {
				d.Transactions[j].Reversed = true
			}
			if j, ok := payAt[t.ref.ID]; ok {
				d.Contracts[j[0]].Payments[j[1]].Reversed = true
				d.Contracts[j[0]].PaidFen -= e.amount
			}
			d.Reversals = append(d.Reversals, x)
		}
	}
	d.Income, d.Expense = sums(income), sums(expense)
}

// party is a counterparty as the public sees it: take masked it already
// (authz.MaskPublic).
func (c *computer) party(p *sanziv1.Counterparty) Party {
	return Party{Name: p.GetName(), IDNumber: p.GetIdNumber(), BankAccount: p.GetBankAccount(), Phone: p.GetPhone()}
}

// sums lists the non-zero totals by category, in category order.
func sums(m map[string]int64) []Sum {
	out := []Sum{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			out = append(out, Sum{Category: k, AmountFen: m[k]})
		}
	}
	return out
}

func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func txKind(k sanziv1.TransactionKind) string {
	return map[sanziv1.TransactionKind]string{sanziv1.TransactionKind_TRANSACTION_KIND_INCOME: "收入", sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE: "支出",
		sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER: "内部转账", sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT: "借出",
		sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN: "借入"}[k]
}

func methodName(m sanziv1.PaymentMethod) string {
	return map[sanziv1.PaymentMethod]string{sanziv1.PaymentMethod_PAYMENT_METHOD_CASH: "现金", sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER: "银行转账",
		sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD: "村务卡", sanziv1.PaymentMethod_PAYMENT_METHOD_OTHER: "其他"}[m]
}

func contractKind(k sanziv1.ContractKind) string {
	return map[sanziv1.ContractKind]string{sanziv1.ContractKind_CONTRACT_KIND_LEASE: "租赁", sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT: "发包"}[k]
}

func objectText(o *sanziv1.ContractObject) string {
	kind := map[sanziv1.ObjectKind]string{sanziv1.ObjectKind_OBJECT_KIND_LAND: "土地", sanziv1.ObjectKind_OBJECT_KIND_RESOURCE: "资源",
		sanziv1.ObjectKind_OBJECT_KIND_ASSET: "资产"}[o.GetKind()]
	return strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{kind, o.GetObjectId(), o.GetLocation()}, func(s string) bool { return s == "" }), " "))
}

func disposalMethod(m sanziv1.DisposalMethod) string {
	return map[sanziv1.DisposalMethod]string{sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE: "出售", sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP: "报废",
		sanziv1.DisposalMethod_DISPOSAL_METHOD_TRANSFER: "转让"}[m]
}

func whatName(t sanziv1.EntryType) string {
	return map[sanziv1.EntryType]string{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION: "收支", sanziv1.EntryType_ENTRY_TYPE_CONTRACT: "合同",
		sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT: "合同收款", sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION: "资产登记",
		sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL: "资产处置", sanziv1.EntryType_ENTRY_TYPE_REVERSAL: "冲销"}[t]
}
