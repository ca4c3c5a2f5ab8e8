// Package voucher judges and derives the collective's accounting vouchers
// (记账凭证) on the chart in force: the checks every voucher passes before
// it is recorded, the voucher a transaction, contract payment, asset
// appraisal or disposal books, and the red-ink voucher (红字冲销) that
// reverses a recorded one. It holds no state: numbering, closed months and
// the chain are node/books'.
package voucher

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// FieldError refuses a voucher for one of its fields. node/books turns it
// into its InvalidError (InvalidArgument with the field violation): this
// package cannot return that type itself, since the books import it.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

var orgCode = regexp.MustCompile(`^[0-9]{12}$`)

// Month is the period (YYYY-MM) of a business date already validated.
func Month(businessDate string) string {
	if len(businessDate) < 7 {
		return ""
	}
	return businessDate[:7]
}

// Bounds on what a voucher carries, so that no request makes the node
// hold or sum more than a village's books need: the opening balances of a
// village with a line per counterparty fit in MaxLines, and MaxLines lines
// of at most MaxAmountFen each sum far below int64's range.
const (
	MaxLines       = 5000
	MaxAttachments = 50
	MaxAmountFen   = 1_000_000_000_000 // 10 billion yuan
	maxText        = 500               // bytes of a summary, counterparty, project, asset code or attachment
)

// Validate checks v against ch as the node records it: org, date, summary,
// at least two and at most MaxLines lines, bounded text, each on a leaf account of ch with exactly one side
// set, positive (all negative on a red-ink reversal), carrying the
// subsidiary detail its account requires, and debits equal to credits.
// Field names are those of RecordVoucherRequest ("voucher.lines[1].account").
func Validate(ch *chart.Chart, v *sanziv1.Voucher) error { return validate(ch, v, false) }

// ValidateImported is Validate for a voucher read from another system's
// books (BooksService.ImportBooks): there a red-ink correction (红字凭证)
// is a voucher of its own whose every amount is negative, and the voucher
// it corrects, if the sheet holds it at all, is not known by an entry id.
// So a voucher with no reverses_voucher_id whose lines are all negative is
// taken as such a correction (still balanced, on leaf accounts, with its
// subsidiary detail); a voucher mixing positive and negative lines is
// refused as by Validate.
func ValidateImported(ch *chart.Chart, v *sanziv1.Voucher) error {
	return validate(ch, v, !v.GetOpening() && allNegative(v))
}

func allNegative(v *sanziv1.Voucher) bool {
	for _, l := range v.GetLines() {
		if l.GetDebitFen()+l.GetCreditFen() >= 0 {
			return false
		}
	}
	return len(v.GetLines()) > 0
}

