package flows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Route picks the outcome of a time node for the instant now: the first rule
// (holidays come first, then rules in file order) whose date or weekday and
// time-of-day window match the wall clock in Zone gives RuleEvent(name) and
// the rule name; no match gives EventDefault and "". The override is not
// consulted here: the runtime reads it (with its own bound) before calling
// Route. Times are compared as wall-clock hour:minute:second in Zone, so a DST
// change does not shift the windows.
func (t *Time) Route(now time.Time) (outcome string, rule string) {
	loc := t.Zone
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	h, m, s := local.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	day := local.Format("01-02")
	full := local.Format("2006-01-02")
	wd := local.Weekday()
	for i := range t.Rules {
		r := &t.Rules[i]
		if len(r.Dates) > 0 {
			if !matchDate(r.Dates, full, day) {
				continue
			}
		} else if !r.Days[wd] {
			continue
		}
		if tod >= r.From && tod < r.To {
			return RuleEvent(r.Name), r.Name
		}
	}
	return EventDefault, ""
}

func matchDate(dates []string, full, day string) bool {
	for _, d := range dates {
		if d == full || d == day {
			return true
		}
	}
	return false
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// parseDays turns ["mon-fri", "sun"] into a weekday set. Ranges may wrap
// ("fri-mon"). "all"/"daily" is every day.
func parseDays(items []string) ([7]bool, error) {
	var set [7]bool
	for _, item := range items {
		item = strings.ToLower(strings.TrimSpace(item))
		if item == "all" || item == "daily" {
			for i := range set {
				set[i] = true
			}
			continue
		}
		lo, hi, isRange := strings.Cut(item, "-")
		from, ok := weekdayNames[strings.TrimSpace(lo)]
		if !ok {
			return set, fmt.Errorf("unknown weekday %q (use mon..sun, ranges like mon-fri, or all)", lo)
		}
		to := from
		if isRange {
			if to, ok = weekdayNames[strings.TrimSpace(hi)]; !ok {
				return set, fmt.Errorf("unknown weekday %q (use mon..sun, ranges like mon-fri, or all)", hi)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			set[d] = true
			if d == to {
				break
			}
		}
	}
	return set, nil
}

// parseClock parses "HH:MM" (00:00 .. 24:00) into a duration since midnight.
func parseClock(s string) (time.Duration, error) {
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(ms) != 2 || len(hs) < 1 || len(hs) > 2 {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("time %q is not a valid HH:MM between 00:00 and 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// checkDate accepts "2026-12-25" (one day) or "12-25" (every year).
func checkDate(s string) error {
	if _, err := time.Parse("2006-01-02", s); err == nil && len(s) == 10 {
		return nil
	}
	if len(s) == 5 {
		// Year 2000 is a leap year, so 02-29 is accepted as a yearly date.
		if _, err := time.Parse("2006-01-02", "2000-"+s); err == nil {
			return nil
		}
	}
	return fmt.Errorf("date %q is not YYYY-MM-DD or MM-DD", s)
}
