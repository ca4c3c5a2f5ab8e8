package authz

import (
	"regexp"
	"strings"
)

// Free text a person typed (a villager's complaint, a town's reply) may
// hold a resident ID, a phone or a bank account anywhere in it. The public
// pages show such text through MaskText: every run of seven or more digits
// (spaces and dashes inside a number allowed, a final X for a resident ID)
// keeps its first three and last two digits and stars the rest. Seven
// digits is a landline without its area code; amounts that long are rare
// in a village's complaint, and when in doubt a number is masked.
var digitRun = regexp.MustCompile(`[0-9０-９](?:[0-9０-９ \-－]*[0-9０-９])?[Xx]?`)

// minMaskedDigits is the shortest run of digits MaskText masks.
const minMaskedDigits = 7

// MaskText masks the personal numbers in s (see above); the rest of the
// text is kept as written.
func MaskText(s string) string {
	return digitRun.ReplaceAllStringFunc(s, func(run string) string {
		digits := 0
		for _, r := range run {
			if isDigit(r) || r == 'X' || r == 'x' {
				digits++
			}
		}
		if digits < minMaskedDigits {
			return run
		}
		var b strings.Builder
		seen := 0
		for _, r := range run {
			if !isDigit(r) && r != 'X' && r != 'x' {
				b.WriteRune(r)
				continue
			}
			seen++
			if seen <= 3 || seen > digits-2 {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
		}
		return b.String()
	})
}

func isDigit(r rune) bool { return (r >= '0' && r <= '9') || (r >= '０' && r <= '９') }
