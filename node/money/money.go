// Package money converts between what people type and show (yuan, with up to
// two decimals, optional thousands separators and ¥) and what the system
// stores (int64 fen). It never goes through floating point, so 0.1 + 0.2
// yuan is exactly 30 fen.
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseYuan turns "1,234.56", "¥1234.5" or "1234" into fen.
func ParseYuan(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "¥"), "￥")
	s = strings.TrimSuffix(s, "元")
	s = strings.ReplaceAll(strings.ReplaceAll(s, ",", ""), "，", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return 0, fmt.Errorf("amount %q: empty", orig)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && hasDot {
		whole = "0"
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q: more than two decimals (the smallest unit is one fen)", orig)
	}
	for _, part := range []string{whole, frac} {
		if strings.Trim(part, "0123456789") != "" {
			return 0, fmt.Errorf("amount %q: not a number of yuan such as 1234.56", orig)
		}
	}
	if len(whole) > 15 {
		return 0, fmt.Errorf("amount %q: too large", orig)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", orig, err)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	fen := w*100 + f
	if neg {
		fen = -fen
	}
	return fen, nil
}

// FormatFen shows fen as yuan with two decimals and thousands separators.
func FormatFen(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	whole := strconv.FormatInt(fen/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s%s.%02d", sign, b.String(), fen%100)
}
