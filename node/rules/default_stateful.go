package rules

// defaultStateful returns the default definitions of the rules that need the
// node's history or its lists (package watch holds their Go code): the
// district sets their severity, action, reason and params here like any other
// rule's. A two-rung rule's Severity is its top rung (the lower one is
// yellow; ARREARS has a warning rung, info, below that). "N days" always
// means the N-th day after is still in time.
func defaultStateful() []Rule {
	return []Rule{
		{
			Code: "SPLIT", Name: "拆分支付", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "同一收款人{window_days}天内多笔支出均低于{split_threshold_yuan}元、合计达到该额度，疑似化整为零规避审批",
			Params: map[string]int64{"window_days": 30, "split_threshold_fen": 5_000_000},
			Basis:  "“四议两公开”及大额支出审批规定：不得化整为零规避审批",
		},
		{
			Code: "DUP-INVOICE", Name: "发票重复报销", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "同一发票（代码和号码）已被本村另一笔未冲销的凭证使用，疑似重复报销",
			Basis:  "村级财务管理规定：原始凭证不得重复使用",
		},
		{
			Code: "HOSPITALITY", Name: "招待费超标", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "招待费年度累计超过限额{hospitality_cap_yuan}元；限额为0元的，不得列支招待费",
			Params: map[string]int64{"hospitality_cap_fen": 0},
			Basis:  "本地村级非生产性开支管理规定",
		},
		{
			Code: "NON-PROD", Name: "非生产性开支占比过高", Severity: SeverityYellow, Action: ActionWarn, Stateful: true,
			Reason: "年度累计非生产性开支（会议、差旅、补贴、招待等）超过同期收入的{non_prod_percent}%且达到{non_prod_min_yuan}元",
			Params: map[string]int64{"non_prod_percent": 30, "non_prod_min_fen": 1_000_000},
			Basis:  "农村集体财务管理规定：严格控制非生产性开支",
		},
		{
			Code: "OFF-BUDGET", Name: "预算外或超预算支出", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "支出未列入年度预算或超过预算科目金额：超支{over_budget_red_percent}%以内黄色预警，超过或预算外红色预警",
			Params: map[string]int64{"over_budget_red_percent": 10},
			Basis:  "村级财务预算管理规定：无预算不开支，超预算须经村民（代表）会议调整",
		},
		{
			Code: "TAMPER", Name: "向已结账期间补录", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "凭证业务日期所在月份已完成银行对账结账，向已结账期间补录凭证须说明原因并报镇审核",
			Basis:  "会计档案和账簿锁定规定：已结账期间不得随意补录或修改",
		},
		{
			Code: "CASH-STOCK", Name: "库存现金超限额", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "日终库存现金超过限额{cash_limit_yuan}元，应及时存入银行；连续超过{red_after_days}天升为红色预警",
			Params: map[string]int64{"cash_limit_fen": 500_000, "red_after_days": 3},
			Basis:  "村级现金管理规定：库存现金不得超过核定限额",
		},
		{
			Code: "CASH-DEPOSIT", Name: "现金收入未及时存行", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "收取的现金应在{deposit_days}天内且不跨月存入银行，不得坐支",
			Params: map[string]int64{"deposit_days": 3},
			Basis:  "《现金管理暂行条例》及村级现金管理规定：现金收入应及时送存银行，不得坐支",
		},
		{
			Code: "ADVANCE", Name: "个人借支逾期未结清", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "个人借支超过{yellow_days}天未结清；超过{red_days}天升为红色预警",
			Params: map[string]int64{"yellow_days": 3, "red_days": 30},
			Basis:  "村级现金管理规定：借支款项应及时报账结清，不得长期挂账",
		},
		{
			// One unpaid instalment is one finding on one ladder (DOMAIN.md,
			// "One finding, one ladder"): the warning rung is what was
			// OFF-BOOK (rent not booked for its billed period, 收入不入账),
			// then yellow, then red, all under ARREARS.
			Code: "ARREARS", Name: "合同款逾期未收", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "合同应收款到期超过{warning_days}天仍未见入账（预警，疑似收入不入账）；逾期超过{yellow_days}天黄色预警；逾期超过{red_days}天或欠款超过{red_amount_yuan}元升为红色预警",
			Params: map[string]int64{"warning_days": 10, "yellow_days": 30, "red_days": 90, "red_amount_fen": 1_000_000},
			Basis:  "农村集体经济合同管理规定：按合同及时足额收取承包费、租金；村级财务管理规定：集体收入必须全部入账，严禁账外设账",
		},
		{
			Code: "EXPIRING", Name: "合同到期未续", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "合同将在{yellow_days}天内到期（{red_days}天内红色预警）且未启动续签或重新发包；已到期未续的红色预警",
			Params: map[string]int64{"yellow_days": 60, "red_days": 30},
			Basis:  "农村集体经济合同管理规定：合同到期前应依法组织续签或重新发包",
		},
		{
			Code: "BANK-REC", Name: "银行对账逾期", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "每月银行存款对账应在次月{due_day}日前完成",
			Params: map[string]int64{"due_day": 10},
			Basis:  "村级财务“日清月结”制度",
		},
		{
			Code: "DISCLOSE-LATE", Name: "财务公开逾期", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "月度财务公开应在次月{due_day}日前完成；逾期超过{red_after_days}天升为红色预警",
			Params: map[string]int64{"due_day": 10, "red_after_days": 10},
			Basis:  "《村民委员会组织法》第三十条：村务公开",
		},
		{
			Code: "COMPLAINT-LATE", Name: "群众投诉逾期未答复", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "村民投诉应在{reply_days}天内答复办结",
			Params: map[string]int64{"reply_days": 10},
			Basis:  "村级财务管理规定：群众对财务的质询应及时答复",
		},
		{
			// The books (vouchers): 库存现金 (101 and its sub-accounts) at
			// the end of a voucher's business day, or any later day,
			// below zero after the voucher took cash out: more paid out
			// than was on hand (白条抵库, 账外资金).
			Code: "BOOKS-CASH-NEGATIVE", Name: "库存现金出现赤字", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "库存现金账面余额出现贷方（赤字），现金日记账不应出现负数，请核查是否漏记收入、白条抵库或记账错误",
			Basis:  "《现金管理暂行条例》及村级财务“日清月结”制度：现金日记账逐日结出余额，不得出现赤字",
		},
		{
			// At a month's close, each account whose balance is on the
			// other side from its normal side (the chart's) by more than
			// tolerance_fen; accounts where either side is normal are
			// exempt (package watch, wrongSideExempt), and 库存现金 is
			// BOOKS-CASH-NEGATIVE's.
			Code: "BOOKS-WRONG-SIDE", Name: "科目余额方向异常", Severity: SeverityYellow, Action: ActionWarn, Stateful: true,
			Reason: "月末结账时科目余额方向与其正常余额方向相反（超过{tolerance_yuan}元），请核查是否记错科目或方向",
			Params: map[string]int64{"tolerance_fen": 0},
			Basis:  "《农村集体经济组织会计制度》（财会〔2023〕14号）会计科目使用说明：各科目期末余额方向",
		},
		{
			// A month of the books (from the first voucher's month) not
			// closed by day due_day of the next month, or closed after.
			Code: "BOOKS-CLOSE-LATE", Name: "月末结账逾期", Severity: SeverityYellow, Action: ActionWarn, Stateful: true,
			Reason: "每月账务应在次月{due_day}日前完成结账",
			Params: map[string]int64{"due_day": 10},
			Basis:  "村级财务“日清月结”制度；《农村集体经济组织会计制度》：按月结账",
		},
		{
			Code: "RELATIVE", Name: "关联交易未回避", Severity: SeverityRed, Action: ActionWarn, Stateful: true,
			Reason: "收款人或承租、承包方与村干部或会计存在近亲属关系，应当回避",
			Basis:  "村干部近亲属回避规定",
		},
		{
			Code: "OUTSIDER", Name: "向本集体以外发包土地", Severity: SeverityRed, Action: ActionBlock, Stateful: true,
			Reason: "将农村土地发包给本集体经济组织以外的单位或个人，应当经本集体经济组织成员的村民会议三分之二以上成员或者三分之二以上村民代表同意，并报乡（镇）人民政府批准（《农村土地承包法》第五十二条）；请附上表决记录和乡镇批准文件（至少{min_attachments}份附件）",
			Params: map[string]int64{"min_attachments": 2},
			Basis:  "《农村土地承包法》第五十二条",
		},
	}
}
