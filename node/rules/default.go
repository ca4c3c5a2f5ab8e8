package rules

// Default returns the rule set a district starts from (version "default-1"):
// the threshold rules of the domain notes that one entry can decide, with
// their default parameters in fen. Block rules have severity red: should one
// ever be overridden, it ranks with the serious alerts. Some rules
// approximate what the entry cannot yet say; each says how below.
func Default() RuleSet {
	tx, contract, disposal := []string{KindTransaction}, []string{KindContract}, []string{KindAssetDisposal}
	txVoucher, voucher := []string{KindTransaction, KindVoucher}, []string{KindVoucher}
	return RuleSet{Version: "default-1", Rules: append([]Rule{
		{
			// Money leaving the collective in cash: expenses and loans out.
			// On a voucher: a line crediting 库存现金 (101 or a sub-account)
			// above the limit, paid to anything but cash or bank (banking
			// cash is not a payment). Only hand vouchers: a derived
			// voucher's transaction was checked as it was recorded, and
			// the same payment must not raise CASH-PAY twice; the opening
			// balances are no payment.
			Code: "CASH-PAY", Name: "大额现金支付", Severity: SeverityRed, Action: ActionBlock, Applies: txVoucher,
			Expr: `tx.kind in [TransactionKind.TRANSACTION_KIND_EXPENSE, TransactionKind.TRANSACTION_KIND_LOAN_OUT]
				&& tx.payment_method == PaymentMethod.PAYMENT_METHOD_CASH
				&& tx.amount_fen > params.cash_limit_fen`,
			Exprs: map[string]string{KindVoucher: `source == "" && voucher.source_entry_id == "" && !voucher.opening
				&& voucher.lines.exists(l, roles[l.account] == "cash" && l.credit_fen > params.cash_limit_fen)
				&& voucher.lines.exists(l, l.debit_fen > 0 && !(roles[l.account] in ["cash", "bank"]))`},
			Reason: "现金支付超过结算起点{cash_limit_yuan}元，应通过银行转账或村务卡支付",
			Params: map[string]int64{"cash_limit_fen": 100_000},
			Basis:  "《现金管理暂行条例》结算起点以上的款项应通过银行转账结算；村级现金管理规定",
		},
		{
			// 白条: neither an uploaded voucher nor an invoice number.
			Code: "NO-INVOICE", Name: "白条入账", Severity: SeverityRed, Action: ActionBlock, Applies: tx,
			Expr: `tx.kind == TransactionKind.TRANSACTION_KIND_EXPENSE
				&& tx.amount_fen >= params.no_invoice_min_fen
				&& size(tx.attachments) == 0 && tx.invoice_number == ""`,
			Reason: "严禁白条入账：{no_invoice_min_yuan}元及以上的支出须附发票或收据，请上传原始凭证或填写发票号码",
			Params: map[string]int64{"no_invoice_min_fen": 0},
			Basis:  "村级财务管理规定：支出须取得合法原始凭证，严禁白条入账",
		},
		{
			// resolution_approved is the books' verdict on the procedure the
			// expense names (resolution_procedure_id), never the caller's:
			// a procedure of the expense's matter (FUND-BIG, WORKS-TENDER),
			// of the same org, its resolution published (step
			// publish_resolution approved) and its amount covering this one.
			// The refusal names the matter and the procedure.
			//
			// On a voucher: a hand voucher whose net outflow of cash and
			// bank reaches the threshold and that debits an expense or
			// cost account, unless the books found its resolution
			// approved (VoucherFacts). A voucher cannot name its
			// resolution yet, so its action is the district's own
			// choice (Actions): a red warning by default, block where
			// the district wants big spending recorded only as a
			// transaction naming its resolution. A derived voucher is
			// its transaction's, which was checked.
			Code: "BIG-SPEND", Name: "大额支出未经四议两公开", Severity: SeverityRed, Action: ActionBlock, Applies: txVoucher,
			Actions: map[string]Action{KindVoucher: ActionWarn},
			Expr: `tx.kind == TransactionKind.TRANSACTION_KIND_EXPENSE
				&& tx.amount_fen >= params.big_spend_fen
				&& !resolution_approved`,
			Exprs: map[string]string{KindVoucher: `source == "" && voucher.source_entry_id == "" && !voucher.opening && !resolution_approved
				&& money_out_fen >= params.big_spend_fen
				&& voucher.lines.exists(l, l.debit_fen > 0 && roles[l.account] in ["expense", "cost"])`},
			Reason: "{big_spend_yuan}元及以上的支出须先经“四议两公开”程序：该事项的办理流程须已通过村民（代表）会议决议并公开，记账时注明该流程编号",
			Params: map[string]int64{"big_spend_fen": 5_000_000},
			Basis:  "《村民委员会组织法》第二十四条；“四议两公开”工作法",
		},
		{
			// A person (valid resident ID) paid by bank transfer to an account
			// is taken as a personal account. It cannot tell a cadre from any
			// villager (RELATIVE will), so it warns rather than blocks.
			Code: "PRIVATE-ACCT", Name: "资金转入个人账户", Severity: SeverityRed, Action: ActionWarn, Applies: tx,
			Expr: `tx.kind == TransactionKind.TRANSACTION_KIND_EXPENSE
				&& tx.payment_method == PaymentMethod.PAYMENT_METHOD_BANK_TRANSFER
				&& tx.amount_fen > params.private_limit_fen
				&& tx.counterparty.bank_account != ""
				&& is_resident_id(tx.counterparty.id_number)`,
			Reason: "向个人账户支付超过{private_limit_yuan}元，请核实收款人不是村干部、款项不属于公款私存",
			Params: map[string]int64{"private_limit_fen": 100_000},
			Basis:  "村级资金管理规定：不准公款私存，不准将集体资金转入个人账户",
		},
		{
			// A payment booked to an account of the wrong kind (科目错用),
			// on the voucher the books derive or one entered by hand:
			//   - an expense transaction whose voucher debits an income
			//     account (支出冲减收入);
			//   - an income transaction or contract payment whose voucher
			//     credits an expense or cost account (收入冲减支出);
			//   - a hand voucher paying money out of cash and bank (net)
			//     and debiting an income account, or taking money in and
			//     crediting an expense or cost account.
			// Refunds (退回多收的租金) and recoveries of expenses are booked
			// that way legitimately, so it warns, yellow. Vouchers that
			// move neither cash nor bank (year-end carry-forward into
			// 本年收益) never fire by hand.
			Code: "WRONG-ACCOUNT", Name: "收支科目错用", Severity: SeverityYellow, Action: ActionWarn, Applies: voucher,
			Expr: `!voucher.opening && voucher.reverses_voucher_id == "" && (
				(source_kind == TransactionKind.TRANSACTION_KIND_EXPENSE
					&& voucher.lines.exists(l, l.debit_fen > 0 && roles[l.account] == "income"))
				|| ((source_kind == TransactionKind.TRANSACTION_KIND_INCOME || source == "contract_payment")
					&& voucher.lines.exists(l, l.credit_fen > 0 && roles[l.account] in ["expense", "cost"]))
				|| (source == "" && voucher.source_entry_id == "" && money_out_fen > 0
					&& voucher.lines.exists(l, l.debit_fen > 0 && roles[l.account] == "income"))
				|| (source == "" && voucher.source_entry_id == "" && money_in_fen > 0
					&& voucher.lines.exists(l, l.credit_fen > 0 && roles[l.account] in ["expense", "cost"])))`,
			Reason: "收支科目错用：支出记入收入类科目借方或收入记入支出、成本类科目贷方，请核实科目；如属退款或冲减，请在摘要中说明",
			Basis:  "《农村集体经济组织会计制度》（财会〔2023〕14号）会计科目使用说明",
		},
		{
			// Term ends are inclusive, hence add_days(term_end, 1).
			Code: "LEASE-20Y", Name: "租赁期限超过二十年", Severity: SeverityRed, Action: ActionBlock, Applies: contract,
			Expr:   `years_between(contract.term_start, add_days(contract.term_end, 1)) > double(params.max_term_years)`,
			Reason: "租赁或发包期限不得超过{max_term_years}年，超过部分无效",
			Params: map[string]int64{"max_term_years": 20},
			Basis:  "《民法典》第七百零五条：租赁期限不得超过二十年",
		},
		{
			// Total value is the annual amount times the term in years.
			Code: "MUST-TRADE", Name: "应进必进未公开交易", Severity: SeverityRed, Action: ActionWarn, Applies: contract,
			Expr: `!(contract.award_method in [AwardMethod.AWARD_METHOD_TENDER, AwardMethod.AWARD_METHOD_AUCTION])
				&& (double(contract.annual_amount_fen) * years_between(contract.term_start, add_days(contract.term_end, 1))
						>= double(params.must_trade_value_fen)
					|| contract.object.area_mu >= double(params.must_trade_area_mu))`,
			Reason: "合同总额达到{must_trade_value_yuan}元或面积达到{must_trade_area_mu}亩，应进入农村产权交易平台公开招标或拍卖，不得协议发包",
			Params: map[string]int64{"must_trade_value_fen": 5_000_000, "must_trade_area_mu": 50},
			Basis:  "农村集体产权交易“应进必进”规定",
		},
		{
			// The entry cannot say whether the works were tendered, so this is
			// a yellow prompt to check, keyed on 工程 in category or budget line.
			Code: "TENDER", Name: "工程项目未招标", Severity: SeverityYellow, Action: ActionWarn, Applies: tx,
			Expr: `tx.kind == TransactionKind.TRANSACTION_KIND_EXPENSE
				&& tx.amount_fen >= params.tender_works_fen
				&& (tx.category.contains("工程") || tx.budget_line.contains("工程"))`,
			Reason: "工程支出达到{tender_works_yuan}元，应依法招标，请核实已履行招标程序并附中标通知书",
			Params: map[string]int64{"tender_works_fen": 10_000_000},
			Basis:  "《招标投标法》及本地村级工程招标限额规定",
		},
		{
			// Any sale needs an appraisal to price it (a cheap sale of an
			// unappraised asset is the classic loss); other disposals from
			// the threshold.
			Code: "NO-APPRAISAL", Name: "资产处置未评估", Severity: SeverityRed, Action: ActionBlock, Applies: disposal,
			Expr: `appraised_value_fen == 0
				&& (disposal.price_fen >= params.appraisal_min_fen
					|| disposal.method == DisposalMethod.DISPOSAL_METHOD_SALE)`,
			Reason: "出售资产或处置价款达到{appraisal_min_yuan}元，须先经资产评估，请先登记评估报告",
			Params: map[string]int64{"appraisal_min_fen": 5_000_000},
			Basis:  "农村集体资产管理规定：集体资产处置须经评估",
		},
		{
			// Compared in whole fen: price × 100 < appraisal × percent.
			Code: "UNDERPRICE", Name: "低于评估价处置", Severity: SeverityRed, Action: ActionWarn, Applies: disposal,
			Expr: `disposal.method == DisposalMethod.DISPOSAL_METHOD_SALE
				&& appraised_value_fen > 0
				&& disposal.price_fen * 100 < appraised_value_fen * params.reserve_percent`,
			Reason: "出售价格低于评估价的{reserve_percent}%，禁止低价处置集体资产，请说明理由并报镇审核",
			Params: map[string]int64{"reserve_percent": 100},
			Basis:  "禁止低价发包、低价处置集体资产",
		},
	}, defaultStateful()...)}
}
