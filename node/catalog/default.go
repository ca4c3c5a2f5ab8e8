package catalog

import (
	"fmt"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Default amounts in fen (1 yuan = 100 fen). They appear only here: everything
// else reads them from the catalog, which the district may change.
const (
	bigSpendFen    = 5_000_000  // 50,000 yuan: four deliberations (BIG-SPEND)
	tenderWorksFen = 10_000_000 // 100,000 yuan: works are tendered (TENDER)
	appraisalFen   = 5_000_000  // 50,000 yuan: disposal needs an appraisal (NO-APPRAISAL)
	tradeFen       = 5_000_000  // 50,000 yuan: deal goes to open trading (MUST-TRADE)
)

// BooksReopen is the matter whose town-approved procedure reopens a
// closed month of a village's books (node/books ReopenMonth).
const BooksReopen = "BOOKS-REOPEN"

// BankRec is the monthly bank reconciliation matter, and BankRecStep its
// step where the reconciliation statement (余额调节表) is drawn up: once it
// is approved, the statement explains why the bank statement differs from
// the books, and the month may close with the difference (node/books
// CloseMonth).
const (
	BankRec     = "FUND-BANKREC"
	BankRecStep = "reconcile"
)

// Post codes of the default catalog.
const (
	pAccountant = "village.accountant"
	pFinance    = "village.finance_group"
	pHead       = "village.head"
	pParty      = "village.party_branch"
	pCommittees = "village.committees"
	pMembers    = "village.party_members"
	pAssembly   = "village.assembly"
	pAgency     = "town.agency_accountant"
	pCashier    = "town.agency_cashier"
	pReviewer   = "town.reviewer"
	pTrading    = "town.trading_service"
	pLeader     = "town.leader"
	pAgri       = "district.agriculture"
	pDiscipline = "district.discipline"
)

// Default is the catalog a district starts from: the posts of the three tiers
// and the supervised matters with the default steps and time limits of the
// domain notes. Each call builds a fresh value, so callers may edit it into
// the district's own version without affecting anyone else.
func Default(district string) *sanziv1.Catalog {
	v, t, d := sanziv1.Tier_TIER_VILLAGE, sanziv1.Tier_TIER_TOWN, sanziv1.Tier_TIER_DISTRICT
	return &sanziv1.Catalog{
		Version:  "default",
		District: district,
		Posts: []*sanziv1.Post{
			{Code: pAccountant, Name: "报账员", Tier: v},
			{Code: pFinance, Name: "理财小组/监委会", Tier: v},
			{Code: pHead, Name: "村主任/村书记", Tier: v},
			{Code: pParty, Name: "村党组织", Tier: v},
			{Code: pCommittees, Name: "村两委联席会议", Tier: v},
			{Code: pMembers, Name: "党员大会", Tier: v},
			{Code: pAssembly, Name: "村民代表会议", Tier: v},
			{Code: pAgency, Name: "镇三资代理中心会计", Tier: t},
			{Code: pCashier, Name: "镇三资代理中心出纳", Tier: t},
			{Code: pReviewer, Name: "镇农经站审核员", Tier: t},
			{Code: pTrading, Name: "镇农村产权交易服务站", Tier: t},
			{Code: pLeader, Name: "镇分管领导", Tier: t},
			{Code: pAgri, Name: "区农业农村局三资监管科", Tier: d},
			{Code: pDiscipline, Name: "区纪委监委", Tier: d},
		},
		Matters: []*sanziv1.Matter{
			{Code: "FUND-REIMB", Name: "日常报销", Category: "funds",
				LegalBasis: "《农村集体经济组织财务制度》；村账镇管有关规定",
				Conditions: fmt.Sprintf("村集体日常费用支出，单笔低于%s（达到的按大额支出办理）", yuan(bigSpendFen)),
				Steps:      payment(false), TotalLimit: wd(12)},
			{Code: "FUND-BIG", Name: "大额支出（四议两公开）", Category: "funds", ThresholdFen: bigSpendFen,
				LegalBasis: "《中华人民共和国村民委员会组织法》第二十四条；“四议两公开”工作法",
				Conditions: "单笔或同一事项合计支出达到门槛金额，须先经四议两公开，决议和公开记录附凭证",
				Steps:      append(append(deliberations(), payment(true)...), result()), TotalLimit: cd(60)},
			{Code: "WORKS-TENDER", Name: "工程项目与采购招标", Category: "funds", ThresholdFen: tenderWorksFen,
				LegalBasis: "《中华人民共和国招标投标法》第二十四条、第四十六条；《招标投标法实施条例》第五十四条；地方村级小微工程管理办法",
				Conditions: "村级工程建设项目估算达到门槛金额须公开招标；货物和服务采购按地方限额执行",
				Steps: append(deliberations(),
					step("tender_plan", "招标方案审核", pReviewer, wd(5), "审核招标方案、控制价和资格条件"),
					minimum(step("tender", "公开招标", pTrading, cd(30), "在农村产权交易平台发布招标公告，至投标截止不少于20日"), cd(20)),
					minimum(step("award", "中标公示", pTrading, cd(5), "中标候选人公示不少于3日"), cd(3)),
					step("contract", "签订合同", pHead, cd(30), "中标通知书发出后30日内签订合同并报镇备案"),
					step("acceptance", "竣工验收", pFinance, wd(10), "理财小组、监委会会同镇农经站验收，验收单附凭证"),
					result()),
				TotalLimit: cd(120)},
			{Code: "ASSET-DISPOSE", Name: "资产处置（评估）", Category: "assets", ThresholdFen: appraisalFen,
				LegalBasis: "《农村集体经济组织财务制度》；地方农村集体资产管理办法",
				Conditions: "出售、报废、置换、投资入股或抵押集体资产，价值达到门槛金额须先评估，成交价不得低于评估价",
				Steps: append(deliberations(),
					step("apply", "处置申请审核", pReviewer, wd(5), "镇农经站审核处置方式和理由"),
					step("appraise", "资产评估", pHead, wd(20), "委托有资质的机构评估，评估报告作为交易底价"),
					minimum(step("trade", "公开交易", pTrading, wd(20), "产权交易平台挂牌不少于5个工作日"), wd(5)),
					step("book", "账务处理", pAgency, wd(3), "依据成交确认书和评估报告核销资产并记账"),
					result()),
				TotalLimit: cd(90)},
			{Code: "RES-CONTRACT", Name: "资源性资产发包", Category: "resources",
				LegalBasis: "《中华人民共和国农村土地承包法》第四十八条、第五十二条；农村产权交易“应进必进”规定",
				Conditions: fmt.Sprintf("以招标、拍卖、公开协商等方式发包荒山、机动地、林地、水面等集体资源；合同总额达到%s或面积50亩以上须进场交易；发包给本集体以外的须经三分之二以上成员或代表同意并报镇政府批准", yuan(tradeFen)),
				Steps: append(deliberations(),
					step("approve", "镇政府审批", pLeader, wd(10), "发包方案报镇审核，外部承包须经镇政府批准"),
					minimum(step("trade", "公开交易", pTrading, wd(20), "产权交易平台挂牌不少于5个工作日，不得低于底价发包"), wd(5)),
					step("contract", "签订承包合同", pHead, wd(5), "使用示范文本，期限不超过法定年限"),
					step("register", "合同备案", pAgency, wd(3), "录入合同台账，设置收款计划"),
					result()),
				TotalLimit: cd(90)},
			{Code: "CONTRACT-LEASE", Name: "租赁合同签订与续签", Category: "assets",
				LegalBasis: "《中华人民共和国民法典》第七百零五条；地方农村集体经济合同管理办法",
				Conditions: fmt.Sprintf("出租集体经营性资产或续签到期合同；续签在到期前60日启动；租期不超过20年；合同总额达到%s须进场交易", yuan(tradeFen)),
				Steps: []*sanziv1.Step{
					step("draft", "拟定合同", pAccountant, wd(5), "按示范文本拟定合同，附交易确认书或续签决议"),
					step("review", "理财小组审核", pFinance, wd(2), "审核承租方、价格、期限和关联关系"),
					step("legal_review", "镇合同审查", pReviewer, wd(5), "审查期限、租金、付款方式和违约责任"),
					step("sign", "签订合同", pHead, wd(3), "村主任代表集体签订"),
					step("register", "合同备案", pAgency, wd(3), "录入合同台账，设置收款计划"),
				},
				TotalLimit: wd(20)},
			{Code: "CONTRACT-END", Name: "合同终止与解除", Category: "assets",
				LegalBasis: "《中华人民共和国民法典》合同编；地方农村集体经济合同管理办法",
				Conditions: "合同到期不续、协商解除或因违约解除",
				Steps: []*sanziv1.Step{
					step("apply", "提出终止", pCommittees, wd(5), "说明终止或解除理由"),
					step("settle", "清算收回", pAccountant, wd(10), "结清租金、押金和欠款，清点收回资产"),
					step("review", "理财小组审核", pFinance, wd(2), "审核清算结果"),
					step("approve", "镇审核", pReviewer, wd(5), "审核终止理由和清算结果"),
					step("register", "注销备案", pAgency, wd(3), "合同台账注销，资产状态更新"),
				},
				TotalLimit: wd(30)},
			{Code: "FUND-LOAN", Name: "资金借入借出", Category: "funds",
				LegalBasis: "《中华人民共和国村民委员会组织法》第二十四条；《农村集体经济组织财务制度》",
				Conditions: "集体经济组织举债或出借资金，任何金额；不得为他人提供担保",
				Steps: append(deliberations(),
					step("approve", "镇政府审批", pLeader, wd(10), "举债或出借报镇政府审批"),
					step("sign", "签订借款合同", pHead, wd(3), "约定金额、利率、期限和还款方式"),
					step("town_post", "审核记账", pAgency, wd(3), "审核决议、审批和合同后记账"),
					step("pay", "资金划转", pCashier, wd(1), "通过集体银行账户划转"),
					result()),
				TotalLimit: cd(60)},
			{Code: "FUND-INCOME", Name: "收入入账", Category: "funds",
				LegalBasis: "《农村集体经济组织财务制度》；《现金管理暂行条例》",
				Conditions: "租金、承包费、补助、经营收入等一切收入，任何金额",
				Steps: []*sanziv1.Step{
					step("receipt", "开具收据", pAccountant, wd(1), "收款即开具统一收据或发票"),
					step("deposit", "现金解缴", pAccountant, cd(3), "现金收入及时存入银行，不得跨月，不得坐支"),
					step("town_post", "审核记账", pAgency, wd(3), "核对合同收款计划后入账"),
				},
				TotalLimit: cd(10)},
			{Code: BankRec, Name: "月度银行对账", Category: "funds",
				LegalBasis: "《现金管理暂行条例》；日清月结制度",
				Conditions: "每月末，每个银行账户；次月10日前完成",
				Steps: []*sanziv1.Step{
					step(BankRecStep, "编制余额调节表", pAgency, cd(7), "月末起算，取得对账单逐笔核对，账面与银行余额不符的说明原因"),
					step("review", "镇审核", pReviewer, wd(2), "审核调节表和未达账项"),
				},
				TotalLimit: cd(10)},
			// Issue 19: a closed month (结账) takes no voucher; reopening it
			// is the town's decision, recorded at the village (books).
			{Code: BooksReopen, Name: "反结账（重新打开已结账月份）", Category: "funds",
				LegalBasis: "《农村集体经济组织会计制度》（财会〔2023〕14号）；村账镇代管制度",
				Conditions: "已结账月份需补记或更正凭证；写明月份（period）和原因",
				Steps: []*sanziv1.Step{
					step("request", "提出申请", pAccountant, wd(2), "写明需重新打开的月份、原因和拟补记或更正的凭证"),
					step("approve", "镇审核", pAgency, wd(3), "镇代理会计审核原因，同意后村报账员方可反结账"),
				},
				TotalLimit: cd(10)},
			{Code: "GOV-DISCLOSE", Name: "月度财务公开", Category: "governance",
				LegalBasis: "《中华人民共和国村民委员会组织法》第三十条；农村集体经济组织财务公开规定",
				Conditions: "每月（或按季）公开收支、资产资源和合同；次月10日前公开",
				Steps: []*sanziv1.Step{
					step("prepare", "编制公开表", pAgency, cd(4), "月末起算，编制收支明细、资产资源和合同公开表"),
					step("audit", "监委会审核", pFinance, wd(2), "审核公开内容真实完整并签字"),
					step("check", "镇审核", pReviewer, wd(1), "镇农经站审核"),
					step("publish", "张榜公开", pCommittees, wd(1), "在公开栏和线上平台公开并留存照片"),
				},
				TotalLimit: cd(10)},
			{Code: "GOV-COMPLAINT", Name: "群众投诉答复", Category: "governance",
				LegalBasis: "《中华人民共和国村民委员会组织法》第三十一条；地方村级财务管理规定",
				Conditions: "村民对财务、资产、资源事项提出的投诉或质询",
				Steps: []*sanziv1.Step{
					// The town registers: a villager's complaint filed on the
					// public site comes down the district's chain to the town
					// (issue 15), where no village post is held; one opened at
					// the village is registered by its town the same way.
					step("register", "登记受理", pReviewer, wd(1), "镇农经站登记投诉并受理（含村民在公开网站提交、经区平台转来的投诉）"),
					step("investigate", "调查核实", pReviewer, wd(5), "调阅账目、凭证和合同，核实情况"),
					step("reply", "书面答复", pLeader, wd(1), "签发书面答复，答复内容留档"),
				},
				TotalLimit: cd(10)},
			{Code: "GOV-ALERT", Name: "预警处置", Category: "governance",
				LegalBasis: "区农村集体“三资”监管预警处置办法",
				Conditions: "规则引擎产生的预警；红牌同时推送镇分管领导和区纪委监委",
				Steps: []*sanziv1.Step{
					step("acknowledge", "签收", pReviewer, wd(1), "镇农经站审核员签收并派发"),
					step("explain", "说明整改", pHead, wd(2), "村主任书面说明情况并整改，附佐证材料"),
					step("close", "核查销号", pReviewer, wd(2), "核实后销号，标注确认或误报"),
				},
				TotalLimit: wd(5)},
		},
	}
}

// payment is the approval chain of a voucher: capture, village review and
// sign-off, town review and posting (村账镇管), then payment. With resolution
// the town posts only with the four-deliberations resolution attached.
func payment(resolution bool) []*sanziv1.Step {
	s := []*sanziv1.Step{
		step("capture", "填制凭证", pAccountant, cd(3), "费用发生后取得合规票据，填制报账单并上传附件，无票据不得报账"),
		step("review", "理财小组审核", pFinance, wd(2), "审核真实性、合规性并签字"),
		step("signoff", "村主任审批", pHead, wd(2), "村主任/村书记审批签字，审批链不得跳步"),
		step("town_post", "镇审核记账", pAgency, wd(3), "镇三资代理中心审核票据、审批链和附件后记账"),
		step("pay", "支付", pCashier, wd(1), "按结算起点规定通过银行转账或村务卡支付"),
	}
	s[3].RequiresResolution = resolution
	return s
}

// deliberations are the four deliberations and the first disclosure of
// 四议两公开: propose, consult, deliberate, resolve, publish the resolution.
func deliberations() []*sanziv1.Step {
	resolve := minimum(step("resolve", "村民代表会议决议", pAssembly, cd(20), "提前10日公告会议事项，村民（代表）会议按规定比例表决，记录和决议附后"), cd(10))
	publish := minimum(step("publish_resolution", "决议公开", pCommittees, cd(10), "决议在公开栏和线上平台公示不少于7日，期满无异议方可实施"), cd(7))
	resolve.RequiresResolution, publish.RequiresResolution = true, true
	return []*sanziv1.Step{
		step("propose", "村党组织提议", pParty, wd(5), "村党组织广泛征求意见后提出议题"),
		step("consult", "村两委商议", pCommittees, wd(5), "村党组织和村委会联席会议商议，形成初步方案"),
		step("deliberate", "党员大会审议", pMembers, wd(5), "党员大会审议，形成审议意见"),
		resolve, publish,
	}
}

// result is the second disclosure of 四议两公开: the outcome is published.
func result() *sanziv1.Step {
	return step("publish_result", "实施结果公开", pCommittees, wd(5), "实施结果和资金使用情况公开")
}

func step(code, name, post string, l *sanziv1.TimeLimit, desc string) *sanziv1.Step {
	return &sanziv1.Step{Code: code, Name: name, Post: post, Limit: l, Description: desc}
}

func minimum(s *sanziv1.Step, l *sanziv1.TimeLimit) *sanziv1.Step { s.MinDuration = l; return s }

func wd(n int32) *sanziv1.TimeLimit { return limit(sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS, n) }
func cd(n int32) *sanziv1.TimeLimit { return limit(sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS, n) }

func limit(u sanziv1.LimitUnit, n int32) *sanziv1.TimeLimit {
	return &sanziv1.TimeLimit{Unit: u, Amount: n}
}

// yuan writes a fen amount in yuan for condition texts, so that a text shows
// the same default as the threshold field beside it.
func yuan(fen int64) string { return fmt.Sprintf("%d元", fen/100) }
