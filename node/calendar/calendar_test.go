package calendar

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var cst = time.FixedZone("test+8", 8*60*60)

// bj is a wall-clock time in Beijing, written "2026-03-02 09:00".
func bj(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

// utc is an instant written in UTC, "2026-03-05T16:30".
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

func cal2026(t *testing.T) *Calendar {
	t.Helper()
	c, err := New(Default2026())
	if err != nil {
		t.Fatalf("New(Default2026()): %v", err)
	}
	return c
}

func TestDefault2026(t *testing.T) {
	c := cal2026(t)
	if c.Version() != "2026-1" {
		t.Errorf("Version = %q", c.Version())
	}
	spec := Default2026()
	// 3+9+3+5+3+3+7 official days off; six swapped working days.
	if len(spec.Holidays) != 33 || len(spec.Workdays) != 6 {
		t.Errorf("got %d holidays and %d workdays, want 33 and 6", len(spec.Holidays), len(spec.Workdays))
	}
	// Weekdays as printed in the State Council notice.
	for date, want := range map[string]time.Weekday{
		"2026-01-01": time.Thursday, "2026-01-04": time.Sunday,
		"2026-02-15": time.Sunday, "2026-02-23": time.Monday,
		"2026-02-14": time.Saturday, "2026-02-28": time.Saturday,
		"2026-04-04": time.Saturday, "2026-05-01": time.Friday, "2026-05-05": time.Tuesday,
		"2026-05-09": time.Saturday, "2026-06-19": time.Friday, "2026-09-25": time.Friday,
		"2026-09-20": time.Sunday, "2026-10-01": time.Thursday, "2026-10-07": time.Wednesday,
		"2026-10-10": time.Saturday,
	} {
		if got := bj(t, date+" 12:00").Weekday(); got != want {
			t.Errorf("%s is a %s, the notice says %s", date, got, want)
		}
	}
}

func TestLocation(t *testing.T) {
	c, err := New(Spec{})
	if err != nil {
		t.Fatalf("New(Spec{}): %v", err)
	}
	for _, at := range []string{"2026-01-15T00:00", "2026-07-15T00:00"} {
		if _, off := utc(t, at).In(c.Location()).Zone(); off != 8*60*60 {
			t.Errorf("offset at %s = %ds, want +8h and no DST", at, off)
		}
	}
	if name := c.Location().String(); name != "Asia/Shanghai" && name != "CST" {
		t.Errorf("default zone = %q", name)
	}
	u, err := New(Spec{TimeZone: "UTC"})
	if err != nil {
		t.Fatalf("New UTC: %v", err)
	}
	// 2026-03-06T17:00Z is Friday in UTC but Saturday 01:00 in Beijing.
	if !u.IsWorkingDay(utc(t, "2026-03-06T17:00")) || c.IsWorkingDay(utc(t, "2026-03-06T17:00")) {
		t.Error("day boundaries must follow the calendar's own zone")
	}
}

func TestIsWorkingDayAndHolidayName(t *testing.T) {
	c := cal2026(t)
	cases := []struct {
		name    string
		at      time.Time
		working bool
		holiday string
	}{
		{"plain Monday", bj(t, "2026-03-02 10:00"), true, ""},
		{"plain Saturday", bj(t, "2026-03-07 10:00"), false, ""},
		{"plain Sunday", bj(t, "2026-03-08 10:00"), false, ""},
		{"元旦 Thursday", bj(t, "2026-01-01 10:00"), false, "元旦"},
		{"元旦 break Saturday", bj(t, "2026-01-03 10:00"), false, "元旦"},
		{"swapped Sunday", bj(t, "2026-01-04 10:00"), true, ""},
		{"swapped Saturday before 春节", bj(t, "2026-02-14 10:00"), true, ""},
		{"春节 Sunday", bj(t, "2026-02-15 10:00"), false, "春节"},
		{"春节 Monday", bj(t, "2026-02-16 10:00"), false, "春节"},
		{"last day of 春节", bj(t, "2026-02-23 23:59"), false, "春节"},
		{"back after 春节", bj(t, "2026-02-24 00:00"), true, ""},
		{"swapped Saturday after 春节", bj(t, "2026-02-28 10:00"), true, ""},
		{"中秋 Friday", bj(t, "2026-09-25 10:00"), false, "中秋节"},
		{"swapped Sunday before 国庆", bj(t, "2026-09-20 10:00"), true, ""},
		{"国庆 Wednesday", bj(t, "2026-10-07 10:00"), false, "国庆节"},
		{"after 国庆", bj(t, "2026-10-08 10:00"), true, ""},
		{"UTC Friday 17:00 is Beijing Saturday", utc(t, "2026-03-06T17:00"), false, ""},
		{"UTC Friday 15:59 is Beijing Friday", utc(t, "2026-03-06T15:59"), true, ""},
		{"UTC Sunday 16:30 is Beijing Monday", utc(t, "2026-03-08T16:30"), true, ""},
		{"UTC New Year's Eve 16:00 is 元旦", utc(t, "2025-12-31T16:00"), false, "元旦"},
		{"UTC New Year's Eve 15:59 is still 2025", utc(t, "2025-12-31T15:59"), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsWorkingDay(tc.at); got != tc.working {
				t.Errorf("IsWorkingDay = %v, want %v", got, tc.working)
			}
			if got := c.HolidayName(tc.at); got != tc.holiday {
				t.Errorf("HolidayName = %q, want %q", got, tc.holiday)
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := cal2026(t)
	cases := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"Monday +2 is Wednesday", bj(t, "2026-03-02 10:00"), 2, bj(t, "2026-03-04 17:30")},
		{"Monday late +2 is still Wednesday", bj(t, "2026-03-02 23:00"), 2, bj(t, "2026-03-04 17:30")},
		{"Friday +1 skips the weekend", bj(t, "2026-03-06 10:00"), 1, bj(t, "2026-03-09 17:30")},
		{"Saturday +1 is Monday", bj(t, "2026-03-07 10:00"), 1, bj(t, "2026-03-09 17:30")},
		{"Monday +0 is Monday", bj(t, "2026-03-02 10:00"), 0, bj(t, "2026-03-02 17:30")},
		{"Saturday +0 is Monday", bj(t, "2026-03-07 10:00"), 0, bj(t, "2026-03-09 17:30")},
		{"Friday +5 is next Friday", bj(t, "2026-03-06 10:00"), 5, bj(t, "2026-03-13 17:30")},
		{"Friday before 春节 +1 is the swapped Saturday", bj(t, "2026-02-13 10:00"), 1, bj(t, "2026-02-14 17:30")},
		{"Friday before 春节 +2 is after the break", bj(t, "2026-02-13 10:00"), 2, bj(t, "2026-02-24 17:30")},
		{"swapped Saturday +1 is after the break", bj(t, "2026-02-14 10:00"), 1, bj(t, "2026-02-24 17:30")},
		{"during 春节 +0 is the first day back", bj(t, "2026-02-18 10:00"), 0, bj(t, "2026-02-24 17:30")},
		{"Friday +3 counts the swapped Saturday", bj(t, "2026-02-27 10:00"), 3, bj(t, "2026-03-03 17:30")},
		{"Saturday 元旦 +0 is the swapped Sunday", bj(t, "2026-01-03 10:00"), 0, bj(t, "2026-01-04 17:30")},
		{"year end: New Year's Eve +1 is the swapped Sunday", bj(t, "2025-12-31 10:00"), 1, bj(t, "2026-01-04 17:30")},
		{"year end: Monday +3 crosses 元旦", bj(t, "2025-12-29 10:00"), 3, bj(t, "2026-01-04 17:30")},
		{"month end: Friday 31 July +1", bj(t, "2026-07-31 10:00"), 1, bj(t, "2026-08-03 17:30")},
		{"month end: 30 April +1 crosses 劳动节", bj(t, "2026-04-30 10:00"), 1, bj(t, "2026-05-06 17:30")},
		{"month end: 30 September +1 crosses 国庆", bj(t, "2026-09-30 10:00"), 1, bj(t, "2026-10-08 17:30")},
		{"UTC Thursday 16:30 is Beijing Friday", utc(t, "2026-03-05T16:30"), 1, bj(t, "2026-03-09 17:30")},
		{"UTC Thursday 15:59 is Beijing Thursday", utc(t, "2026-03-05T15:59"), 1, bj(t, "2026-03-06 17:30")},
		{"UTC Sunday 16:00 is Beijing Monday", utc(t, "2026-03-08T16:00"), 0, bj(t, "2026-03-09 17:30")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AddWorkingDays(tc.from, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("AddWorkingDays(%v, %d) = %v, want %v", tc.from, tc.n, got, tc.want)
			}
			if got.Location() != c.Location() {
				t.Errorf("deadline in %v, want the calendar's zone", got.Location())
			}
		})
	}
	if _, err := c.AddWorkingDays(bj(t, "2026-03-02 10:00"), -1); err == nil || !strings.Contains(err.Error(), "-1") {
		t.Errorf("n=-1: err = %v, want an error naming -1", err)
	}
}

func TestAddWorkingHours(t *testing.T) {
	c := cal2026(t)
	h := time.Hour
	cases := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"within a morning", bj(t, "2026-03-02 09:00"), 2 * h, bj(t, "2026-03-02 11:00")},
		{"through midday, no lunch break", bj(t, "2026-03-02 11:00"), 3 * h, bj(t, "2026-03-02 14:00")},
		{"over a night", bj(t, "2026-03-02 16:30"), 2 * h, bj(t, "2026-03-03 09:30")},
		{"before opening starts at WorkStart", bj(t, "2026-03-02 07:00"), h, bj(t, "2026-03-02 09:30")},
		{"a full day ends at WorkEnd, not next morning", bj(t, "2026-03-02 07:00"), 9 * h, bj(t, "2026-03-02 17:30")},
		{"a minute past a full day", bj(t, "2026-03-02 07:00"), 9*h + time.Minute, bj(t, "2026-03-03 08:31")},
		{"evening start", bj(t, "2026-03-02 20:00"), 30 * time.Minute, bj(t, "2026-03-03 09:00")},
		{"over a weekend", bj(t, "2026-03-06 17:00"), h, bj(t, "2026-03-09 09:00")},
		{"from a Saturday", bj(t, "2026-03-07 12:00"), h, bj(t, "2026-03-09 09:30")},
		{"three days of nights", bj(t, "2026-03-02 08:30"), 27 * h, bj(t, "2026-03-04 17:30")},
		{"into the swapped Saturday before 春节", bj(t, "2026-02-13 17:00"), 2 * h, bj(t, "2026-02-14 10:00")},
		{"over 春节", bj(t, "2026-02-13 17:00"), 10 * h, bj(t, "2026-02-24 09:00")},
		{"swapped Sunday counts", bj(t, "2025-12-31 17:00"), h, bj(t, "2026-01-04 09:00")},
		{"month end", bj(t, "2026-07-31 17:00"), h, bj(t, "2026-08-03 09:00")},
		{"UTC 00:30 is Beijing 08:30", utc(t, "2026-03-02T00:30"), h, utc(t, "2026-03-02T01:30")},
		{"UTC Sunday 23:00 is Beijing Monday 07:00", utc(t, "2026-03-01T23:00"), h, bj(t, "2026-03-02 09:30")},
		{"UTC Friday 16:30 is Beijing Saturday", utc(t, "2026-03-06T16:30"), h, bj(t, "2026-03-09 09:30")},
		{"zero is a no-op", bj(t, "2026-03-07 12:00"), 0, bj(t, "2026-03-07 12:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AddWorkingHours(tc.from, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("AddWorkingHours(%v, %v) = %v, want %v", tc.from, tc.d, got, tc.want)
			}
			if back := c.WorkingTimeBetween(tc.from, got); back != tc.d {
				t.Errorf("WorkingTimeBetween back = %v, want %v", back, tc.d)
			}
		})
	}
	if _, err := c.AddWorkingHours(bj(t, "2026-03-02 10:00"), -time.Minute); err == nil {
		t.Error("a negative duration must be an error")
	}
}