// validate is Validate; redInk takes v as a red-ink voucher though it
// names no voucher it reverses.
func validate(ch *chart.Chart, v *sanziv1.Voucher, redInk bool) error {
	const root = "voucher."
	if !orgCode.MatchString(v.GetOrg()) {
		return invalid(root+"org", "%q is not a 12-digit org code", v.GetOrg())
	}
	if _, err := time.Parse(time.DateOnly, v.GetBusinessDate()); err != nil {
		return invalid(root+"businessDate", "%q is not a date YYYY-MM-DD", v.GetBusinessDate())
	}
	if strings.TrimSpace(v.GetSummary()) == "" {
		return invalid(root+"summary", "required (摘要)")
	}
	if len(v.GetSummary()) > maxText {
		return invalid(root+"summary", "longer than %d bytes", maxText)
	}
	if len(v.GetLines()) < 2 {
		return invalid(root+"lines", "%d line(s): a voucher has at least one debit and one credit line", len(v.GetLines()))
	}
	if len(v.GetLines()) > MaxLines {
		return invalid(root+"lines", "%d lines, more than %d: split the voucher", len(v.GetLines()), MaxLines)
	}
	if len(v.GetAttachments()) > MaxAttachments {
		return invalid(root+"attachments", "%d attachments, more than %d", len(v.GetAttachments()), MaxAttachments)
	}
	for i, a := range v.GetAttachments() {
		if len(a) > maxText {
			return invalid(fmt.Sprintf("%sattachments[%d]", root, i), "longer than %d bytes", maxText)
		}
	}
	red := v.GetReversesVoucherId() != "" || redInk
	if red && v.GetOpening() {
		return invalid(root+"opening", "the opening balances are not reversed in red ink: enter a correcting voucher")
	}
	var debits, credits int64
	for i, l := range v.GetLines() {
		f := fmt.Sprintf("%slines[%d].", root, i)
		a, ok := ch.Account(l.GetAccount())
		if !ok {
			return invalid(f+"account", "%q is no account of the chart in force", l.GetAccount())
		}
		if !ch.Leaf(a.GetCode()) {
			return invalid(f+"account", "%s %s has sub-accounts: post to one of them", a.GetCode(), a.GetName())
		}
		d, c := l.GetDebitFen(), l.GetCreditFen()
		if (d == 0) == (c == 0) {
			return invalid(f+"debitFen", "exactly one of debitFen and creditFen is set on a line")
		}
		amt := d + c
		switch {
		case red && amt >= 0:
			return invalid(f+amountField(d), "a red-ink reversal has every amount negative")
		case !red && amt <= 0:
			return invalid(f+amountField(d), "must be positive (a correction is a red-ink reversal of the voucher)")
		}
		if amt > MaxAmountFen || amt < -MaxAmountFen {
			return invalid(f+amountField(d), "more than 10 billion yuan")
		}
		for _, t := range [...]struct{ name, text string }{{"summary", l.GetSummary()}, {"counterparty", l.GetCounterparty()}, {"project", l.GetProject()}, {"assetCode", l.GetAssetCode()}} {
			if len(t.text) > maxText {
				return invalid(f+t.name, "longer than %d bytes", maxText)
			}
		}
		for _, k := range a.GetSubsidiary() {
			if missing := subsidiaryMissing(l, k); missing != "" {
				return invalid(f+missing, "%s %s keeps subsidiary detail: the line names its %s", a.GetCode(), a.GetName(), missing)
			}
		}
		debits += d
		credits += c
	}
	if debits != credits {
		return invalid(root+"lines", "%s", Imbalance(debits, credits))
	}
	return nil
}

func amountField(debit int64) string {
	if debit != 0 {
		return "debitFen"
	}
	return "creditFen"
}

func subsidiaryMissing(l *sanziv1.VoucherLine, k sanziv1.SubsidiaryKind) string {
	switch k {
	case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_COUNTERPARTY:
		if strings.TrimSpace(l.GetCounterparty()) == "" {
			return "counterparty"
		}
	case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_PROJECT:
		if strings.TrimSpace(l.GetProject()) == "" {
			return "project"
		}
	case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_ASSET:
		if strings.TrimSpace(l.GetAssetCode()) == "" {
			return "assetCode"
		}
	}
	return ""
}

// Imbalance says by how much debits and credits differ, in yuan:
// "debits 1,200.00 exceed credits 1,000.00 by 200.00".
func Imbalance(debits, credits int64) string {
	if debits > credits {
		return fmt.Sprintf("debits %s exceed credits %s by %s", money.FormatFen(debits), money.FormatFen(credits), money.FormatFen(debits-credits))
	}
	return fmt.Sprintf("credits %s exceed debits %s by %s", money.FormatFen(credits), money.FormatFen(debits), money.FormatFen(credits-debits))
}

// Totals are the sums of a voucher's debit and credit lines.
func Totals(v *sanziv1.Voucher) (debits, credits int64) {
	for _, l := range v.GetLines() {
		debits += l.GetDebitFen()
		credits += l.GetCreditFen()
	}
	return debits, credits
}

// ErrNoVoucher: the record books no voucher under the chart (no mapping, or
// its category names no account); it is recorded without one, and its
// month cannot close until a hand voucher names it.
var ErrNoVoucher = errors.New("the chart gives no voucher for this record")

