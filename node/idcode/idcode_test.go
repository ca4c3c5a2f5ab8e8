package idcode

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var today = time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC)

// with appends the check character that f computes for s.
func with(t testing.TB, f func(string) (byte, error), s string) string {
	c, err := f(s)
	if err != nil {
		t.Fatalf("check helper on %q: %v", s, err)
	}
	return s + string(c)
}

// rid completes 17 digits into a resident ID.
func rid(t testing.TB, s string) string { return with(t, ResidentIDCheck, s) }

// ucc completes 16 characters with the organisation check and credit check.
func ucc(t testing.TB, s string) string {
	return with(t, CreditCodeCheck, s[:8]+with(t, OrgCodeCheck, s[8:16]))
}

// expect checks err is nil when want is "", else that it contains want.
func expect(t *testing.T, name string, err error, want string) {
	t.Helper()
	if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v, want %q", name, err, want)
	}
}

type tcase struct{ in, want string }

func TestResidentID(t *testing.T) {
	for _, tc := range []tcase{
		{"11010519491231002X", ""}, {"11010519491231002x", ""},
		{rid(t, "44052419800101001"), ""}, {rid(t, "35050520000229123"), ""},
		{rid(t, "35050519000101123"), ""}, {rid(t, "35050520250601123"), ""}, // born today
		{"440524188001010014", "before 1900-01-01"},
		{"11010519491231002", "length is 17, expected 18"}, {"11010519491231002XX", "length is 19, expected 18"},
		{"", "length is 0, expected 18"}, {"1101051949123100AX", "position 17: 'A' is not a digit"},
		{"11010519491231002Y", "position 18: 'Y' is not a digit or X"},
		{"11010519491231002é", "position 18: 'é' is not a digit or X"},
		{"110105194912310021", "check digit is 1, expected X"},
		{rid(t, "11010520250602001"), "is in the future"}, {rid(t, "11010520990101001"), "is in the future"},
		{rid(t, "11010519490230001"), "19490230 is not a calendar date"},
		{rid(t, "11010519000229001"), "is not a calendar date"},
		{rid(t, "11010519491301001"), "is not a calendar date"},
		{rid(t, "11010519490000001"), "is not a calendar date"},
		{rid(t, "99010519491231001"), "province code 99 does not exist"},
		{rid(t, "10010519491231001"), "province code 10 does not exist"},
	} {
		expect(t, tc.in, ResidentID(tc.in, today), tc.want)
	}
}

func TestCreditCode(t *testing.T) {
	for _, tc := range []tcase{
		{"91350100M000100Y43", ""}, {"91110000802100433B", ""},
		{"913505051002000429", ""}, {"91350505100200245X", ""},
		{ucc(t, "93350505MA2XY8K1"), ""}, {ucc(t, "N2350505UWXY0001"), ""}, {ucc(t, "Y1100000ABCDEFGH"), ""},
		{"91350100M000100Y4", "length is 17, expected 18"}, {"91350100M000100Y433", "length is 19, expected 18"},
		{"91350100I000100Y43", "position 9: letter I is not used"},
		{"91350100O000100Y43", "position 9: letter O is not used"},
		{"9135010ZM000100Y43", "position 8: letter Z is not used"},
		{"91350100m000100Y43", "position 9: lowercase 'm' not allowed"},
		{"91350100M000100Y4-", "position 18: '-' is not allowed"},
		{"91350100M000100Y4中", "position 18: '中' is not allowed"},
		{ucc(t, "9135A100M0001000"), "position 5: 'A' is not a digit"},
		{"91350100M000100Y44", "check character is 4, expected 3"},
		{"91110000802100433C", "check character is C, expected B"},
		{with(t, CreditCodeCheck, "91110000802100434"), "organisation code check character is 4, expected 3"},
	} {
		expect(t, tc.in, CreditCode(tc.in), tc.want)
	}
}

func TestPartyID(t *testing.T) {
	for _, tc := range []tcase{
		{"11010519491231002X", ""}, {"11010519491231002x", ""}, {"91350100M000100Y43", ""},
		{"913505051002000429", ""}, // all digits, valid only as a credit code
		{"91350505100200245X", ""}, // 17 digits + X, valid only as a credit code
		{"110105194912310021", "resident ID: check digit is 1, expected X"},
		{"91350505100200245x", "resident ID: check digit"},
		{"1101051949123100", "resident ID: length is 16"},
		{"91350100M000100Y44", "credit code: check character"}, {"", "credit code: length is 0"},
	} {
		expect(t, tc.in, PartyID(tc.in, today), tc.want)
	}
}

func TestOrgCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		level    Level
	}{
		{"350505100201", "", LevelVillage}, {"350505100000", "", LevelTown}, {"350505000000", "", LevelDistrict},
		{"35050510020", "length is 11, expected 12", ""}, {"3505051002011", "length is 13, expected 12", ""},
		{"35050510020A", "position 12: 'A' is not a digit", ""},
		{"990505100201", "province code 99 does not exist", ""},
		{"350000000000", "district part is 0000", ""}, {"350000100201", "district part is 0000", ""},
	} {
		lv, err := OrgCode(tc.in)
		expect(t, tc.in, err, tc.want)
		if lv != tc.level {
			t.Errorf("%s: level %q, want %q", tc.in, lv, tc.level)
		}
	}
}

func TestServes(t *testing.T) {
	served := []string{"350505100201", "350505100000"}
	for code, want := range map[string]bool{"350505100201": true, "350505100000": true,
		"350505100202": false, "35050510020": false, "": false} {
		if Serves(served, code) != want || Serves(nil, code) {
			t.Errorf("Serves(%q) != %v", code, want)
		}
	}
}

func TestCheckHelpers(t *testing.T) {
	type helperCase struct {
		fn          func(string) (byte, error)
		in, wantErr string
		out         byte
	}
	for _, tc := range []helperCase{
		{ResidentIDCheck, "11010519491231002", "", 'X'}, {ResidentIDCheck, "1101051949123100", "length is 16", 0},
		{ResidentIDCheck, "1101051949123100A", "'A' is not a digit", 0},
		{CreditCodeCheck, "91110000802100433", "", 'B'}, {CreditCodeCheck, "9111", "length is 4", 0},
		{CreditCodeCheck, "9111000080210043S", "letter S is not used", 0},
		{OrgCodeCheck, "M000100Y", "", '4'}, {OrgCodeCheck, "M00", "length is 3", 0},
		{OrgCodeCheck, "m000100Y", "'m' is not a digit or uppercase letter", 0},
	} {
		got, err := tc.fn(tc.in)
		expect(t, tc.in, err, tc.wantErr)
		if got != tc.out {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.out)
		}
	}
	seen := map[byte]bool{} // the GB 11714 check maps 10 to X and 11 to 0
	for n := range 200 {
		c, _ := OrgCodeCheck(fmt.Sprintf("%08d", n))
		seen[c] = true
	}
	if !seen['X'] || !seen['0'] {
		t.Errorf("OrgCodeCheck never produced X or 0: %v", seen)
	}
}

// FuzzResidentID checks the validators never panic, and that an ID built from
// a valid province, an in-range date and ResidentIDCheck always validates.
func FuzzResidentID(f *testing.F) {
	f.Add("11010519491231002X", uint64(0))
	f.Add("440524188001010014", uint64(1<<63))
	provs := strings.Fields(provinceCodes)
	start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	days := uint64(today.Sub(start).Hours()/24) + 1
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		_, _ = ResidentID(s, today), PartyID(s, today)
		_, _ = ResidentIDCheck(s)
		birth := start.AddDate(0, 0, int((seed>>8)%days)).Format("20060102")
		id := rid(t, fmt.Sprintf("%s%04d%s%03d", provs[seed%uint64(len(provs))], (seed>>32)%10000, birth, (seed>>48)%1000))
		if err, err2 := ResidentID(id, today), PartyID(id, today); err != nil || err2 != nil {
			t.Fatalf("built %q: %v / %v", id, err, err2)
		}
	})
}

// FuzzCreditCode checks the validators never panic, and that a code built from
// random charset characters with the check helpers always validates.
func FuzzCreditCode(f *testing.F) {
	f.Add("91350100M000100Y43", []byte("9135010"))
	f.Add("91350100m000100Y43", []byte{255, 0, 17, 200})
	f.Fuzz(func(t *testing.T, s string, seed []byte) {
		_, _ = CreditCode(s), PartyID(s, today)
		_, _ = CreditCodeCheck(s)
		_, _ = OrgCodeCheck(s)
		_, _ = OrgCode(s)
		b := make([]byte, 16)
		for i := range b {
			v := 0
			if i < len(seed) {
				v = int(seed[i])
			}
			b[i] = creditCharset[v%len(creditCharset)]
			if i >= 2 && i < 8 {
				b[i] = byte('0' + v%10)
			}
		}
		code := ucc(t, string(b))
		if err, err2 := CreditCode(code), PartyID(code, today); err != nil || err2 != nil {
			t.Fatalf("built %q: %v / %v", code, err, err2)
		}
	})
}
