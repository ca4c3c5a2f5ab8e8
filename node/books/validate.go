package books

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Violation names one field of a request and why it was refused. Field is
// the path in the JSON names of the API, e.g. "transaction.amountFen".
type Violation struct {
	Field  string
	Reason string
}

// InvalidError refuses a request because of what it says, before anything is
// stored. The API maps it to InvalidArgument (HTTP 400) with every violation.
type InvalidError struct {
	Violations []Violation
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Reason
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// ConflictError refuses a request that is well formed but cannot apply to the
// books as they stand (an entry reversed twice, an asset already disposed).
// The API maps it to FailedPrecondition.
type ConflictError struct {
	Field  string
	Reason string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Reason }

// Limits of what the books accept; the district may tighten them later.
const (
	// MaxAmountFen is 10 billion yuan: more is a typo, not a village's business.
	MaxAmountFen = 1_000_000_000_000
	maxText      = 500
	maxShortText = 64
)

// Validator checks requests against what the books accept. Its clock decides
// what "the future" is.
type Validator struct {
	// Served are the org codes this node records for.
	Served []string
	// Now is the clock; dates more than a day past it are refused.
	Now func() time.Time
}

// check runs body over a request whose payload sits under root (its JSON
// name); a missing payload or author is a violation like any other.
func (v *Validator) check(author, root string, present bool, body func(c *checker, f string)) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()
	c := &checker{v: v, today: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
	c.author(author)
	if !present {
		c.add(root, "required")
		return c.err()
	}
	body(c, root+".")
	return c.err()
}

// checker collects violations for one request.
type checker struct {
	v     *Validator
	today time.Time
	out   []Violation
}

func (c *checker) err() error {
	if len(c.out) == 0 {
		return nil
	}
	return &InvalidError{Violations: c.out}
}

func (c *checker) add(field, format string, a ...any) {
	c.out = append(c.out, Violation{Field: field, Reason: fmt.Sprintf(format, a...)})
}

func (c *checker) text(field, s string, required bool, max int) {
	switch n := utf8.RuneCountInString(strings.TrimSpace(s)); {
	case n == 0 && required:
		c.add(field, "required")
	case n > max:
		c.add(field, "is %d characters long; at most %d", n, max)
	case !utf8.ValidString(s):
		c.add(field, "is not valid UTF-8")
	}
}

func (c *checker) org(field, code string) {
	if code == "" {
		c.add(field, "required: the 12-digit org code of the collective")
		return
	}
	if _, err := idcode.OrgCode(code); err != nil {
		c.add(field, "%v", err)
		return
	}
	if !idcode.Serves(c.v.Served, code) {
		c.add(field, "org %s is not served by this node (it serves %s)", code, strings.Join(c.v.Served, ", "))
	}
}

// date checks a YYYY-MM-DD date between January 1 of fromYear and tomorrow.
func (c *checker) date(field, s string, required bool, fromYear int) (time.Time, bool) {
	from := time.Date(fromYear, 1, 1, 0, 0, 0, 0, time.UTC)
	if s == "" {
		if required {
			c.add(field, "required (YYYY-MM-DD)")
		}
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		c.add(field, "%q is not a date in the form YYYY-MM-DD", s)
		return time.Time{}, false
	}
	if d.Before(from) {
		c.add(field, "%s is before %s", s, from.Format(time.DateOnly))
		return d, false
	}
	if max := c.today.AddDate(0, 0, 1); d.After(max) {
		c.add(field, "%s is in the future (latest accepted %s)", s, max.Format(time.DateOnly))
		return d, false
	}
	return d, true
}

// futureDate checks a YYYY-MM-DD date that may lie ahead (contract terms,
// schedules), up to 70 years.
func (c *checker) futureDate(field, s string, required bool) (time.Time, bool) {
	if s == "" {
		if required {
			c.add(field, "required (YYYY-MM-DD)")
		}
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		c.add(field, "%q is not a date in the form YYYY-MM-DD", s)
		return time.Time{}, false
	}
	if d.Year() < 1950 || d.After(c.today.AddDate(70, 0, 0)) {
		c.add(field, "%s is outside 1950 to 70 years from today", s)
		return d, false
	}
	return d, true
}

func (c *checker) amount(field string, v int64, zeroOK bool) {
	switch {
	case v < 0:
		c.add(field, "must not be negative (a correction is a reversal, not a negative amount)")
	case v == 0 && !zeroOK:
		c.add(field, "must be greater than 0 (amounts are in fen)")
	case v > MaxAmountFen:
		c.add(field, "%d fen is over the limit of %d fen", v, int64(MaxAmountFen))
	}
}

func (c *checker) enum(field string, e protoreflect.Enum) {
	n := e.Number()
	if n == 0 {
		c.add(field, "required: one of %s", enumNames(e))
		return
	}
	if e.Descriptor().Values().ByNumber(n) == nil {
		c.add(field, "unknown value %d: one of %s", n, enumNames(e))
	}
}

func enumNames(e protoreflect.Enum) string {
	vals := e.Descriptor().Values()
	var names []string
	for i := 1; i < vals.Len(); i++ {
		names = append(names, string(vals.Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

func (c *checker) counterparty(field string, cp *sanziv1.Counterparty, required bool) {
	if cp == nil {
		if required {
			c.add(field+".name", "required: who the other side is")
		}
		return
	}
	c.text(field+".name", cp.GetName(), required, maxShortText*2)
	if id := cp.GetIdNumber(); id != "" {
		if err := idcode.PartyID(id, c.today); err != nil {
			c.add(field+".idNumber", "%v", err)
		}
	}
	if acct := cp.GetBankAccount(); acct != "" {
		if len(acct) < 8 || len(acct) > 30 || strings.Trim(acct, "0123456789") != "" {
			c.add(field+".bankAccount", "must be 8 to 30 digits")
		}
	}
	c.text(field+".bankName", cp.GetBankName(), false, maxShortText*2)
	c.text(field+".phone", cp.GetPhone(), false, 32)
}

func (c *checker) attachments(field string, list []string) {
	seen := map[string]bool{}
	for i, h := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !attach.ValidHash(h):
			c.add(f, "%q is not a SHA-256 in lowercase hex (64 characters)", h)
		case seen[h]:
			c.add(f, "%s is named twice", h)
		}
		seen[h] = true
	}
}

func (c *checker) entryID(field, id string) {
	if id == "" {
		c.add(field, "required: the id of an entry, <origin>-<seq>")
		return
	}
	if _, _, err := ledger.ParseEntryID(id); err != nil {
		c.add(field, "%v", err)
	}
}

func (c *checker) author(a string) {
	c.text("author", a, true, maxShortText)
}

// Business dates are accepted from 2000 on: older books are not kept here.
const (
	firstBusinessYear = 2000
	firstAssetYear    = 1949
)

// Transaction checks a transaction and who records it.
func (v *Validator) Transaction(author string, t *sanziv1.Transaction) error {
	return v.check(author, "transaction", t != nil, func(c *checker, f string) {
		c.org(f+"org", t.GetOrg())
		c.enum(f+"kind", t.GetKind())
		c.amount(f+"amountFen", t.GetAmountFen(), false)
		c.enum(f+"paymentMethod", t.GetPaymentMethod())
		c.counterparty(f+"counterparty", t.GetCounterparty(), true)
		c.date(f+"businessDate", t.GetBusinessDate(), true, firstBusinessYear)
		c.text(f+"summary", t.GetSummary(), true, maxText)
		c.text(f+"voucherNumber", t.GetVoucherNumber(), false, maxShortText)
		c.text(f+"budgetLine", t.GetBudgetLine(), false, maxShortText)
		c.text(f+"category", t.GetCategory(), false, maxShortText)
		code, num := t.GetInvoiceCode(), t.GetInvoiceNumber()
		switch {
		case code != "" && num == "":
			c.add(f+"invoiceNumber", "required when invoiceCode is given")
		case code != "" && (len(code) < 10 || len(code) > 12 || strings.Trim(code, "0123456789") != ""):
			c.add(f+"invoiceCode", "must be 10 to 12 digits")
		}
		if num != "" && (len(num) < 8 || len(num) > 20 || strings.Trim(num, "0123456789") != "") {
			c.add(f+"invoiceNumber", "must be 8 to 20 digits")
		}
		c.attachments(f+"attachments", t.GetAttachments())
	})
}

// Contract checks a contract.
func (v *Validator) Contract(author string, k *sanziv1.Contract) error {
	return v.check(author, "contract", k != nil, func(c *checker, f string) {
		c.org(f+"org", k.GetOrg())
		c.enum(f+"kind", k.GetKind())
		c.text(f+"contractNumber", k.GetContractNumber(), true, maxShortText)
		c.counterparty(f+"counterparty", k.GetCounterparty(), true)
		if o := k.GetObject(); o == nil {
			c.add(f+"object", "required: the parcel, resource or asset under contract")
		} else {
			c.enum(f+"object.kind", o.GetKind())
			c.text(f+"object.objectId", o.GetObjectId(), true, maxShortText)
			switch a := o.GetAreaMu(); {
			case a < 0 || a != a:
				c.add(f+"object.areaMu", "must be 0 or more")
			case a == 0 && o.GetKind() == sanziv1.ObjectKind_OBJECT_KIND_LAND:
				c.add(f+"object.areaMu", "required for land (area in mu)")
			case a > 1e7:
				c.add(f+"object.areaMu", "%.0f mu is more than any village has", a)
			}
			c.text(f+"object.location", o.GetLocation(), false, maxText)
		}
		start, okS := c.futureDate(f+"termStart", k.GetTermStart(), true)
		end, okE := c.futureDate(f+"termEnd", k.GetTermEnd(), true)
		if okS && okE && !end.After(start) {
			c.add(f+"termEnd", "%s is not after termStart %s", k.GetTermEnd(), k.GetTermStart())
		}
		c.amount(f+"annualAmountFen", k.GetAnnualAmountFen(), false)
		for i, p := range k.GetSchedule() {
			pf := fmt.Sprintf("%sschedule[%d].", f, i)
			c.futureDate(pf+"dueDate", p.GetDueDate(), true)
			c.amount(pf+"amountFen", p.GetAmountFen(), false)
		}
		c.enum(f+"awardMethod", k.GetAwardMethod())
		c.date(f+"signedDate", k.GetSignedDate(), true, firstBusinessYear)
		c.attachments(f+"attachments", k.GetAttachments())
		c.text(f+"summary", k.GetSummary(), false, maxText)
	})
}

// ContractPayment checks a payment against a contract.
func (v *Validator) ContractPayment(author string, p *sanziv1.ContractPayment) error {
	return v.check(author, "payment", p != nil, func(c *checker, f string) {
		c.org(f+"org", p.GetOrg())
		c.entryID(f+"contractId", p.GetContractId())
		c.amount(f+"amountFen", p.GetAmountFen(), false)
		c.enum(f+"paymentMethod", p.GetPaymentMethod())
		c.date(f+"businessDate", p.GetBusinessDate(), true, firstBusinessYear)
		c.text(f+"period", p.GetPeriod(), false, maxShortText)
		c.text(f+"voucherNumber", p.GetVoucherNumber(), false, maxShortText)
		c.attachments(f+"attachments", p.GetAttachments())
	})
}

// AssetRegistration checks a registration.
func (v *Validator) AssetRegistration(author string, a *sanziv1.AssetRegistration) error {
	return v.check(author, "asset", a != nil, func(c *checker, f string) {
		c.org(f+"org", a.GetOrg())
		c.text(f+"assetCode", a.GetAssetCode(), true, maxShortText)
		if strings.ContainsAny(a.GetAssetCode(), " \t\n") {
			c.add(f+"assetCode", "must not contain spaces")
		}
		c.text(f+"name", a.GetName(), true, maxShortText*2)
		c.text(f+"category", a.GetCategory(), false, maxShortText)
		c.amount(f+"originalValueFen", a.GetOriginalValueFen(), false)
		c.date(f+"acquiredDate", a.GetAcquiredDate(), true, firstAssetYear)
		c.text(f+"location", a.GetLocation(), false, maxText)
		c.attachments(f+"attachments", a.GetAttachments())
	})
}

// AssetAppraisal checks an appraisal.
func (v *Validator) AssetAppraisal(author string, a *sanziv1.AssetAppraisal) error {
	return v.check(author, "appraisal", a != nil, func(c *checker, f string) {
		c.org(f+"org", a.GetOrg())
		c.entryID(f+"assetId", a.GetAssetId())
		c.amount(f+"appraisedValueFen", a.GetAppraisedValueFen(), false)
		c.text(f+"appraiser", a.GetAppraiser(), true, maxShortText*2)
		c.date(f+"appraisalDate", a.GetAppraisalDate(), true, firstBusinessYear)
		if a.GetReportAttachment() == "" {
			c.add(f+"reportAttachment", "required: upload the appraisal report first")
		} else {
			c.attachments(f+"reportAttachment", []string{a.GetReportAttachment()})
		}
	})
}

// AssetDisposal checks a disposal.
func (v *Validator) AssetDisposal(author string, d *sanziv1.AssetDisposal) error {
	return v.check(author, "disposal", d != nil, func(c *checker, f string) {
		c.org(f+"org", d.GetOrg())
		c.entryID(f+"assetId", d.GetAssetId())
		c.enum(f+"method", d.GetMethod())
		sale := d.GetMethod() == sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE
		c.amount(f+"priceFen", d.GetPriceFen(), !sale)
		c.counterparty(f+"counterparty", d.GetCounterparty(), d.GetMethod() != sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP)
		c.date(f+"disposalDate", d.GetDisposalDate(), true, firstBusinessYear)
		c.text(f+"reason", d.GetReason(), false, maxText)
		c.attachments(f+"attachments", d.GetAttachments())
		if d.GetPaymentMethod() != 0 {
			c.enum(f+"paymentMethod", d.GetPaymentMethod())
		}
	})
}

// Reversal checks a reversal.
func (v *Validator) Reversal(author string, r *sanziv1.Reversal) error {
	return v.check(author, "reversal", r != nil, func(c *checker, f string) {
		c.org(f+"org", r.GetOrg())
		c.entryID(f+"targetId", r.GetTargetId())
		c.text(f+"reason", r.GetReason(), true, maxText)
	})
}

// AlertTransition checks one step of an alert's review.
func (v *Validator) AlertTransition(author string, tr *sanziv1.AlertTransition) error {
	return v.check(author, "transition", tr != nil, func(c *checker, f string) {
		c.org(f+"org", tr.GetOrg())
		c.entryID(f+"alertId", tr.GetAlertId())
		c.enum(f+"status", tr.GetStatus())
		if tr.GetStatus() == sanziv1.AlertStatus_ALERT_STATUS_OPEN {
			c.add(f+"status", "an alert is opened by its rule, not by a person")
		}
		needReason := tr.GetStatus() == sanziv1.AlertStatus_ALERT_STATUS_DISMISSED || tr.GetStatus() == sanziv1.AlertStatus_ALERT_STATUS_RESOLVED
		c.text(f+"reason", tr.GetReason(), needReason, maxText)
		c.nodeOnly(f+"parentDecisionId", tr.GetParentDecisionId())
	})
}

// Procedure checks a procedure opened by hand (a complaint, a disclosure, a
// bank reconciliation); the catalog checks the matter and the period.
func (v *Validator) Procedure(author string, p *sanziv1.Procedure) error {
	return v.check(author, "procedure", p != nil, func(c *checker, f string) {
		c.org(f+"org", p.GetOrg())
		c.text(f+"matterCode", p.GetMatterCode(), true, maxShortText)
		c.text(f+"summary", p.GetSummary(), true, maxText)
		c.amount(f+"amountFen", p.GetAmountFen(), true)
		if p.GetSubjectId() != "" {
			c.entryID(f+"subjectId", p.GetSubjectId())
		}
	})
}

// StepDecision checks the form of a decision; the workflow checks that it is
// the open step's and the post's.
func (v *Validator) StepDecision(author string, d *sanziv1.StepDecision) error {
	return v.check(author, "decision", d != nil, func(c *checker, f string) {
		c.entryID(f+"procedureId", d.GetProcedureId())
		c.text(f+"stepCode", d.GetStepCode(), true, maxShortText)
		c.text(f+"post", d.GetPost(), true, maxShortText)
		c.enum(f+"action", d.GetAction())
		c.text(f+"reason", d.GetReason(), false, maxText)
		c.attachments(f+"attachments", d.GetAttachments())
		c.nodeOnly(f+"parentDecisionId", d.GetParentDecisionId())
		if d.GetDisclosure() != nil {
			c.add(f+"disclosure", "set by the village node from its chain when a disclosure is approved; a caller may not set it")
		}
	})
}

// nodeOnly refuses a field only the node sets: the town decision a
// village's entry applies is named by the village itself as it applies it,
// never by a caller (one that named any would keep the town's real
// decision from ever being applied).
func (c *checker) nodeOnly(field, v string) {
	if v != "" {
		c.add(field, "set by the node when it applies its town's decision; a caller may not set it")
	}
}

// Author checks the author of a request that has no payload to check here.
func (v *Validator) Author(author string) error {
	return v.check(author, "", true, func(*checker, string) {})
}
