package authz

import (
	"maps"
	"slices"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Permission is what a method needs. Roles grant permissions; Public and
// NodeOnly are held by no role and mark the methods people's credentials do
// not open.
type Permission string

// Permissions. A read permission never lets its holder change anything.
const (
	// Read the business records of the orgs in scope: transactions,
	// contracts, assets, attachments, alerts and their history, procedures,
	// cards, directives, rule sets, chain heads. Personal data masked.
	PermRead Permission = "read"
	// See resident ID numbers, bank accounts and phones whole (item 10).
	// No method needs it; MayReadPersonal and Masked do.
	PermReadPersonal Permission = "read_personal"
	// Record: transactions (and imports), contracts and their payments,
	// assets, reversals, attachments, procedures opened, directive reports.
	PermRecord Permission = "record"
	// Decide a workflow step (the handler checks the step's post).
	PermDecideStep Permission = "decide_step"
	// Acknowledge, confirm, dismiss or resolve an alert.
	PermReviewAlerts Permission = "review_alerts"
	// Draft a rule set or catalog (submit, dry-run).
	PermDraftRules Permission = "draft_rules"
	// Publish a drafted rule set or catalog (a second account: the handler
	// checks drafter ≠ publisher).
	PermPublishRules Permission = "publish_rules"
	// Manage accounts: create, grant and revoke posts and roles, disable,
	// reset passwords (node/accounts' methods).
	PermManageAccounts Permission = "manage_accounts"
	// Read statistics: the district's analytics and cluster status.
	PermReadStats Permission = "read_stats"
	// Read the raw signed chains (entries as signed, personal data whole,
	// forks) to verify them.
	PermVerify Permission = "verify"

	// Public methods need no credential (sign-in, health).
	Public Permission = "public"
	// SignedIn methods need a valid sign-in and nothing more: who am I,
	// sign out, one's own tokens. Held by every account, roles or none.
	SignedIn Permission = "signed_in"
	// NodeOnly methods are for nodes, authenticated by their mutual-TLS
	// certificates (sync, district pushes and membership); the interceptor
	// lets them through only with a verified peer certificate, and their
	// handlers check the certificate's org and role.
	NodeOnly Permission = "node_only"
)

// writes are the permissions that change something; read-only roles hold
// none of them.
var writes = []Permission{PermRecord, PermDecideStep, PermReviewAlerts, PermDraftRules, PermPublishRules, PermManageAccounts}

// roles is issue 12, item 6. Every role acts only within its org scope
// (Principal.Covers); what a village, town or district account can reach
// differs by scope, not by permission.
var roles = map[Role][]Permission{
	// Records the books of its village and sees personal data whole; decides
	// the steps of its post (capture: filling in the voucher of what it
	// recorded; supervise.CheckDecider keeps every later step of that
	// matter to someone else).
	RoleAccountant: {PermRead, PermReadPersonal, PermRecord, PermDecideStep},
	// Decides its steps and reviews alerts; the village's own rule set
	// (stricter than the district's floor) is drafted and published by two
	// of its members.
	RoleVillageCommittee: {PermRead, PermDecideStep, PermReviewAlerts, PermDraftRules, PermPublishRules},
	// Reads everything of its village (personal data masked), decides its
	// steps, reviews alerts.
	RoleSupervisoryCommittee: {PermRead, PermDecideStep, PermReviewAlerts},
	// Decides the town's posts on its villages' procedures, reviews alerts.
	RoleTownReviewer: {PermRead, PermDecideStep, PermReviewAlerts},
	// Manages the town's accounts and the town's own rule set.
	RoleTownAdmin: {PermRead, PermManageAccounts, PermDraftRules, PermPublishRules},
	// Read-only: statistics and everything below, personal data masked.
	RoleDistrictAnalyst: {PermRead, PermReadStats},
	// Drafts and publishes the district's rules and catalogs.
	RoleDistrictRulesOfficer: {PermRead, PermDraftRules, PermPublishRules},
	// Read-only: everything in scope including personal data, statistics,
	// the raw chains for verification, the trails.
	RoleAuditor: {PermRead, PermReadPersonal, PermReadStats, PermVerify},
	// Accounts only: records no business and reads none.
	RoleAdmin: {PermManageAccounts},
}

// readOnly are the roles that must hold no write permission (item 6).
var readOnly = []Role{RoleDistrictAnalyst, RoleAuditor}

// Roles lists every role, sorted.
func Roles() []Role {
	return slices.Sorted(maps.Keys(roles))
}

// Permissions lists what r grants (a copy; nil for an unknown role).
func (r Role) Permissions() []Permission { return slices.Clone(roles[r]) }

// May reports whether r grants perm.
func (r Role) May(perm Permission) bool { return slices.Contains(roles[r], perm) }

// Writes reports whether perm changes something.
func (perm Permission) Writes() bool { return slices.Contains(writes, perm) }

// methods maps every gRPC method a node or district member serves to what
// it needs. A method not here is refused (deny by default); the test
// TestEveryMethodInTable fails when an RPC is added without its line.
var methods = map[string]Permission{
	sanziv1.AlertService_WatchAlerts_FullMethodName:       PermRead,
	sanziv1.AlertService_ListAlerts_FullMethodName:        PermRead,
	sanziv1.AlertService_GetAlert_FullMethodName:          PermRead,
	sanziv1.AlertService_UpdateAlertStatus_FullMethodName: PermReviewAlerts,

	sanziv1.AnalyticsService_Totals_FullMethodName:     PermReadStats,
	sanziv1.AnalyticsService_AlertStats_FullMethodName: PermReadStats,
	sanziv1.AnalyticsService_Anomalies_FullMethodName:  PermReadStats,
	sanziv1.AnalyticsService_Risk_FullMethodName:       PermReadStats,
	sanziv1.AnalyticsService_Efficiency_FullMethodName: PermReadStats,

	sanziv1.AssetService_RegisterAsset_FullMethodName: PermRecord,
	sanziv1.AssetService_AppraiseAsset_FullMethodName: PermRecord,
	sanziv1.AssetService_DisposeAsset_FullMethodName:  PermRecord,
	sanziv1.AssetService_ListAssets_FullMethodName:    PermRead,
	sanziv1.AssetService_GetAsset_FullMethodName:      PermRead,

	sanziv1.AttachmentService_UploadAttachment_FullMethodName: PermRecord,
	sanziv1.AttachmentService_GetAttachment_FullMethodName:    PermRead,
	sanziv1.AttachmentService_DeleteAttachment_FullMethodName: PermRecord,

	// The collective's books (issue 19): vouchers, month-end close and
	// reopening (the handler checks the town's approval of the reopening),
	// the import of a year's books; the statements are reads, summed over
	// the villages of a town or district account's scope.
	sanziv1.BooksService_RecordVoucher_FullMethodName:  PermRecord,
	sanziv1.BooksService_ReverseVoucher_FullMethodName: PermRecord,
	sanziv1.BooksService_PreviewVoucher_FullMethodName: PermRead,
	sanziv1.BooksService_ListVouchers_FullMethodName:   PermRead,
	sanziv1.BooksService_CloseMonth_FullMethodName:     PermRecord,
	sanziv1.BooksService_ReopenMonth_FullMethodName:    PermRecord,
	sanziv1.BooksService_ListMonths_FullMethodName:     PermRead,
	sanziv1.BooksService_GetStatement_FullMethodName:   PermRead,
	sanziv1.BooksService_ImportBooks_FullMethodName:    PermRecord,

	sanziv1.ContractService_RecordContract_FullMethodName:        PermRecord,
	sanziv1.ContractService_RecordContractPayment_FullMethodName: PermRecord,
	sanziv1.ContractService_ListContracts_FullMethodName:         PermRead,
	sanziv1.ContractService_GetContract_FullMethodName:           PermRead,

	// A town's desk of the villagers' complaints (issue 15): reading them
	// (the contact whole only for those who decide steps or read personal
	// data), and replying, which the handler allows only to the account
	// holding the post of the complaint's open step.
	sanziv1.ComplaintService_ListComplaints_FullMethodName: PermRead,
	sanziv1.ComplaintService_ReplyComplaint_FullMethodName: PermDecideStep,

	sanziv1.DirectiveService_ListDirectives_FullMethodName:  PermRead,
	sanziv1.DirectiveService_ReportDirective_FullMethodName: PermRecord,

	// The monthly disclosure computed from the books, and a decision on
	// the month's GOV-DISCLOSE step on it (the handler's DecideStep
	// checks the step's post, the scope and the recorder).
	sanziv1.DisclosureService_GetDisclosure_FullMethodName:    PermRead,
	sanziv1.DisclosureService_DecideDisclosure_FullMethodName: PermDecideStep,

	// Pushes and membership come from nodes (district and town
	// certificates; federation/cluster.Authorize checks which).
	sanziv1.DistrictService_PushEntries_FullMethodName:    NodeOnly,
	sanziv1.DistrictService_RegisterOrigin_FullMethodName: NodeOnly,
	sanziv1.DistrictService_Join_FullMethodName:           NodeOnly,
	sanziv1.DistrictService_Leave_FullMethodName:          NodeOnly,
	sanziv1.DistrictService_MemberWrite_FullMethodName:    NodeOnly,
	// The signed checkpoints a town keeps for its villages' public site
	// (district and town certificates; people read them on /public/).
	sanziv1.DistrictService_ListCheckpoints_FullMethodName: NodeOnly,
	// The district's own chain, written for a signed-in rules officer (the
	// member checks the account's org is the district's).
	sanziv1.DistrictService_DraftCatalog_FullMethodName:   PermDraftRules,
	sanziv1.DistrictService_PublishCatalog_FullMethodName: PermPublishRules,
	sanziv1.DistrictService_IssueDirective_FullMethodName: PermPublishRules,
	// The district's catalogs and the directives it issued, with the
	// reports the addressed orgs sent up (the handler reads the reports
	// of the chains in the account's scope only).
	sanziv1.DistrictService_ListCatalogs_FullMethodName:         PermRead,
	sanziv1.DistrictService_GetCatalog_FullMethodName:           PermRead,
	sanziv1.DistrictService_ListIssuedDirectives_FullMethodName: PermRead,
	sanziv1.DistrictService_GetDistrictHead_FullMethodName:      PermRead,
	sanziv1.DistrictService_ListHeads_FullMethodName:            PermRead,
	sanziv1.DistrictService_ListDistrictEntries_FullMethodName:  PermVerify,
	sanziv1.DistrictService_ClusterStatus_FullMethodName:        PermReadStats,
	sanziv1.DistrictService_ListForks_FullMethodName:            PermVerify,

	sanziv1.TransactionService_RecordTransaction_FullMethodName:  PermRecord,
	sanziv1.TransactionService_ListTransactions_FullMethodName:   PermRead,
	sanziv1.TransactionService_GetTransaction_FullMethodName:     PermRead,
	sanziv1.TransactionService_ImportTransactions_FullMethodName: PermRecord,
	// A sheet read and imported by the node (the console's upload); its
	// org and author are bound like every request's, each row's org
	// checked by the handler.
	sanziv1.TransactionService_ImportSheet_FullMethodName: PermRecord,

	sanziv1.LedgerService_GetHead_FullMethodName:        PermRead,
	sanziv1.LedgerService_ListEntries_FullMethodName:    PermVerify,
	sanziv1.LedgerService_RecordReversal_FullMethodName: PermRecord,
	// An auditor's trail of one entry (the handler checks the entry's
	// origin is in scope) and a whole chain verified, in scope by origin.
	sanziv1.LedgerService_GetEntryTrail_FullMethodName: PermVerify,
	sanziv1.LedgerService_VerifyChain_FullMethodName:   PermVerify,

	sanziv1.RuleService_ListRuleSets_FullMethodName:   PermRead,
	sanziv1.RuleService_GetRuleSet_FullMethodName:     PermRead,
	sanziv1.RuleService_SubmitRuleSet_FullMethodName:  PermDraftRules,
	sanziv1.RuleService_PublishRuleSet_FullMethodName: PermPublishRules,
	sanziv1.RuleService_TestRules_FullMethodName:      PermDraftRules,
	// A draft run over the history in the account's scope (the request's
	// org is checked like any other; the handler reads only chains the
	// account covers), bounded in entries and time.
	sanziv1.RuleService_BacktestRules_FullMethodName: PermDraftRules,

	sanziv1.SyncService_SyncPush_FullMethodName:             NodeOnly,
	sanziv1.SyncService_SyncHeads_FullMethodName:            NodeOnly,
	sanziv1.SyncService_SyncPull_FullMethodName:             NodeOnly,
	sanziv1.SyncService_SyncAttachments_FullMethodName:      NodeOnly,
	sanziv1.SyncService_SyncAttachmentUpload_FullMethodName: NodeOnly,

	sanziv1.WorkflowService_ListProcedures_FullMethodName: PermRead,
	sanziv1.WorkflowService_GetProcedure_FullMethodName:   PermRead,
	sanziv1.WorkflowService_OpenProcedure_FullMethodName:  PermRecord,
	sanziv1.WorkflowService_DecideStep_FullMethodName:     PermDecideStep,

	sanziv1.CardService_ListCards_FullMethodName: PermRead,

	// Sign-in needs no credential (ChangePassword takes the current
	// password); the account service checks an administrator's org scope
	// over the account named, and that one's own tokens are one's own.
	sanziv1.AccountService_Login_FullMethodName:          Public,
	sanziv1.AccountService_ChangePassword_FullMethodName: Public,
	sanziv1.AccountService_Logout_FullMethodName:         SignedIn,
	sanziv1.AccountService_WhoAmI_FullMethodName:         SignedIn,
	sanziv1.AccountService_ListTokens_FullMethodName:     SignedIn,
	sanziv1.AccountService_RevokeToken_FullMethodName:    SignedIn,
	sanziv1.AccountService_CreateAccount_FullMethodName:  PermManageAccounts,
	sanziv1.AccountService_ListAccounts_FullMethodName:   PermManageAccounts,
	sanziv1.AccountService_GetAccount_FullMethodName:     PermManageAccounts,
	sanziv1.AccountService_GrantAccount_FullMethodName:   PermManageAccounts,
	sanziv1.AccountService_RevokeAccount_FullMethodName:  PermManageAccounts,
	sanziv1.AccountService_DisableAccount_FullMethodName: PermManageAccounts,
	sanziv1.AccountService_ResetPassword_FullMethodName:  PermManageAccounts,
	// The sign-in audit: the handler shows the accounts in the
	// administrator's scope (and names nobody holds).
	sanziv1.AccountService_ListSignIns_FullMethodName: PermManageAccounts,
}

// Required is the permission fullMethod ("/sanzi.v1.X/Y") needs; false for
// a method not in the table, which is refused.
func Required(fullMethod string) (Permission, bool) {
	p, ok := methods[fullMethod]
	return p, ok
}

// Methods is the whole table (a copy), for tests and documentation.
func Methods() map[string]Permission { return maps.Clone(methods) }
