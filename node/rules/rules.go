// Package rules checks the entries an accountant records against the
// supervision rules the district publishes. Rules are data, not code: each has
// a code, a severity, an action (warn, or block with a stated reason),
// parameters the district sets (thresholds in fen, counts of days) and a CEL
// expression that decides, from the one entry being recorded, whether the rule
// fires. Rules that need history (SPLIT, RELATIVE, ARREARS, …) are Go code
// elsewhere; this package only holds the ones one entry can decide.
//
// # What an expression sees
//
// Each entry kind a rule may apply to exposes its protobuf message under one
// variable, with field names in proto form (snake_case, as in the .proto
// files, e.g. tx.amount_fen, contract.object.area_mu):
//
//	kind                 variable   type
//	transaction          tx         sanzi.v1.Transaction
//	                     resolution_approved  bool: the procedure tx names
//	                         (resolution_procedure_id) is an approved
//	                         four-deliberations resolution covering it, as
//	                         the node's workflow says (TxFacts)
//	contract             contract   sanzi.v1.Contract
//	contract_payment     payment    sanzi.v1.ContractPayment
//	asset_disposal       disposal   sanzi.v1.AssetDisposal
//	                     appraised_value_fen  int: latest appraisal, 0 = never
//	asset_appraisal      appraisal  sanzi.v1.AssetAppraisal
//	asset_registration   asset      sanzi.v1.AssetRegistration
//	voucher              voucher    sanzi.v1.Voucher
//	                     roles      map(string, string): the role of every
//	                         account a line names, from the chart in force:
//	                         "cash" (库存现金 101 and its sub-accounts),
//	                         "bank" (银行存款 102 and its), "income" (a
//	                         profit-and-loss account whose side is credit),
//	                         "expense" (profit-and-loss, debit side), "cost"
//	                         (成本类), "asset", "liability", "equity", or
//	                         "unknown" (an account the chart lacks)
//	                     money_out_fen, money_in_fen  int: the net flow out
//	                         of (credits less debits) or into cash and bank
//	                         together, the other one 0; a move between cash
//	                         and bank nets to 0
//	                     source     string: the kind of the record a derived
//	                         voucher books ("transaction", "contract_payment",
//	                         …), "" for a voucher entered by hand
//	                     source_kind  int: TransactionKind of that
//	                         transaction, 0 for anything else
//	                     resolution_approved  bool: as for tx (VoucherFacts)
//
// A rule's expression may differ per kind (Exprs): CASH-PAY reads tx for a
// transaction and voucher for a voucher, under one code, one threshold and
// one floor; so may its action (Actions): BIG-SPEND blocks a transaction
// and warns on a hand voucher. What the books' vouchers are checked for,
// and which vouchers, is in RULES.md.
//
// A rule is type-checked once for every kind it applies to, against only that
// kind's variables, so a misspelt field or a variable of another kind is
// refused by Compile rather than at the accountant's desk. Enums are ints and
// are named without the package, e.g. PaymentMethod.PAYMENT_METHOD_CASH.
// Unset message fields read as empty messages (tx.counterparty.id_number is ""
// when there is no counterparty). The rule's parameters are `params`, a
// map(string, int): params.cash_limit_fen.
//
// # Helper functions
//
//	days_between(date1, date2 string) int
//	    Days from date1 to date2 (YYYY-MM-DD), negative if date2 is earlier:
//	    days_between("2026-01-31", "2026-02-01") == 1.
//	years_between(date1, date2 string) double
//	    Calendar years from date1 to date2: whole years, plus the rest as a
//	    fraction of the year that follows; exactly n on the n-th anniversary.
//	    Contract ends are inclusive, so a term's length is
//	    years_between(term_start, add_days(term_end, 1)).
//	add_days(date string, n int) string
//	    The date n days after date (n may be negative).
//	is_round(amount_fen, unit_fen int) bool
//	    Whether amount_fen is a whole multiple of unit_fen (> 0), e.g.
//	    is_round(tx.amount_fen, 1000000) for a round ten thousand yuan.
//	is_resident_id(s string) bool
//	    Whether s is a valid 18-character resident ID (GB 11643: check digit,
//	    province, birth date), i.e. the party is a person rather than an
//	    organisation with a unified social credit code.
//
// A malformed date makes the evaluation fail with an error naming the rule.
package rules

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/interpreter"

	"github.com/sanzi/sanzi/node/money"
)