// FromTransaction is the voucher transaction t, recorded as entryID, books
// under ch: one debit and one credit line of its amount on the accounts of
// the first mapping that matches, the summary and counterparty its own.
// An error wrapping ErrNoVoucher means the chart maps it to nothing.
func FromTransaction(ch *chart.Chart, t *sanziv1.Transaction, entryID string) (*sanziv1.Voucher, error) {
	debit, credit, err := ch.Map(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, t.GetKind(), t.GetPaymentMethod(), t.GetCategory())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoVoucher, err)
	}
	return derived(ch, t.GetOrg(), t.GetBusinessDate(), t.GetSummary(), t.GetCounterparty().GetName(), t.GetAmountFen(), debit, credit, entryID), nil
}

// FromContractPayment is the voucher contract payment p, recorded as
// entryID, books under ch. counterparty is the contract's party, for the
// lines whose account keeps it.
func FromContractPayment(ch *chart.Chart, p *sanziv1.ContractPayment, counterparty, entryID string) (*sanziv1.Voucher, error) {
	debit, credit, err := ch.Map(sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, 0, p.GetPaymentMethod(), "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoVoucher, err)
	}
	summary := "合同收款"
	if p.GetPeriod() != "" {
		summary += " " + p.GetPeriod()
	}
	if counterparty != "" {
		summary += " " + counterparty
	}
	return derived(ch, p.GetOrg(), p.GetBusinessDate(), summary, counterparty, p.GetAmountFen(), debit, credit, entryID), nil
}

func derived(ch *chart.Chart, org, date, summary, party string, amount int64, debit, credit, entryID string) *sanziv1.Voucher {
	return &sanziv1.Voucher{
		Org: org, BusinessDate: date, Summary: summary, SourceEntryId: entryID,
		Lines: []*sanziv1.VoucherLine{line(ch, debit, amount, 0, party, ""), line(ch, credit, 0, amount, party, "")},
	}
}

// line is a derived voucher line, with the subsidiary detail its account
// keeps that the record has: the counterparty, the asset's register code.
func line(ch *chart.Chart, account string, d, c int64, party, assetCode string) *sanziv1.VoucherLine {
	l := &sanziv1.VoucherLine{Account: account, DebitFen: d, CreditFen: c}
	if a, ok := ch.Account(account); ok {
		for _, k := range a.GetSubsidiary() {
			switch k {
			case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_COUNTERPARTY:
				l.Counterparty = party
			case sanziv1.SubsidiaryKind_SUBSIDIARY_KIND_ASSET:
				l.AssetCode = assetCode
			}
		}
	}
	return l
}

// FromAssetDisposal is the voucher disposal d of asset a, recorded as
// entryID, books under ch: the price debited to the mapping's debit
// account, the asset's book value (bookFen: its original value, or the
// value its latest booked appraisal set) credited to its credit account,
// and the difference credited to its gain account or debited to its loss
// account; a line of zero is left out, so a sale at book value has two
// lines and a scrapping for nothing two. The asset's category is the
// category the mapping matches. An error wrapping ErrNoVoucher means the
// chart maps it to nothing, or there is nothing to book (no price and no
// book value).
func FromAssetDisposal(ch *chart.Chart, d *sanziv1.AssetDisposal, a *sanziv1.AssetRegistration, bookFen int64, entryID string) (*sanziv1.Voucher, error) {
	acc, err := ch.MapAccounts(sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, 0, d.GetPaymentMethod(), a.GetCategory())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoVoucher, err)
	}
	price := d.GetPriceFen()
	if price == 0 && bookFen == 0 {
		return nil, fmt.Errorf("%w: neither a price nor a book value to book", ErrNoVoucher)
	}
	party, code := d.GetCounterparty().GetName(), a.GetAssetCode()
	v := &sanziv1.Voucher{Org: d.GetOrg(), BusinessDate: d.GetDisposalDate(), SourceEntryId: entryID,
		Summary: fmt.Sprintf("%s固定资产 %s（%s）", disposalVerb(d.GetMethod()), a.GetName(), code)}
	if price > 0 {
		v.Lines = append(v.Lines, line(ch, acc.Debit, price, 0, party, code))
	}
	if loss := bookFen - price; loss > 0 {
		l := line(ch, acc.Loss, loss, 0, party, code)
		l.Summary = "处置固定资产净损失"
		v.Lines = append(v.Lines, l)
	}
	if bookFen > 0 {
		v.Lines = append(v.Lines, line(ch, acc.Credit, 0, bookFen, party, code))
	}
	if gain := price - bookFen; gain > 0 {
		l := line(ch, acc.Gain, 0, gain, party, code)
		l.Summary = "处置固定资产净收益"
		v.Lines = append(v.Lines, l)
	}
	return v, nil
}

