package chart

import (
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Standard names the accounting system the national accounts follow.
const Standard = "农村集体经济组织会计制度（财会〔2023〕14号）"

// Codes of the national accounts the node itself needs by code.
const (
	Cash              = "101" // 库存现金
	Bank              = "102" // 银行存款
	Receivable        = "112" // 应收款
	FixedAssets       = "151" // 固定资产
	AssetClearing     = "154" // 固定资产清理
	ShortLoans        = "201" // 短期借款
	Payable           = "211" // 应付款
	Capital           = "301" // 资本
	Reserve           = "311" // 公积公益金
	CurrentYearIncome = "321" // 本年收益
	Distribution      = "322" // 收益分配
	OperatingIncome   = "501" // 经营收入
	OtherIncome       = "522" // 其他收入
	OtherExpense      = "533" // 其他支出
)

// CategoryAccount in a mapping stands for the account the record's
// category names (by code or by name), so one mapping serves every
// expense paid in cash, whatever it was spent on.
const CategoryAccount = "{category}"

type acct struct {
	code, name string
	class      sanziv1.AccountClass
	side       sanziv1.BalanceSide
	sub        []sanziv1.SubsidiaryKind
}

const (
	asset     = sanziv1.AccountClass_ACCOUNT_CLASS_ASSET
	liability = sanziv1.AccountClass_ACCOUNT_CLASS_LIABILITY
	equity    = sanziv1.AccountClass_ACCOUNT_CLASS_EQUITY
	cost      = sanziv1.AccountClass_ACCOUNT_CLASS_COST
	pl        = sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS
	dr        = sanziv1.BalanceSide_BALANCE_SIDE_DEBIT
	cr        = sanziv1.BalanceSide_BALANCE_SIDE_CREDIT
)

var (
	party   = []sanziv1.SubsidiaryKind{sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_COUNTERPARTY}
	project = []sanziv1.SubsidiaryKind{sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_PROJECT}
	assetNo = []sanziv1.SubsidiaryKind{sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_ASSET}
)

// national is the chart of accounts of 农村集体经济组织会计制度 (财会〔2023〕14号),
// appendix 会计科目名称和编号, in its order: 42 accounts. The 2023 revision
// added 无形资产, 累计摊销, 长期待摊费用, 待处理财产损溢, 应付劳务费, 应交税费,
// 专项应付款, 税金及附加, 公益支出 and 所得税费用 to the 2004 chart
// (财会〔2004〕12号), replaced its 牲畜（禽）资产 and 林木资产 by the three
// biological assets, folded 发包及上交收入 into 经营收入 and 投资收益, and
// dropped 应付福利费 and 农业税附加返还收入. Which accounts need subsidiary
// detail is the standard's 明细核算 guidance for each (往来 by
// counterparty, 在建工程 and 生产（劳务）成本 by project, fixed assets by
// register card).
var national = []acct{
	// 一、资产类
	{"101", "库存现金", asset, dr, nil},
	{"102", "银行存款", asset, dr, nil},
	{"111", "短期投资", asset, dr, nil},
	{"112", "应收款", asset, dr, party},
	{"113", "内部往来", asset, dr, party},
	{"121", "库存物资", asset, dr, nil},
	{"131", "消耗性生物资产", asset, dr, nil},
	{"132", "生产性生物资产", asset, dr, nil},
	{"133", "生产性生物资产累计折旧", asset, cr, nil},
	{"134", "公益性生物资产", asset, dr, nil},
	{"141", "长期投资", asset, dr, nil},
	{"151", "固定资产", asset, dr, assetNo},
	{"152", "累计折旧", asset, cr, nil},
	{"153", "在建工程", asset, dr, project},
	{"154", "固定资产清理", asset, dr, nil},
	{"161", "无形资产", asset, dr, nil},
	{"162", "累计摊销", asset, cr, nil},
	{"171", "长期待摊费用", asset, dr, nil},
	{"181", "待处理财产损溢", asset, dr, nil},
	// 二、负债类
	{"201", "短期借款", liability, cr, party},
	{"211", "应付款", liability, cr, party},
	{"212", "应付工资", liability, cr, nil},
	{"213", "应付劳务费", liability, cr, nil},
	{"221", "应交税费", liability, cr, nil},
	{"231", "长期借款及应付款", liability, cr, party},
	{"241", "一事一议资金", liability, cr, nil},
	{"242", "专项应付款", liability, cr, nil},
	// 三、所有者权益类
	{"301", "资本", equity, cr, nil},
	{"311", "公积公益金", equity, cr, nil},
	{"321", "本年收益", equity, cr, nil},
	{"322", "收益分配", equity, cr, nil},
	// 四、成本类
	{"401", "生产（劳务）成本", cost, dr, project},
	// 五、损益类
	{"501", "经营收入", pl, cr, nil},
	{"502", "经营支出", pl, dr, nil},
	{"503", "税金及附加", pl, dr, nil},
	{"511", "投资收益", pl, cr, nil},
	{"521", "补助收入", pl, cr, nil},
	{"522", "其他收入", pl, cr, nil},
	{"531", "管理费用", pl, dr, nil},
	{"532", "公益支出", pl, dr, nil},
	{"533", "其他支出", pl, dr, nil},
	{"541", "所得税费用", pl, dr, nil},
}

type mapping struct {
	source        sanziv1.EntryType
	kind          sanziv1.TransactionKind
	method        sanziv1.PaymentMethod
	category      string
	debit, credit string
	gain, loss    string // disposals and appraisals only
}

const (
	txEntry   = sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	payEntry  = sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT
	apprEntry = sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL
	dispEntry = sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL
	income    = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	expense   = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	transfer  = sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER
	loanOut   = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT
	loanIn    = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN
	cash      = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	anyMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_UNSPECIFIED
)

// nationalMappings turn what the accountant records today into vouchers:
// cash moves 库存现金, every other method 银行存款 (a 村务卡 settles from the
// bank account), and the other side is the account the category names.
// A loan names its account by category when it has one (长期借款及应付款),
// else 短期借款 or 应收款. A transfer in cash is cash banked; any other
// transfer is cash drawn. A contract payment received is 经营收入 (the
// 2023 system's home for rent and contracting-out fees).
//
// A registration produces no voucher: buying an asset is the expense
// that paid for it (category 固定资产), and an asset the collective held
// before its books opened is in the opening balances.
//
// An appraisal that changes an asset's book value moves 固定资产 by the
// change, the other side 公积公益金. What this relies on: the 2004 system
// (财会〔2004〕12号), under 311 公积公益金, books to it the increase of
// assets invested or revalued by appraisal (资产评估增值), and under 151
// 固定资产 books such an asset at its appraised value; the 2023 revision
// keeps 公积公益金 for the same. That a decrease of the same assets is
// booked against 公积公益金 too is how this change reads the system (not
// checked clause by clause against the 2023 text); a district that books
// an appraisal's decrease as a loss maps loss_account to 其他支出 (533).
//
// A disposal (sale, scrapping, transfer) takes the asset off 固定资产 at its
// book value, the price into 库存现金 when received in cash, else into
// 银行存款, the difference to 其他收入 (a gain) or 其他支出 (a loss). The
// standard routes this through 固定资产清理 (154) with 累计折旧; the node
// keeps no depreciation, so the three steps collapse into one voucher of
// the same net effect.
var nationalMappings = []mapping{
	{txEntry, expense, cash, "", CategoryAccount, Cash, "", ""},
	{txEntry, expense, anyMethod, "", CategoryAccount, Bank, "", ""},
	{txEntry, income, cash, "", Cash, CategoryAccount, "", ""},
	{txEntry, income, anyMethod, "", Bank, CategoryAccount, "", ""},
	{txEntry, transfer, cash, "", Bank, Cash, "", ""},
	{txEntry, transfer, anyMethod, "", Cash, Bank, "", ""},
	{txEntry, loanIn, cash, "长期借款及应付款", Cash, "231", "", ""},
	{txEntry, loanIn, anyMethod, "长期借款及应付款", Bank, "231", "", ""},
	{txEntry, loanIn, cash, "", Cash, ShortLoans, "", ""},
	{txEntry, loanIn, anyMethod, "", Bank, ShortLoans, "", ""},
	{txEntry, loanOut, cash, "", Receivable, Cash, "", ""},
	{txEntry, loanOut, anyMethod, "", Receivable, Bank, "", ""},
	{payEntry, 0, cash, "", Cash, OperatingIncome, "", ""},
	{payEntry, 0, anyMethod, "", Bank, OperatingIncome, "", ""},
	{apprEntry, 0, anyMethod, "", FixedAssets, "", Reserve, Reserve},
	{dispEntry, 0, cash, "", Cash, FixedAssets, OtherIncome, OtherExpense},
	{dispEntry, 0, anyMethod, "", Bank, FixedAssets, OtherIncome, OtherExpense},
}

// National returns the national chart with its mappings, a new copy each
// call: the default of a catalog that carries none.
func National() *sanziv1.ChartOfAccounts {
	c := &sanziv1.ChartOfAccounts{Standard: Standard}
	for _, a := range national {
		c.Accounts = append(c.Accounts, &sanziv1.LedgerAccount{
			Code: a.code, Name: a.name, Class: a.class, Side: a.side,
			Subsidiary: append([]sanziv1.SubsidiaryKind(nil), a.sub...),
		})
	}
	for _, m := range nationalMappings {
		c.Mappings = append(c.Mappings, &sanziv1.VoucherMapping{
			Source: m.source, Kind: m.kind, PaymentMethod: m.method, Category: m.category,
			DebitAccount: m.debit, CreditAccount: m.credit, GainAccount: m.gain, LossAccount: m.loss,
		})
	}
	return c
}