// Severity says how serious a hit is and who hears of it: yellow goes to the
// village and the town, red to the town and the district.
type Severity string

// The severities a rule may have.
const (
	SeverityInfo   Severity = "info"
	SeverityYellow Severity = "yellow"
	SeverityRed    Severity = "red"
)

// Action says what a hit does to the entry: a warning lets it be recorded and
// raises an alert; a block refuses it at entry with the rule's reason.
type Action string

// The actions a rule may take.
const (
	ActionWarn  Action = "warn"
	ActionBlock Action = "block"
)

// RuleSetStatus is where a rule-set version stands at a node, as the API
// shows it (RuleSetSummary.status): drafted by one account, live once a
// second one published it, superseded when a later version went live; at a
// village or town the district's set under a live local set is its floor,
// and a local set that would weaken the floor is ignored.
type RuleSetStatus string

// The statuses of a rule-set version.
const (
	RuleSetDraft      RuleSetStatus = "draft"
	RuleSetLive       RuleSetStatus = "live"
	RuleSetSuperseded RuleSetStatus = "superseded"
	RuleSetFloor      RuleSetStatus = "floor"
	RuleSetIgnored    RuleSetStatus = "ignored"
)

// The entry kinds a rule may name in Applies.
const (
	KindTransaction       = "transaction"
	KindContract          = "contract"
	KindContractPayment   = "contract_payment"
	KindAssetDisposal     = "asset_disposal"
	KindAssetAppraisal    = "asset_appraisal"
	KindAssetRegistration = "asset_registration"
	KindVoucher           = "voucher"
)

// Rule is one supervision rule as the district publishes it.
type Rule struct {
	// Code identifies the rule in alerts, e.g. "CASH-PAY"; unique in a set.
	Code string `json:"code"`
	// Name is a short human title.
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Action   Action   `json:"action"`
	// Actions holds, for a kind of Applies, its own action in place of
	// Action: BIG-SPEND blocks a transaction that names no approved
	// resolution but, by default, only warns on a hand voucher, which
	// cannot name one.
	Actions map[string]Action `json:"actions,omitempty"`
	// Applies lists the entry kinds the rule looks at (the Kind constants).
	Applies []string `json:"applies"`
	// Expr is a CEL expression returning bool; true means the rule fires.
	Expr string `json:"expr"`
	// Exprs holds, for a kind of Applies, its own expression in place of
	// Expr: one rule (CASH-PAY) reads a transaction and a voucher, which
	// expose different variables, under one code and one set of params.
	Exprs map[string]string `json:"exprs,omitempty"`
	// Reason is the Chinese message shown to the accountant. {name} is
	// replaced by params[name]; {x_yuan} by params[x_fen] shown in yuan.
	Reason string `json:"reason"`
	// Params are the district's thresholds (fen, days, mu, percent), visible
	// in Expr as params.<name>. Names are lowercase letters, digits and _.
	Params map[string]int64 `json:"params"`
	// Basis is the legal or regulatory basis, for the alert's reader.
	Basis string `json:"basis"`
	// Stateful marks a rule that needs the node's history (SPLIT, ARREARS,
	// …): it is Go code registered under Code (package watch) and has no
	// Expr or Applies; the district still sets its severity, action,
	// reason and params here.
	Stateful bool `json:"stateful,omitempty"`
}

// ListItem is one party on a list the district or village keeps for the
// stateful rules: a committee member's relative (RELATIVE), a member of the
// collective (OUTSIDER), a budget line with its annual amount (OFF-BUDGET).
// A party matches on any of its identifiers that is set.
type ListItem struct {
	Name        string `json:"name,omitempty"`
	IDNumber    string `json:"id_number,omitempty"`
	Phone       string `json:"phone,omitempty"`
	BankAccount string `json:"bank_account,omitempty"`
	// AmountFen is the annual amount of a budget line.
	AmountFen int64 `json:"amount_fen,omitempty"`
	// Note says who the party is, e.g. "村主任张三之子", for the alert reader.
	Note string `json:"note,omitempty"`
}

// RuleSet is one published version of the rules; every hit carries Version
// so an alert can be traced to the rules that raised it.
type RuleSet struct {
	Version string `json:"version"`
	Rules   []Rule `json:"rules"`
	// Lists are the named lists stateful rules read: "relatives",
	// "members", "budget".
	Lists map[string][]ListItem `json:"lists,omitempty"`
}

