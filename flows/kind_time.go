package flows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Time routes by the local time in Zone. The ops override (if any) is read
// first; then Holidays; then Rules in order; else OutcomeDefault.
type Time struct {
	Zone     *time.Location
	Override *Override
	Rules    []TimeRule
}

// TimeRule matches when the date is one of Dates (if any) or the weekday is
// in Days, and the time of day is within [From, To).
type TimeRule struct {
	Name  string
	Days  [7]bool       // indexed by time.Weekday
	Dates []string      // "2026-12-25" or "12-25" (every year)
	From  time.Duration // since local midnight
	To    time.Duration
}

// Override is the ops override of a time node, read from Redis under Key
// (per flow) with a bound of Timeout; no answer in time means no override.
// The value is "goto <node>" (node must be in Nodes) or "<action> <args>"
// with action in Actions (e.g. transfer, playback, hangup). Anything else is
// refused and logged.
type Override struct {
	Key     string
	Timeout time.Duration
	Actions []string
	Nodes   []string
	// AllowRemotePrompts lets a playback override name a URL or an absolute
	// path; by default only prompt paths relative to the sounds are played.
	AllowRemotePrompts bool
}

// OverrideKey is the default Redis key of a flow's time override.
func OverrideKey(flow string) string { return "fsivr:override:" + flow }

func (c *compiler) time(nf *fields, n *Node) {
	t := &Time{}
	n.Time = t
	if zone, ok := nf.scalar("zone", true); ok {
		if zone == "" || zone == "Local" {
			nf.errf(nf.lineOf("zone"), "zone must be an IANA name such as Europe/Berlin (not the machine's local zone)")
		} else if loc, err := time.LoadLocation(zone); err != nil {
			nf.errf(nf.lineOf("zone"), "unknown time zone %q", zone)
		} else {
			t.Zone = loc
		}
	}
	names := map[string]bool{}
	rules := func(key string, holiday bool) {
		v := nf.get(key)
		if v == nil {
			return
		}
		if v.Kind != yaml.SequenceNode {
			nf.errf(v.Line, "%s must be a list", key)
			return
		}
		for i, item := range v.Content {
			rf := newFields(nf.r, item, n.ID, "a "+key+" entry")
			if rf == nil {
				continue
			}
			r := TimeRule{}
			def := ""
			if holiday {
				def = "holiday"
				if i > 0 {
					def = fmt.Sprintf("holiday%d", i+1)
				}
			}
			r.Name = rf.str("name", !holiday, def)
			if r.Name != "" && !isIdent(r.Name) {
				rf.errf(rf.lineOf("name"), "rule name %q must be an identifier", r.Name)
			}
			if names[r.Name] {
				rf.errf(rf.lineOf("name"), "rule name %q is used twice", r.Name)
			}
			names[r.Name] = true
			r.Dates = rf.list("dates", holiday)
			for _, d := range r.Dates {
				if err := checkDate(d); err != nil {
					rf.errf(rf.lineOf("dates"), "rule %q: %v", r.Name, err)
				}
			}
			if rf.has("days") {
				if holiday || len(r.Dates) > 0 {
					rf.errf(rf.lineOf("days"), "rule %q: use either days or dates, not both", r.Name)
				}
				days, err := parseDays(rf.list("days", false))
				if err != nil {
					rf.errf(rf.lineOf("days"), "rule %q: %v", r.Name, err)
				}
				r.Days = days
			} else {
				r.Days, _ = parseDays([]string{"all"})
			}
			var err error
			if r.From, err = parseClock(rf.str("from", false, "00:00")); err != nil {
				rf.errf(rf.lineOf("from"), "rule %q: from: %v", r.Name, err)
			}
			if r.To, err = parseClock(rf.str("to", false, "24:00")); err != nil {
				rf.errf(rf.lineOf("to"), "rule %q: to: %v", r.Name, err)
			}
			if r.From >= r.To {
				rf.errf(rf.lineOf("to"), "rule %q: window %s-%s is empty or crosses midnight (split it into two rules)", r.Name, fmtClock(r.From), fmtClock(r.To))
			}
			c.target(rf, n, "next", RuleOutcome(r.Name), true)
			rf.check("a " + key + " entry")
			t.Rules = append(t.Rules, r)
		}
	}
	// Holidays are checked before the weekly rules.
	rules("holidays", true)
	rules("rules", false)
	if len(t.Rules) == 0 && !nf.has("rules") && !nf.has("holidays") {
		nf.errf(nf.line, "a time node needs rules (or holidays)")
	}
	c.target(nf, n, "default", OutcomeDefault, true)
	if ov := nf.get("override"); ov != nil {
		c.override(nf, n, ov)
	}
}

func fmtClock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func (c *compiler) override(nf *fields, n *Node, v *yaml.Node) {
	of := newFields(nf.r, v, n.ID, "override")
	if of == nil {
		return
	}
	o := &Override{}
	n.Time.Override = o
	o.Key = of.str("key", false, OverrideKey(c.f.Name))
	if o.Key == "" || strings.ContainsAny(o.Key, " \t") {
		of.errf(of.lineOf("key"), "override key %q must be a non-empty Redis key without spaces", o.Key)
	}
	o.Timeout = of.duration("timeout", false, DefaultOverrideTimeout)
	o.Actions = of.list("actions", false)
	o.AllowRemotePrompts = of.boolean("allow_remote_prompts", false)
	for _, a := range o.Actions {
		if !slices.Contains(overrideActions, a) {
			of.errf(of.lineOf("actions"), "override action %q is not allowed (allowed: %s)", a, strings.Join(overrideActions, ", "))
		}
	}
	if g := of.get("goto"); g != nil {
		for _, item := range scalarList(of, "goto", g) {
			if slices.Contains(o.Nodes, item) {
				continue
			}
			o.Nodes = append(o.Nodes, item)
			c.edge(n, of.lineOf("goto"), "override goto", GotoOutcome(item), item)
		}
	}
	if len(o.Actions) == 0 && len(o.Nodes) == 0 {
		of.errf(of.line, "override allows nothing: list actions (transfer, playback, hangup) and/or goto nodes")
	}
	of.check("override")
	n.Next[OutcomeOverride] = StateEnd
	n.Outcomes = append(n.Outcomes, OutcomeOverride)
}

// Route picks the outcome of a time node for the instant now: the first rule
// (holidays come first, then rules in file order) whose date or weekday and
// time-of-day window match the wall clock in Zone gives RuleOutcome(name) and
// the rule name; no match gives OutcomeDefault and "". The override is not
// consulted here: the runtime reads it (with its own bound) before calling
// Route. Times are compared as wall-clock hour:minute:second in Zone, so a DST
// change does not shift the windows.
func (t *Time) Route(now time.Time) (outcome Outcome, rule string) {
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
			return RuleOutcome(r.Name), r.Name
		}
	}
	return OutcomeDefault, ""
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
