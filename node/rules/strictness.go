package rules

// Direction says which way a rule's parameter is stricter, for the floor
// (floor.go): a village's or town's own set may move a parameter of the
// district's rule only that way.
type Direction int8

// The directions a parameter may have. Fixed is the zero value: a parameter
// nobody has said the direction of may not be changed below the district.
const (
	Fixed Direction = iota
	// LowerStricter: a lower value makes the rule fire sooner (an amount
	// limit, a number of days allowed).
	LowerStricter
	// HigherStricter: a higher value makes the rule fire sooner (a reserve
	// percentage, a window to look back over, a number of documents).
	HigherStricter
)

// Strictness says, for each rule of the default set (Default) and each of
// its params, which way is stricter; it is kept beside the defaults so a new
// param is given a direction where it is given a value. A rule or param the
// table does not name (a rule the district added) is Fixed: a local set may
// only repeat the district's value.
func Strictness() map[string]map[string]Direction {
	lo, hi := LowerStricter, HigherStricter
	return map[string]map[string]Direction{
		"CASH-PAY":     {"cash_limit_fen": lo},
		"NO-INVOICE":   {"no_invoice_min_fen": lo},
		"BIG-SPEND":    {"big_spend_fen": lo},
		"PRIVATE-ACCT": {"private_limit_fen": lo},
		"LEASE-20Y":    {"max_term_years": lo},
		"MUST-TRADE":   {"must_trade_value_fen": lo, "must_trade_area_mu": lo},
		"TENDER":       {"tender_works_fen": lo},
		"NO-APPRAISAL": {"appraisal_min_fen": lo},
		// A sale below reserve_percent of the appraisal fires: a higher
		// percentage fires on more sales.
		"UNDERPRICE": {"reserve_percent": hi},
		// Payments within window_days are summed: a longer window catches
		// more splits; a lower threshold too.
		"SPLIT":       {"window_days": hi, "split_threshold_fen": lo},
		"HOSPITALITY": {"hospitality_cap_fen": lo},
		"NON-PROD":    {"non_prod_percent": lo, "non_prod_min_fen": lo},
		// Red above this overrun: a lower percentage turns red sooner.
		"OFF-BUDGET":     {"over_budget_red_percent": lo},
		"CASH-STOCK":     {"cash_limit_fen": lo, "red_after_days": lo},
		"CASH-DEPOSIT":   {"deposit_days": lo},
		"ADVANCE":        {"yellow_days": lo, "red_days": lo},
		"ARREARS":        {"warning_days": lo, "yellow_days": lo, "red_days": lo, "red_amount_fen": lo},
		"EXPIRING":       {"yellow_days": hi, "red_days": hi}, // warns that many days before the end: earlier is stricter
		"BANK-REC":       {"due_day": lo},
		"DISCLOSE-LATE":  {"due_day": lo, "red_after_days": lo},
		"COMPLAINT-LATE": {"reply_days": lo},
		// A smaller tolerance fires on smaller wrong-side balances; an
		// earlier day closes the books sooner.
		"BOOKS-WRONG-SIDE": {"tolerance_fen": lo},
		"BOOKS-CLOSE-LATE": {"due_day": lo},
		// More attachments required is stricter.
		"OUTSIDER": {"min_attachments": hi},
	}
}

// severityRank orders severities; a local set may raise a rule's, never
// lower it.
func severityRank(s Severity) int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityYellow:
		return 2
	case SeverityRed:
		return 3
	}
	return 0
}

// actionRank orders actions: block is stricter than warn.
func actionRank(a Action) int {
	if a == ActionBlock {
		return 2
	}
	return 1
}
