// Package calendar counts working days and working hours the way the district
// does, so that an approval step's time limit ("review within 2 working days",
// "acknowledge an alert within 1 working day") means the same on every node.
// Weekends are off, public holidays are off, and the official swapped working
// days (调休上班, a Saturday or Sunday declared a working day) are on. The
// calendar is data the district sets and versions (Spec); timers compare
// elapsed working time against a step's allowance (Progress) to raise the
// warning at 80%, the yellow card past 100% and the red card at 200%.
//
// Day boundaries are always taken in the calendar's time zone (China Standard
// Time by default): an instant at 17:00 UTC is already the next day in
// Beijing, and a deadline must not move because a server runs in UTC.
package calendar

import (
	"fmt"
	"math"
	"time"
)

// Calendar is one district's working-day calendar for a time zone (China
// Standard Time, UTC+8, by default). It is read-only once built, so one value
// can be shared by every timer on a node.
type Calendar struct {
	loc        *time.Location
	holidays   map[date]string // day → holiday name
	workdays   map[date]string // swapped working day → what it makes up for
	version    string
	start, end int // working hours, minutes after midnight
}

// Spec is the data the district sets. It is JSON-serialisable so that it can
// be published, versioned and shipped to nodes like any other rule data.
type Spec struct {
	Version   string `json:"version"`   // e.g. "2026-1"; recorded with deadlines so they can be re-derived
	TimeZone  string `json:"timeZone"`  // IANA name; empty means "Asia/Shanghai"
	Holidays  []Day  `json:"holidays"`  // days off that would otherwise be working days
	Workdays  []Day  `json:"workdays"`  // swapped working days: weekend days that are working days
	WorkStart string `json:"workStart"` // "HH:MM"; empty means "08:30"
	WorkEnd   string `json:"workEnd"`   // "HH:MM"; empty means "17:30"
}

// Day is one dated entry of a Spec.
type Day struct {
	Date string `json:"date"` // YYYY-MM-DD, in the calendar's zone
	Name string `json:"name"` // e.g. "春节", or "春节调休上班" for a swapped working day
}

// Defaults used when a Spec leaves a field empty.
const defaultZone, defaultStart, defaultEnd = "Asia/Shanghai", "08:30", "17:30"

// date is a calendar day with no zone; it is the key of the holiday maps so
// that a day means the same whatever instant it is looked up with.
type date struct {
	y int
	m time.Month
	d int
}

// utc is midnight of d in UTC; day arithmetic happens there, where no zone
// transition can skip or repeat a day.
func (d date) utc() time.Time        { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC) }
func (d date) weekday() time.Weekday { return d.utc().Weekday() }
func (d date) String() string        { return d.utc().Format(time.DateOnly) }
func (d date) next() date            { y, m, dd := d.utc().AddDate(0, 0, 1).Date(); return date{y, m, dd} }
func weekend(w time.Weekday) bool    { return w == time.Saturday || w == time.Sunday }

// New checks spec and builds its calendar. It refuses a spec that would make
// deadlines ambiguous: a date that does not parse, a date listed twice or as
// both a holiday and a swapped working day, a swapped working day that is not
// on a weekend (it would change nothing, so it is almost certainly a typo),
// or working hours that end before they start. A holiday on a weekend is
// accepted (official holiday ranges often include weekend days) and changes
// nothing but HolidayName.
func New(spec Spec) (*Calendar, error) {
	c := &Calendar{holidays: map[date]string{}, workdays: map[date]string{}, version: spec.Version}
	fail := func(f string, a ...any) error {
		return fmt.Errorf("calendar %q: "+f, append([]any{spec.Version}, a...)...)
	}
	tz := spec.TimeZone
	if tz == "" {
		tz = defaultZone
	}
	loc, err := time.LoadLocation(tz)
	switch {
	case err != nil && tz == defaultZone:
		// No tzdata on this machine. China has had no DST since 1991, so a
		// fixed UTC+8 zone gives the same day boundaries for any current date.
		loc = time.FixedZone("CST", 8*60*60)
	case err != nil:
		return nil, fail("time zone %q: %v", tz, err)
	}
	c.loc = loc
	if c.start, err = clock(spec.WorkStart, defaultStart); err != nil {
		return nil, fail("workStart: %v", err)
	}
	if c.end, err = clock(spec.WorkEnd, defaultEnd); err != nil {
		return nil, fail("workEnd: %v", err)
	}
	if c.start >= c.end {
		return nil, fail("workStart %s is not before workEnd %s", hhmm(c.start), hhmm(c.end))
	}
	lists := []struct {
		kind string
		days []Day
		into map[date]string
	}{{"holiday", spec.Holidays, c.holidays}, {"workday", spec.Workdays, c.workdays}}
	for _, l := range lists {
		for _, x := range l.days {
			t, err := time.Parse(time.DateOnly, x.Date)
			if err != nil {
				return nil, fail("%s %q (%s) is not a date of the form YYYY-MM-DD", l.kind, x.Date, x.Name)
			}
			d := date{t.Year(), t.Month(), t.Day()}
			if _, dup := l.into[d]; dup {
				return nil, fail("%s %s is listed twice", l.kind, d)
			}
			if name, ok := c.holidays[d]; ok && l.kind == "workday" {
				return nil, fail("%s is both a holiday (%s) and a swapped working day (%s)", d, name, x.Name)
			}
			if wd := d.weekday(); l.kind == "workday" && !weekend(wd) {
				return nil, fail("workday %s (%s) is a %s, already a working day: a swapped working day must fall on a weekend", d, x.Name, wd)
			}
			l.into[d] = x.Name
		}
	}
	return c, nil
}