// Hit is one rule that fired, with its evidence.
type Hit struct {
	Code     string
	Severity Severity
	Action   Action
	// Reason is the rule's reason with its parameters substituted.
	Reason         string
	RuleSetVersion string
	// Evidence holds the figures of the entry that rules of its kind look
	// at (fixed keys per kind, see the Check methods) and the rule's params.
	Evidence map[string]string
	// Subject is the entry id the hit is about, when it is about one;
	// stateful hits set it (an entry's own check leaves it to the caller).
	Subject string
	// Key identifies what the hit found, e.g. "ARREARS/<contract>/<due>/red",
	// so that a rule re-examining the books never raises it twice; empty for
	// hits about the entry being recorded (those happen once by nature).
	Key string
}

// Blocking returns the hits whose action is block, in order; the entry must
// be refused with their reasons if there is any.
func Blocking(hits []Hit) []Hit {
	var out []Hit
	for _, h := range hits {
		if h.Action == ActionBlock {
			out = append(out, h)
		}
	}
	return out
}

// Engine compiles a RuleSet once and evaluates entries against it. It is
// safe for concurrent use.
type Engine struct {
	version  string
	byKind   map[string][]compiled
	stateful []Rule
	set      RuleSet
}

// Version is the rule-set version every hit of the engine carries.
func (e *Engine) Version() string { return e.version }

// Stateful returns the set's stateful rules, for package watch to run.
func (e *Engine) Stateful() []Rule { return slices.Clone(e.stateful) }

// Set returns the rule set the engine was compiled from (lists included).
func (e *Engine) Set() RuleSet { return e.set }

// ActionFor is the action r takes on an entry of kind: its own for that
// kind (Actions), else Action.
func (r Rule) ActionFor(kind string) Action {
	if a, ok := r.Actions[kind]; ok {
		return a
	}
	return r.Action
}

// Reason is r's reason with its parameters substituted, as hits show it; an
// error names a placeholder no param provides.
func Reason(r Rule) (string, error) { return substitute(r.Reason, r.Params) }

// compiled is one rule made ready for one entry kind.
type compiled struct {
	rule   Rule
	reason string
	prg    cel.Program
	// small, when set, is prg without the cost limit, for a voucher of at
	// most smallLines lines: CEL's estimate shows no such voucher can
	// reach the limit (see linesOptions).
	small      cel.Program
	smallLines int
	// params binds the rule's params, converted for CEL once rather than
	// at every evaluation.
	params interpreter.Activation
}

var (
	paramName   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
)

// costLimit bounds one evaluation, so that a careless comprehension in a
// published rule cannot stall recording at every village.
const costLimit = 100_000

