package money

import "testing"

func TestParseYuan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fen  int64
		fail bool
	}{
		{"1234.56", 123456, false},
		{"1,234.5", 123450, false},
		{"¥1000", 100000, false},
		{"0.01", 1, false},
		{".5", 50, false},
		{"-3.2", -320, false},
		{"12元", 1200, false},
		{"1.234", 0, true},
		{"abc", 0, true},
		{"", 0, true},
		{"1e5", 0, true},
		{"9999999999999999", 0, true},
	} {
		got, err := ParseYuan(tc.in)
		if (err != nil) != tc.fail || got != tc.fen {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d, fail=%v", tc.in, got, err, tc.fen, tc.fail)
		}
	}
}

func TestFormatFen(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 1: "0.01", 123456: "1,234.56", 100000000: "1,000,000.00", -5050: "-50.50"} {
		if got := FormatFen(fen); got != want {
			t.Errorf("FormatFen(%d) = %q, want %q", fen, got, want)
		}
	}
}
