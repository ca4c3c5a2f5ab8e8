// Package idcode checks the identity codes a rural-collective finance node
// receives (resident IDs, unified social credit codes, 12-digit division codes
// used as org codes) so that typos and impossible codes are refused at the
// edge with a short human reason. Validators return the first problem found
// as an error value and never panic.
package idcode

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// provinceCodes lists the first-two-digit province codes accepted in
// resident IDs and division codes.
const provinceCodes = "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83 91"

// isProvince reports whether p is one of provinceCodes.
func isProvince(p string) bool {
	return len(p) == 2 && strings.Contains(" "+provinceCodes+" ", " "+p+" ")
}

var (
	residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	creditWeights   = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	orgWeights      = [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	earliestBirth   = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
)

const residentChecks, creditCharset = "10X98765432", "0123456789ABCDEFGHJKLMNPQRTUWXY"

// checkLen refuses strings that are not exactly n characters long. It counts
// runes so that the reason matches what a person sees on screen.
func checkLen(what, s string, n int) error {
	if c := utf8.RuneCountInString(s); c != n {
		return fmt.Errorf("%s: length is %d, expected %d", what, c, n)
	}
	return nil
}

// checkDigits refuses any non-ASCII-digit character in s, reporting the
// 1-based position of the first offender. offset is added to positions.
func checkDigits(what, s string, offset int) error {
	for i, r := range []rune(s) {
		if r < '0' || r > '9' {
			return fmt.Errorf("%s: position %d: %q is not a digit", what, i+1+offset, r)
		}
	}
	return nil
}

// ResidentIDCheck returns the GB 11643 (ISO 7064 MOD 11-2) check character
// for the first 17 digits of a resident ID. It exists so tests and the demo
// data generator can build valid IDs.
func ResidentIDCheck(first17 string) (byte, error) {
	if err := checkLen("resident ID body", first17, 17); err != nil {
		return 0, err
	}
	if err := checkDigits("resident ID body", first17, 0); err != nil {
		return 0, err
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * residentWeights[i]
	}
	return residentChecks[sum%11], nil
}

// ResidentID validates an 18-character PRC resident identity number
// (GB 11643-1999): 17 digits plus a check character (digit or X, lowercase x
// accepted), a correct MOD 11-2 check, a known province code and a real birth
// date between 1900-01-01 and today (inclusive, compared in today's location).
// It exists so that individual members are identified reliably.
func ResidentID(s string, today time.Time) error {
	const what = "resident ID"
	if err := checkLen(what, s, 18); err != nil {
		return err
	}
	if err := checkDigits(what, s[:17], 0); err != nil {
		return err
	}
	got := s[17]
	if got == 'x' {
		got = 'X'
	}
	if (got < '0' || got > '9') && got != 'X' {
		r, _ := utf8.DecodeRuneInString(s[17:])
		return fmt.Errorf("%s: position 18: %q is not a digit or X", what, r)
	}
	want, _ := ResidentIDCheck(s[:17])
	if got != want {
		return fmt.Errorf("%s: check digit is %c, expected %c", what, got, want)
	}
	if !isProvince(s[:2]) {
		return fmt.Errorf("%s: province code %s does not exist", what, s[:2])
	}
	return checkBirth(what, s[6:14], today)
}

// checkBirth validates a YYYYMMDD birth date: a real calendar date, not
// before 1900-01-01 and not after today's calendar date.
func checkBirth(what, ymd string, today time.Time) error {
	b, err := time.Parse("20060102", ymd) // rejects Feb 30, month 13, day 00
	ty, tm, td := today.Date()
	switch {
	case err != nil:
		return fmt.Errorf("%s: birth date %s is not a calendar date", what, ymd)
	case b.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)):
		return fmt.Errorf("%s: birth date %s is in the future", what, ymd)
	case b.Before(earliestBirth):
		return fmt.Errorf("%s: birth date %s is before 1900-01-01", what, ymd)
	}
	return nil
}

// checkCreditChars refuses characters outside the GB 32100 charset, with a
// specific reason for lowercase letters and for the excluded I, O, Z, S, V.
func checkCreditChars(what, s string) error {
	for i, r := range []rune(s) {
		switch {
		case r >= 'a' && r <= 'z':
			return fmt.Errorf("%s: position %d: lowercase %q not allowed, use uppercase", what, i+1, r)
		case r < utf8.RuneSelf && strings.IndexByte(creditCharset, byte(r)) >= 0:
		case strings.ContainsRune("IOZSV", r):
			return fmt.Errorf("%s: position %d: letter %c is not used in credit codes (no I, O, Z, S, V)", what, i+1, r)
		default:
			return fmt.Errorf("%s: position %d: %q is not allowed", what, i+1, r)
		}
	}
	return nil
}

