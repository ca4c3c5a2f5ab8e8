package calendar

import "time"

// Default2026 is China's official 2026 arrangement as published by the State
// Council (国务院办公厅关于2026年部分节假日安排的通知, 4 November 2025), in
// China Standard Time with working hours 08:30–17:30. Holidays list every day
// of each official break, weekend days included, so that HolidayName names
// the whole break; the weekend days change nothing else. A district that
// adds local days off starts from this and appends to it. Each year needs a
// new spec: days outside 2026 are treated as plain weekdays and weekends.
func Default2026() Spec {
	var holidays []Day
	for _, h := range []struct{ name, first, last string }{
		{"元旦", "2026-01-01", "2026-01-03"},
		{"春节", "2026-02-15", "2026-02-23"},
		{"清明节", "2026-04-04", "2026-04-06"},
		{"劳动节", "2026-05-01", "2026-05-05"},
		{"端午节", "2026-06-19", "2026-06-21"},
		{"中秋节", "2026-09-25", "2026-09-27"},
		{"国庆节", "2026-10-01", "2026-10-07"},
	} {
		holidays = append(holidays, span(h.name, h.first, h.last)...)
	}
	return Spec{
		Version:  "2026-1",
		TimeZone: defaultZone,
		Holidays: holidays,
		Workdays: []Day{
			{Date: "2026-01-04", Name: "元旦调休上班"},  // Sunday
			{Date: "2026-02-14", Name: "春节调休上班"},  // Saturday
			{Date: "2026-02-28", Name: "春节调休上班"},  // Saturday
			{Date: "2026-05-09", Name: "劳动节调休上班"}, // Saturday
			{Date: "2026-09-20", Name: "国庆节调休上班"}, // Sunday
			{Date: "2026-10-10", Name: "国庆节调休上班"}, // Saturday
		},
		WorkStart: defaultStart,
		WorkEnd:   defaultEnd,
	}
}

// span lists every day from first to last inclusive under one name; the
// ranges above are literals, so a parse failure is a bug caught by the tests.
func span(name, first, last string) []Day {
	d, err1 := time.Parse(time.DateOnly, first)
	end, err2 := time.Parse(time.DateOnly, last)
	if err1 != nil || err2 != nil {
		panic("calendar: bad holiday range " + first + ".." + last)
	}
	var out []Day
	for ; !d.After(end); d = d.AddDate(0, 0, 1) {
		out = append(out, Day{Date: d.Format(time.DateOnly), Name: name})
	}
	return out
}