func disposalVerb(m sanziv1.DisposalMethod) string {
	switch m {
	case sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE:
		return "出售"
	case sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP:
		return "报废"
	case sanziv1.DisposalMethod_DISPOSAL_METHOD_TRANSFER:
		return "转让"
	}
	return "处置"
}

// FromAssetAppraisal is the voucher appraisal p of asset a, recorded as
// entryID, books under ch: the change from the asset's book value before
// it (bookFen) to the appraised value, on the mapping's debit account (the
// asset's) and its gain account (an increase) or loss account (a
// decrease). An error wrapping ErrNoVoucher means the chart maps it to
// nothing or the appraisal leaves the book value as it was.
func FromAssetAppraisal(ch *chart.Chart, p *sanziv1.AssetAppraisal, a *sanziv1.AssetRegistration, bookFen int64, entryID string) (*sanziv1.Voucher, error) {
	acc, err := ch.MapAccounts(sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, 0, 0, a.GetCategory())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoVoucher, err)
	}
	change := p.GetAppraisedValueFen() - bookFen
	code := a.GetAssetCode()
	v := &sanziv1.Voucher{Org: p.GetOrg(), BusinessDate: p.GetAppraisalDate(), SourceEntryId: entryID}
	switch {
	case change > 0:
		v.Summary = fmt.Sprintf("资产评估增值 %s（%s）", a.GetName(), code)
		v.Lines = []*sanziv1.VoucherLine{line(ch, acc.Debit, change, 0, "", code), line(ch, acc.Gain, 0, change, "", code)}
	case change < 0:
		v.Summary = fmt.Sprintf("资产评估减值 %s（%s）", a.GetName(), code)
		v.Lines = []*sanziv1.VoucherLine{line(ch, acc.Loss, -change, 0, "", code), line(ch, acc.Debit, 0, -change, "", code)}
	default:
		return nil, fmt.Errorf("%w: the appraised value is the book value", ErrNoVoucher)
	}
	return v, nil
}

// Reverse is the red-ink voucher that reverses orig on date: the same
// accounts and subsidiary detail with every amount negated, its summary
// naming the voucher and why, reverses_voucher_id set.
func Reverse(orig *sanziv1.VoucherRecord, date, reason string) *sanziv1.Voucher {
	o := orig.GetVoucher()
	v := &sanziv1.Voucher{
		Org: o.GetOrg(), BusinessDate: date,
		Summary:           fmt.Sprintf("冲销 %s 记字第%d号：%s", Month(o.GetBusinessDate()), o.GetNumber(), reason),
		ReversesVoucherId: orig.GetEntry().GetId(),
	}
	for _, l := range o.GetLines() {
		v.Lines = append(v.Lines, &sanziv1.VoucherLine{
			Account: l.GetAccount(), DebitFen: -l.GetDebitFen(), CreditFen: -l.GetCreditFen(),
			Summary: l.GetSummary(), Counterparty: l.GetCounterparty(), Project: l.GetProject(), AssetCode: l.GetAssetCode(),
		})
	}
	return v
}
