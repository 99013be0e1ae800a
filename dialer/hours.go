package dialer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrHours is wrapped by every calling-hours configuration error.
var ErrHours = errors.New("dialer: invalid calling hours")

// Window is one calling window on some weekdays, in the called party's
// local time: [From, To).
type Window struct {
	Days string `yaml:"days"` // "mon-fri", "sat,sun", "mon", "" = every day
	From string `yaml:"from"` // "08:00"
	To   string `yaml:"to"`   // "21:00"
}

// Hours is a campaign's calling hours, evaluated in each contact's time
// zone. With no windows the default is every day 08:00-21:00 local time
// (the US TCPA rule). Holidays are "MM-DD" (every year) or "YYYY-MM-DD" in the
// contact's local calendar: no calls on those days.
type Hours struct {
	Windows  []Window `yaml:"windows"`
	Holidays []string `yaml:"holidays"`
}

// DefaultWindow is used when Hours has no windows.
var defaultWindow = Window{From: "08:00", To: "21:00"}

// Schedule is compiled Hours.
type Schedule struct {
	days     [7][]span // by time.Weekday
	holidays map[string]bool
}

type span struct{ from, to int } // minutes after local midnight

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseDays(s string) ([]time.Weekday, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
	}
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := weekdays[lo]
		if !ok {
			return nil, fmt.Errorf("%w: unknown day %q", ErrHours, lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := weekdays[hi]
		if !ok {
			return nil, fmt.Errorf("%w: unknown day %q", ErrHours, hi)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("%w: time %q is not HH:MM", ErrHours, s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Compile checks h and returns its schedule.
func (h Hours) Compile() (*Schedule, error) {
	s := &Schedule{holidays: map[string]bool{}}
	windows := h.Windows
	if len(windows) == 0 {
		windows = []Window{defaultWindow}
	}
	for _, w := range windows {
		days, err := parseDays(w.Days)
		if err != nil {
			return nil, err
		}
		from, err := parseClock(w.From)
		if err != nil {
			return nil, err
		}
		to, err := parseClock(w.To)
		if err != nil {
			return nil, err
		}
		if to <= from {
			return nil, fmt.Errorf("%w: window %s-%s ends before it starts", ErrHours, w.From, w.To)
		}
		for _, d := range days {
			s.days[d] = append(s.days[d], span{from, to})
		}
	}
	for i := range s.days {
		sort.Slice(s.days[i], func(a, b int) bool { return s.days[i][a].from < s.days[i][b].from })
	}
	for _, d := range h.Holidays {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			if _, err := time.Parse("01-02", d); err != nil {
				return nil, fmt.Errorf("%w: holiday %q is not YYYY-MM-DD or MM-DD", ErrHours, d)
			}
		}
		s.holidays[d] = true
	}
	return s, nil
}

// openIn reports whether t falls in a window in loc.
func (s *Schedule) openIn(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	if s.holidays[lt.Format("01-02")] || s.holidays[lt.Format("2006-01-02")] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range s.days[lt.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// Open reports whether t is inside the calling hours in every one of the
// zones (a number that maps to several zones may be called only when the
// window holds in all of them). No zones means never open: an unknown zone
// is never dialed.
func (s *Schedule) Open(t time.Time, zones []*time.Location) bool {
	if len(zones) == 0 {
		return false
	}
	for _, loc := range zones {
		if !s.openIn(t, loc) {
			return false
		}
	}
	return true
}

// searchDays bounds NextOpen: a schedule closed for this long in the
// intersection of a contact's zones is treated as never open.
const searchDays = 400

// NextOpen returns the earliest instant at or after t when Open holds, and
// false if there is none within about a year. The intersection of windows in
// several zones opens either at t or at a window start in one of the zones,
// so only those instants need checking.
func (s *Schedule) NextOpen(t time.Time, zones []*time.Location) (time.Time, bool) {
	if len(zones) == 0 {
		return time.Time{}, false
	}
	if s.Open(t, zones) {
		return t, true
	}
	// Collect the window starts of every zone over the next days, sorted,
	// and take the first one open everywhere. Zones differ by up to ~26 h, so
	// a candidate is trusted only well inside the searched range; a week
	// first (the usual case), then the whole bound.
	for _, days := range []int{9, searchDays} {
		var cands []time.Time
		for _, loc := range zones {
			lt := t.In(loc)
			for day := 0; day < days; day++ {
				d := time.Date(lt.Year(), lt.Month(), lt.Day()+day, 0, 0, 0, 0, loc)
				for _, sp := range s.days[d.Weekday()] {
					c := time.Date(d.Year(), d.Month(), d.Day(), sp.from/60, sp.from%60, 0, 0, loc)
					if c.After(t) {
						cands = append(cands, c)
					}
				}
			}
		}
		sort.Slice(cands, func(a, b int) bool { return cands[a].Before(cands[b]) })
		trusted := t.Add(time.Duration(days-2) * 24 * time.Hour)
		for _, c := range cands {
			if days != searchDays && !c.Before(trusted) {
				break
			}
			if s.Open(c, zones) {
				return c, true
			}
		}
	}
	return time.Time{}, false
}