// Compile checks every rule of rs and prepares it for evaluation. It refuses
// the whole set on any problem, naming the rule code, since a half-loaded
// rule set would silently stop supervising.
func Compile(rs RuleSet) (*Engine, error) {
	envs, err := kindEnvs()
	if err != nil {
		return nil, err
	}
	e := &Engine{version: rs.Version, byKind: map[string][]compiled{}, set: rs}
	seen := map[string]bool{}
	var errs []error
	if strings.TrimSpace(rs.Version) == "" {
		errs = append(errs, errors.New("version is required: every hit records it"))
	}
	for i, r := range rs.Rules {
		name := r.Code
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		cs, err := compileRule(envs, r, seen)
		seen[r.Code] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", name, err))
			continue
		}
		if r.Stateful {
			e.stateful = append(e.stateful, r)
		}
		for k, c := range cs {
			e.byKind[k] = append(e.byKind[k], c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rules: rule set %q: %w", rs.Version, err)
	}
	return e, nil
}

func compileRule(envs map[string]*cel.Env, r Rule, seen map[string]bool) (map[string]compiled, error) {
	switch {
	case r.Code == "" || strings.ContainsAny(r.Code, " \t\n"):
		return nil, errors.New("code is required and must not contain spaces")
	case seen[r.Code]:
		return nil, errors.New("duplicate code")
	case r.Severity != SeverityInfo && r.Severity != SeverityYellow && r.Severity != SeverityRed:
		return nil, fmt.Errorf("severity %q: must be info, yellow or red", r.Severity)
	case r.Action != ActionWarn && r.Action != ActionBlock:
		return nil, fmt.Errorf("action %q: must be warn or block", r.Action)
	case strings.TrimSpace(r.Reason) == "":
		return nil, errors.New("reason is required: the accountant must be told why")
	case r.Stateful && (r.Expr != "" || len(r.Exprs) > 0 || len(r.Actions) > 0 || len(r.Applies) > 0):
		return nil, errors.New("a stateful rule is Go code: it has no expr or applies")
	case !r.Stateful && len(r.Applies) == 0:
		return nil, errors.New("applies is empty: name the entry kinds the rule looks at")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		if !paramName.MatchString(k) {
			return nil, fmt.Errorf("param %q: names are lowercase letters, digits and _", k)
		}
		if r.Params[k] < 0 {
			return nil, fmt.Errorf("param %s = %d: thresholds are never negative", k, r.Params[k])
		}
	}
	reason, err := substitute(r.Reason, r.Params)
	if err != nil {
		return nil, err
	}
	if r.Params == nil {
		r.Params = map[string]int64{} // a rule without params still sees an empty map
	}
	if r.Stateful {
		return nil, nil
	}
	for _, k := range slices.Sorted(maps.Keys(r.Exprs)) {
		if !slices.Contains(r.Applies, k) {
			return nil, fmt.Errorf("exprs: %s is not a kind the rule applies to (%s)", k, strings.Join(r.Applies, ", "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Actions)) {
		if !slices.Contains(r.Applies, k) {
			return nil, fmt.Errorf("actions: %s is not a kind the rule applies to (%s)", k, strings.Join(r.Applies, ", "))
		}
		if a := r.Actions[k]; a != ActionWarn && a != ActionBlock {
			return nil, fmt.Errorf("actions: %s: action %q: must be warn or block", k, a)
		}
	}
	out := map[string]compiled{}
	for _, k := range r.Applies {
		env, ok := envs[k]
		if !ok {
			return nil, fmt.Errorf("applies: unknown entry kind %q (one of %s)", k, strings.Join(slices.Sorted(maps.Keys(envs)), ", "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("applies: %s named twice", k)
		}
		expr := r.Expr
		if x, ok := r.Exprs[k]; ok {
			expr = x
		}
		if strings.TrimSpace(expr) == "" {
			return nil, fmt.Errorf("expression (as %s) is empty", k)
		}
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			return nil, fmt.Errorf("expression (as %s): %w", k, iss.Err())
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			return nil, fmt.Errorf("expression (as %s) returns %s, must return bool", k, ast.OutputType())
		}
		prg, err := env.Program(ast, costOptions(env, ast)...)
		if err != nil {
			return nil, fmt.Errorf("expression (as %s): %w", k, err)
		}
		params, err := interpreter.NewActivation(map[string]any{"params": env.CELTypeAdapter().NativeToValue(r.Params)})
		if err != nil {
			return nil, fmt.Errorf("params (as %s): %w", k, err)
		}
		c := compiled{rule: r, reason: reason, prg: prg, params: params}
		if k == KindVoucher {
			if c.smallLines = smallLines(env, ast); c.smallLines > 0 {
				if c.small, err = env.Program(ast); err != nil {
					return nil, fmt.Errorf("expression (as %s): %w", k, err)
				}
			}
		}
		out[k] = c
	}
	return out, nil
}

// costOptions bounds the evaluation of ast at costLimit, unless CEL's
// static estimate shows that no entry, however large its strings and
// lists, can make it cost more than that: then the limit could never
// stop it, and counting the cost of every step as it evaluates (half of
// an evaluation's allocations) is left out. An expression over a list
// (voucher.lines.exists) or a string search (contains) has no such bound
// and keeps the limit.
func costOptions(env *cel.Env, ast *cel.Ast) []cel.ProgramOption {
	if est, err := env.EstimateCost(ast, unsized{}); err == nil && est.Max <= costLimit {
		return nil
	}
	return []cel.ProgramOption{cel.CostLimit(costLimit)}
}

// smallLines is the most lines a voucher can have for CEL's static
// estimate of ast to stay within costLimit, 0 when that is none or when
// ast is unmetered anyway (costOptions). A voucher expression reads its
// lines in comprehensions (voucher.lines.exists), whose cost no entry-free
// estimate bounds; the lines a voucher can have are bounded
// (voucher.MaxLines), but at 5,000 lines the default rules are estimated
// at 115,000 to 350,000, over the limit. A voucher of at most smallLines
// lines, as nearly every voucher is (a derived voucher has two), cannot
// reach the limit, so it is evaluated without counting its cost (half of
// an evaluation's allocations); a longer one stays metered, and is stopped
// at the limit as before.
func smallLines(env *cel.Env, ast *cel.Ast) int {
	fits := func(n int) bool {
		est, err := env.EstimateCost(ast, linesSized(n))
		return err == nil && est.Max <= costLimit
	}
	if fits(math.MaxInt32) || !fits(1) {
		return 0
	}
	lo, hi := 1, math.MaxInt32 // fits(lo), !fits(hi)
	for hi-lo > 1 {
		if mid := lo + (hi-lo)/2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// linesSized is the cost estimator for a voucher of at most n lines: its
// lines and the roles of their accounts (one a line at most) are sized,
// everything else is unknown.
type linesSized int

func (n linesSized) EstimateSize(node checker.AstNode) *checker.SizeEstimate {
	switch p := node.Path(); {
	case len(p) == 2 && p[0] == "voucher" && p[1] == "lines", len(p) == 1 && p[0] == "roles":
		return &checker.SizeEstimate{Min: 0, Max: uint64(n)}
	}
	return nil
}
func (linesSized) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// unsized is the cost estimator that knows nothing of an entry's sizes:
// the estimate holds for every entry.
type unsized struct{}

func (unsized) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }
func (unsized) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// substitute fills the reason's placeholders; one naming no param is an
// error, so a typo never reaches an accountant as "{cash_limt_yuan}".
func substitute(tmpl string, params map[string]int64) (string, error) {
	var bad []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		if v, ok := params[name]; ok {
			return strconv.FormatInt(v, 10)
		}
		if base, ok := strings.CutSuffix(name, "_yuan"); ok {
			if v, ok := params[base+"_fen"]; ok {
				return strings.TrimSuffix(money.FormatFen(v), ".00")
			}
		}
		bad = append(bad, m)
		return m
	})
	if bad != nil {
		return "", fmt.Errorf("reason names %s, which no param provides", strings.Join(bad, ", "))
	}
	return out, nil
}

// check evaluates the rules of one kind on the entry's variables vars
// (each rule adds its params). An evaluation error (a malformed date, a
// missing param) is returned together with the hits of the other rules, so
// one broken rule never hides another's hit. The evidence is the entry's
// figures, made (once) only when a rule fires: most entries fire none.
func (e *Engine) check(kind string, vars map[string]any, evidence func() map[string]string) ([]Hit, error) {
	return e.checkSized(kind, -1, vars, evidence)
}

// checkSized is check for a voucher of lines lines (-1: not a voucher),
// which picks each rule's unmetered program when the voucher is small
// enough for it (compiled.small).
func (e *Engine) checkSized(kind string, lines int, vars map[string]any, evidence func() map[string]string) ([]Hit, error) {
	cs := e.byKind[kind]
	if len(cs) == 0 {
		return nil, nil
	}
	entry, err := interpreter.NewActivation(vars)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", kind, err)
	}
	var hits []Hit
	var errs []error
	var ev map[string]string
	for _, c := range cs {
		prg := c.prg
		if c.small != nil && lines >= 0 && lines <= c.smallLines {
			prg = c.small
		}
		out, _, err := prg.Eval(interpreter.NewHierarchicalActivation(entry, c.params))
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: rule %s on %s: %w", c.rule.Code, kind, err))
			continue
		}
		fired, ok := out.Value().(bool)
		if !ok {
			errs = append(errs, fmt.Errorf("rules: rule %s on %s: returned %v, not bool", c.rule.Code, kind, out))
			continue
		}
		if !fired {
			continue
		}
		if ev == nil {
			ev = evidence()
		}
		hitEv := maps.Clone(ev)
		for k, v := range c.rule.Params {
			if _, clash := hitEv[k]; clash {
				k = "params." + k // never hide the entry's own figure
			}
			hitEv[k] = strconv.FormatInt(v, 10)
		}
		hits = append(hits, Hit{
			Code: c.rule.Code, Severity: c.rule.Severity, Action: c.rule.ActionFor(kind),
			Reason: c.reason, RuleSetVersion: e.version, Evidence: hitEv,
		})
	}
	return hits, errors.Join(errs...)
}