// clock parses "HH:MM" into minutes after midnight; empty means def.
func clock(s, def string) (int, error) {
	if s == "" {
		s = def
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Version is the Spec version the calendar was built from; store it with a
// deadline so that an auditor can tell which calendar produced it.
func (c *Calendar) Version() string { return c.version }

// Location is the zone whose midnights are the calendar's day boundaries.
func (c *Calendar) Location() *time.Location { return c.loc }

func (c *Calendar) day(t time.Time) date {
	y, m, d := t.In(c.loc).Date()
	return date{y, m, d}
}

// at is the instant m minutes after midnight of d in the calendar's zone.
func (c *Calendar) at(d date, m int) time.Time {
	return time.Date(d.y, d.m, d.d, m/60, m%60, 0, 0, c.loc)
}

func (c *Calendar) working(d date) bool {
	if _, ok := c.workdays[d]; ok {
		return true
	}
	if _, ok := c.holidays[d]; ok {
		return false
	}
	return !weekend(d.weekday())
}

// window is the part of day's working hours that lies within a..b; it is
// empty (to not after from) on a day off or when a..b misses the hours.
func (c *Calendar) window(day date, a, b time.Time) (from, to time.Time) {
	if !c.working(day) {
		return a, a
	}
	from, to = c.at(day, c.start), c.at(day, c.end)
	if a.After(from) {
		from = a
	}
	if b.Before(to) {
		to = b
	}
	return from, to
}

// IsWorkingDay reports whether the day of t, in the calendar's zone, is a
// working day: a weekday that is not a holiday, or a swapped working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool { return c.working(c.day(t)) }

// HolidayName is the name of the holiday the day of t falls in ("春节"), or ""
// if it is not a holiday. Weekend days inside an official holiday range carry
// the name too, since people call them by it.
func (c *Calendar) HolidayName(t time.Time) string { return c.holidays[c.day(t)] }

// MaxWorkingDays bounds AddWorkingDays (about ten years), so that a wrong
// limit in a rule's data fails at once instead of looping.
const MaxWorkingDays = 2500

// AddWorkingDays returns the deadline for a limit of n working days starting
// at t: the end of working hours (WorkEnd) on the n-th working day after the
// day of t. The day of submission never counts, because a step opened late in
// the afternoon would otherwise get almost no time: submitted Monday with
// n=2 is due Wednesday 17:30; submitted Friday with n=1 is due Monday 17:30,
// or later if holidays intervene. n=0 means "the same day": the end of t's day
// if it is a working day (even if t is already past WorkEnd), else the end of
// the next working day. A negative n is an error.
func (c *Calendar) AddWorkingDays(t time.Time, n int) (time.Time, error) {
	if n < 0 {
		return time.Time{}, fmt.Errorf("calendar %q: a limit of %d working days is negative", c.version, n)
	}
	if n > MaxWorkingDays {
		return time.Time{}, fmt.Errorf("calendar %q: a limit of %d working days is over the %d this calendar accepts (a typo in a rule's data?)", c.version, n, MaxWorkingDays)
	}
	d := c.day(t)
	for n == 0 && !c.working(d) {
		d = d.next()
	}
	for counted := 0; counted < n; {
		d = d.next()
		if c.working(d) {
			counted++
		}
	}
	return c.at(d, c.end), nil
}

// AddWorkingHours returns the instant at which d of working time, counted
// only within WorkStart–WorkEnd on working days, has passed since t. Time
// before WorkStart, after WorkEnd, at night and on days off is skipped, so a
// limit that runs out exactly at WorkEnd is due at WorkEnd, not the next
// morning. Adding zero returns t unchanged; a negative d is an error.
func (c *Calendar) AddWorkingHours(t time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("calendar %q: a limit of %v working time is negative", c.version, d)
	}
	if d == 0 {
		return t, nil
	}
	for day := c.day(t); ; day = day.next() {
		from, to := c.window(day, t.In(c.loc), c.at(day, c.end))
		if left := to.Sub(from); left > 0 {
			if d <= left {
				return from.Add(d), nil
			}
			d -= left
		}
	}
}

// WorkingTimeBetween returns the working time (within working hours on
// working days) between a and b, or 0 if b is not after a.
func (c *Calendar) WorkingTimeBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var sum time.Duration
	last := c.day(b)
	for day := c.day(a); ; day = day.next() {
		if from, to := c.window(day, a, b); to.After(from) {
			sum += to.Sub(from)
		}
		if day == last {
			return sum
		}
	}
}

// Progress reports how much of a step's allowed working time, from start to
// deadline, has been used at now: 0 at start, 0.8 when the 20%-left warning is
// due, 1 at the deadline, above 1 once overdue (yellow card) and 2 at twice
// the time (red card). Only working time counts, so the fraction stands still
// over nights, weekends and holidays: a step due Friday 17:30 is at exactly 1
// all weekend and goes over on Monday morning. A step with no working time at
// all (start and deadline in the same off-hours) is at 0 until its deadline,
// 1 after it, and +Inf once working time has passed beyond it.
func (c *Calendar) Progress(start, deadline, now time.Time) float64 {
	used := c.WorkingTimeBetween(start, now)
	allowed := c.WorkingTimeBetween(start, deadline)
	if allowed > 0 {
		return float64(used) / float64(allowed)
	}
	switch {
	case !now.After(deadline):
		return 0
	case used == 0:
		return 1
	default:
		return math.Inf(1)
	}
}