func TestWorkingTimeBetween(t *testing.T) {
	c := cal2026(t)
	h := time.Hour
	cases := []struct {
		name string
		a, b time.Time
		want time.Duration
	}{
		{"same morning", bj(t, "2026-03-02 09:00"), bj(t, "2026-03-02 11:00"), 2 * h},
		{"whole Monday", bj(t, "2026-03-02 00:00"), bj(t, "2026-03-03 00:00"), 9 * h},
		{"a week", bj(t, "2026-03-02 00:00"), bj(t, "2026-03-09 00:00"), 45 * h},
		{"over a weekend", bj(t, "2026-03-06 17:00"), bj(t, "2026-03-09 09:00"), h},
		{"weekend only", bj(t, "2026-03-07 00:00"), bj(t, "2026-03-09 00:00"), 0},
		{"night only", bj(t, "2026-03-02 18:00"), bj(t, "2026-03-03 08:00"), 0},
		{"over 春节, the swapped Saturday counts", bj(t, "2026-02-13 08:30"), bj(t, "2026-02-24 08:30"), 18 * h},
		{"swapped Sunday counts", bj(t, "2026-01-03 00:00"), bj(t, "2026-01-05 00:00"), 9 * h},
		{"month end", bj(t, "2026-07-31 12:00"), bj(t, "2026-08-03 12:00"), 9 * h},
		{"year end", bj(t, "2025-12-31 12:00"), bj(t, "2026-01-04 12:00"), 9 * h},
		{"UTC inputs near midnight", utc(t, "2026-03-02T15:59"), utc(t, "2026-03-03T16:01"), 9 * h},
		{"equal", bj(t, "2026-03-02 10:00"), bj(t, "2026-03-02 10:00"), 0},
		{"reversed", bj(t, "2026-03-03 10:00"), bj(t, "2026-03-02 10:00"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.WorkingTimeBetween(tc.a, tc.b); got != tc.want {
				t.Errorf("WorkingTimeBetween(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	c := cal2026(t)
	// A review opened Monday 08:30 with 2 working days is due Wednesday
	// 17:30: 27 working hours allowed (the day of submission counts as time
	// available even though it is not one of the n days).
	start := bj(t, "2026-03-02 08:30")
	deadline, err := c.AddWorkingDays(start, 2)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time {
		v, err := c.AddWorkingHours(start, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Opened the working day before 春节 (the swapped Saturday), 1 working day.
	hStart := bj(t, "2026-02-14 09:00")
	hDeadline, _ := c.AddWorkingDays(hStart, 1) // 2026-02-24 17:30
	cases := []struct {
		name                 string
		start, deadline, now time.Time
		want                 float64
	}{
		{"at start", start, deadline, start, 0},
		{"before start", start, deadline, bj(t, "2026-03-01 12:00"), 0},
		{"80%: the warning", start, deadline, at(27 * time.Hour * 8 / 10), 0.8},
		{"80% by the clock", start, deadline, bj(t, "2026-03-04 12:06"), 0.8},
		{"exactly at the deadline", start, deadline, deadline, 1.0},
		{"the evening after the deadline", start, deadline, bj(t, "2026-03-04 23:00"), 1.0},
		{"twice the time: the red card", start, deadline, bj(t, "2026-03-09 17:30"), 2.0},
		{"twice the time by working hours", start, deadline, at(54 * time.Hour), 2.0},
		{"due Friday, still 1.0 all weekend", bj(t, "2026-03-05 08:30"), bj(t, "2026-03-06 17:30"), bj(t, "2026-03-08 12:00"), 1.0},
		{"over 春节 the clock stands still", hStart, hDeadline, bj(t, "2026-02-20 12:00"), 8.5 / 17.5},
		{"holiday step at its deadline", hStart, hDeadline, hDeadline, 1.0},
		{"holiday step 80%", hStart, hDeadline, bj(t, "2026-02-24 14:00"), 0.8},
		{"UTC now near midnight", start, deadline, utc(t, "2026-03-03T15:59"), 18.0 / 27},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Progress(tc.start, tc.deadline, tc.now); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Progress = %v, want %v", got, tc.want)
			}
		})
	}
	// A step with no working time at all: opened and due on a Saturday.
	s, d := bj(t, "2026-03-07 09:00"), bj(t, "2026-03-07 17:30")
	for _, tc := range []struct {
		now  time.Time
		want float64
	}{
		{bj(t, "2026-03-07 12:00"), 0},
		{bj(t, "2026-03-08 12:00"), 1},
		{bj(t, "2026-03-09 09:00"), math.Inf(1)},
	} {
		if got := c.Progress(s, d, tc.now); got != tc.want {
			t.Errorf("empty step at %v: Progress = %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want []string // every one must appear in the error
	}{
		{"impossible date", Spec{Holidays: []Day{{Date: "2026-02-30", Name: "x"}}}, []string{"2026-02-30", "holiday"}},
		{"slashes", Spec{Holidays: []Day{{Date: "2026/01/01", Name: "元旦"}}}, []string{"2026/01/01"}},
		{"bad workday date", Spec{Workdays: []Day{{Date: "26-1-4"}}}, []string{"26-1-4", "workday"}},
		{"empty date", Spec{Holidays: []Day{{Name: "nameless"}}}, []string{`""`, "nameless"}},
		{"both holiday and workday", Spec{
			Holidays: []Day{{Date: "2026-02-14", Name: "春节"}},
			Workdays: []Day{{Date: "2026-02-14", Name: "春节调休上班"}},
		}, []string{"2026-02-14", "both"}},
		{"workday on a Friday", Spec{Workdays: []Day{{Date: "2026-02-13", Name: "春节调休上班"}}}, []string{"2026-02-13", "Friday", "weekend"}},
		{"holiday twice", Spec{Holidays: []Day{{Date: "2026-10-01"}, {Date: "2026-10-01"}}}, []string{"2026-10-01", "twice"}},
		{"workday twice", Spec{Workdays: []Day{{Date: "2026-10-10"}, {Date: "2026-10-10"}}}, []string{"2026-10-10", "twice"}},
		{"end before start", Spec{WorkStart: "17:30", WorkEnd: "08:30"}, []string{"workStart", "17:30", "08:30"}},
		{"end equals start", Spec{WorkStart: "09:00", WorkEnd: "09:00"}, []string{"workStart", "09:00"}},
		{"start after default end", Spec{WorkStart: "18:00"}, []string{"18:00", "17:30"}},
		{"bad clock", Spec{WorkStart: "8:30"}, []string{"workStart", "8:30"}},
		{"bad clock end", Spec{WorkEnd: "25:00"}, []string{"workEnd", "25:00"}},
		{"unknown zone", Spec{TimeZone: "Mars/Olympus"}, []string{"Mars/Olympus"}},
		{"version named", Spec{Version: "2026-9", Workdays: []Day{{Date: "2026-03-02"}}}, []string{"2026-9", "2026-03-02"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.spec)
			if err == nil {
				t.Fatalf("New accepted %+v", tc.spec)
			}
			if c != nil {
				t.Error("New returned a calendar with its error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	// A holiday on a weekend is pointless but harmless: it is named, and
	// the day stays off.
	c, err := New(Spec{
		Version:  "local",
		Holidays: []Day{{Date: "2026-03-07", Name: "庙会"}, {Date: "2026-03-10", Name: "区里放假"}},
		Workdays: []Day{{Date: "2026-03-08", Name: "补班"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at      string
		working bool
		name    string
	}{
		{"2026-03-07 10:00", false, "庙会"},
		{"2026-03-08 10:00", true, ""},
		{"2026-03-10 10:00", false, "区里放假"},
		{"2026-03-11 10:00", true, ""},
	} {
		if got := c.IsWorkingDay(bj(t, tc.at)); got != tc.working {
			t.Errorf("IsWorkingDay(%s) = %v", tc.at, got)
		}
		if got := c.HolidayName(bj(t, tc.at)); got != tc.name {
			t.Errorf("HolidayName(%s) = %q", tc.at, got)
		}
	}
	// Other working hours are honoured.
	c, err = New(Spec{WorkStart: "09:00", WorkEnd: "12:00"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.AddWorkingHours(bj(t, "2026-03-02 11:00"), 2*time.Hour)
	if want := bj(t, "2026-03-03 10:00"); !got.Equal(want) {
		t.Errorf("short hours: %v, want %v", got, want)
	}
	if due, _ := c.AddWorkingDays(bj(t, "2026-03-02 11:00"), 1); !due.Equal(bj(t, "2026-03-03 12:00")) {
		t.Errorf("short hours deadline: %v", due)
	}
}

func TestSpecJSON(t *testing.T) {
	spec := Default2026()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"version":"2026-1"`, `"timeZone":"Asia/Shanghai"`, `"holidays":[`, `"workdays":[`,
		`"workStart":"08:30"`, `"workEnd":"17:30"`, `{"date":"2026-02-14","name":"春节调休上班"}`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, spec) {
		t.Errorf("round trip changed the spec:\n got %+v\nwant %+v", back, spec)
	}
	c, err := New(back)
	if err != nil {
		t.Fatalf("New(round-tripped spec): %v", err)
	}
	if c.HolidayName(bj(t, "2026-02-17 12:00")) != "春节" {
		t.Error("round-tripped calendar lost 春节")
	}
}

func TestAddWorkingDaysBound(t *testing.T) {
	c, err := New(Default2026())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, c.Location())
	if _, err := c.AddWorkingDays(start, MaxWorkingDays); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
	if _, err := c.AddWorkingDays(start, MaxWorkingDays+1); err == nil {
		t.Fatal("a limit over the bound was accepted")
	}
}