// CreditCodeCheck returns the GB 32100 check character (position 18) for the
// first 17 characters of a unified social credit code. It exists so tests and
// the demo data generator can build valid codes.
func CreditCodeCheck(first17 string) (byte, error) {
	const what = "credit code body"
	if err := checkLen(what, first17, 17); err != nil {
		return 0, err
	}
	if err := checkCreditChars(what, first17); err != nil {
		return 0, err
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(creditCharset, first17[i]) * creditWeights[i]
	}
	return creditCharset[(31-sum%31)%31], nil // c == 31 -> 0
}

// OrgCodeCheck returns the GB 11714 check character (position 9) for the
// first 8 characters of an organisation code (digits and uppercase A-Z). It
// exists because credit codes embed an organisation code whose own check must
// hold, and the generator needs to produce it.
func OrgCodeCheck(first8 string) (byte, error) {
	const what = "organisation code body"
	if err := checkLen(what, first8, 8); err != nil {
		return 0, err
	}
	sum := 0
	for i, r := range []rune(first8) {
		v := int(r - '0')
		if r >= 'A' && r <= 'Z' {
			v = int(r-'A') + 10
		} else if r < '0' || r > '9' {
			return 0, fmt.Errorf("%s: position %d: %q is not a digit or uppercase letter", what, i+1, r)
		}
		sum += v * orgWeights[i]
	}
	return "0123456789X0"[11-sum%11], nil // 10 -> X, 11 -> 0
}

// CreditCode validates an 18-character unified social credit code
// (GB 32100-2015): charset and uppercase, a 6-digit division code at
// positions 3-8, the MOD 31 check at position 18 and the GB 11714 check of
// the organisation code at positions 9-17. It exists so that collectives,
// companies and cooperatives are identified reliably.
//
// GB 32100 defines positions 9-17 as a GB 11714 organisation code and no
// authoritative source says its check may be skipped, so it is enforced.
func CreditCode(s string) error {
	const what = "credit code"
	if err := checkLen(what, s, 18); err != nil {
		return err
	}
	if err := checkCreditChars(what, s); err != nil {
		return err
	}
	if err := checkDigits(what+" division", s[2:8], 2); err != nil {
		return err
	}
	want, _ := CreditCodeCheck(s[:17])
	if s[17] != want {
		return fmt.Errorf("%s: check character is %c, expected %c", what, s[17], want)
	}
	org, _ := OrgCodeCheck(s[8:16])
	if s[16] != org {
		return fmt.Errorf("%s: embedded organisation code check character is %c, expected %c", what, s[16], org)
	}
	return nil
}

// PartyID validates a transaction party, which may be a person (resident ID)
// or an organisation (credit code). 17 digits plus a digit or uppercase X fit
// both shapes: accepted if either validates, else the resident-ID reason is
// reported. All digits (optionally ending in lowercase x) of another length
// are judged as a resident ID; anything else as a credit code.
func PartyID(s string, today time.Time) error {
	if len(s) == 18 && checkDigits("", s[:17], 0) == nil && strings.IndexByte("0123456789X", s[17]) >= 0 {
		if err := ResidentID(s, today); err != nil && CreditCode(s) != nil {
			return err
		}
		return nil
	}
	if s != "" && checkDigits("", strings.TrimSuffix(s, "x"), 0) == nil {
		return ResidentID(s, today)
	}
	return CreditCode(s)
}

// Level is the tier of an administrative division code used as an
// organisation code; it exists so callers can tell district-, town- and
// village-level collectives apart.
type Level string

// Levels reported by OrgCode.
const (
	LevelDistrict Level = "district" // county/district: last 6 digits 000000
	LevelTown     Level = "town"     // township: only the last 3 digits 000
	LevelVillage  Level = "village"  // village: anything else
)

// OrgCode validates a 12-digit administrative division code used to identify
// a collective organisation and reports its Level. Province-level codes
// (digits 3-6 all zero) are refused because a province is not an organisation
// this system records for.
func OrgCode(s string) (Level, error) {
	const what = "org code"
	if err := checkLen(what, s, 12); err != nil {
		return "", err
	}
	if err := checkDigits(what, s, 0); err != nil {
		return "", err
	}
	if !isProvince(s[:2]) {
		return "", fmt.Errorf("%s: province code %s does not exist", what, s[:2])
	}
	if s[2:6] == "0000" {
		return "", fmt.Errorf("%s: district part is 0000; province-level codes are not organisations", what)
	}
	if s[6:] == "000000" {
		return LevelDistrict, nil
	} else if s[9:] == "000" {
		return LevelTown, nil
	}
	return LevelVillage, nil
}

// Serves reports whether a node serving the org codes in served may record
// for code. It exists so a node refuses records for organisations it does not
// serve; only exact matches count.
func Serves(served []string, code string) bool {
	for _, c := range served {
		if c == code {
			return true
		}
	}
	return false
}
