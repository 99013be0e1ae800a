package flows

import (
	"strings"
	"testing"
	"time"
)

const hoursFlow = `
name: hours
start: hours
nodes:
  hours:
    kind: time
    zone: %ZONE%
    holidays:
      - dates: ["12-25", "2026-01-01"]
        next: closed
      - name: short_day
        dates: ["12-24"]
        from: "09:00"
        to: "12:00"
        next: open
    rules:
      - name: Workday
        days: mon-fri
        from: "09:00"
        to: "20:30"
        next: open
      - name: Weekend
        days: [sat, sun]
        from: "10:00"
        to: "20:30"
        next: open
      - name: Evening
        from: "20:30"
        to: "23:00"
        next: evening
    default: closed
  open:
    kind: hangup
  evening:
    kind: hangup
  closed:
    kind: hangup
`

func hoursNode(t *testing.T, zone string) *Time {
	t.Helper()
	f, err := Parse("hours.yaml", []byte(strings.Replace(hoursFlow, "%ZONE%", zone, 1)), Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return f.Nodes["hours"].Time
}

func TestTimeRoute(t *testing.T) {
	tn := hoursNode(t, "Europe/Berlin")
	berlin := tn.Zone
	at := func(date, clock string) time.Time {
		ts, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	// 2026-03-04 is a Wednesday, 2026-03-07 a Saturday.
	tests := []struct {
		date, clock string
		rule        string // "" = default
	}{
		{"2026-03-04", "08:59:59", ""},
		{"2026-03-04", "09:00:00", "Workday"},
		{"2026-03-04", "20:29:59", "Workday"},
		{"2026-03-04", "20:30:00", "Evening"},
		{"2026-03-04", "22:59:59", "Evening"},
		{"2026-03-04", "23:00:00", ""},
		{"2026-03-04", "00:00:00", ""},
		{"2026-03-07", "09:00:00", ""}, // weekend opens at 10
		{"2026-03-07", "09:59:59", ""},
		{"2026-03-07", "10:00:00", "Weekend"},
		{"2026-03-07", "20:29:00", "Weekend"},
		{"2026-03-07", "20:30:00", "Evening"},
		{"2026-03-08", "12:00:00", "Weekend"}, // Sunday
		{"2026-12-25", "12:00:00", "holiday"}, // Friday, but Christmas
		{"2026-12-25", "21:00:00", "holiday"}, // the whole day
		{"2026-01-01", "12:00:00", "holiday"},
		{"2027-01-01", "12:00:00", "Workday"}, // dated holiday only in 2026
		{"2026-12-24", "10:00:00", "short_day"},
		{"2026-12-24", "13:00:00", "Workday"}, // outside the short-day window the weekly rules apply
	}
	for _, tt := range tests {
		outcome, rule := tn.Route(at(tt.date, tt.clock))
		want := tt.rule
		wantOutcome := OutcomeDefault
		if want != "" {
			wantOutcome = RuleOutcome(want)
		}
		if outcome != wantOutcome || rule != want {
			t.Errorf("%s %s: Route = %q, %q; want %q, %q", tt.date, tt.clock, outcome, rule, wantOutcome, want)
		}
	}
}

// TestTimeRouteZone checks that the same instant routes by the node's zone,
// whatever zone the instant carries, including on DST change days.
func TestTimeRouteZone(t *testing.T) {
	tn := hoursNode(t, "America/New_York")
	// 13:00 UTC on a Wednesday in winter is 08:00 in New York: closed.
	if _, rule := tn.Route(time.Date(2026, 1, 7, 13, 0, 0, 0, time.UTC)); rule != "" {
		t.Errorf("08:00 New York routed to %q", rule)
	}
	// 14:00 UTC is 09:00 EST: open.
	if _, rule := tn.Route(time.Date(2026, 1, 7, 14, 0, 0, 0, time.UTC)); rule != "Workday" {
		t.Errorf("09:00 New York routed to %q", rule)
	}
	// DST starts 2026-03-08 (a Sunday) at 02:00 -> 03:00 in New York. 10:00
	// EDT is 14:00 UTC: wall clock, not elapsed time since midnight, decides.
	if _, rule := tn.Route(time.Date(2026, 3, 8, 14, 0, 0, 0, time.UTC)); rule != "Weekend" {
		t.Errorf("10:00 EDT on the DST day routed to %q", rule)
	}
	if _, rule := tn.Route(time.Date(2026, 3, 8, 13, 59, 0, 0, time.UTC)); rule != "" {
		t.Errorf("09:59 EDT on the DST day routed to %q", rule)
	}
	// DST ends 2026-11-01 (Sunday): 20:30 EST is 01:30 UTC next day.
	if _, rule := tn.Route(time.Date(2026, 11, 2, 1, 29, 0, 0, time.UTC)); rule != "Weekend" {
		t.Errorf("20:29 EST on the DST-end day routed to %q", rule)
	}
}

func TestSalesHours(t *testing.T) {
	f, err := Load("sales.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	tn := f.Nodes["office_hours"].Time
	ny := tn.Zone
	tests := []struct {
		when time.Time
		dst  string
	}{
		{time.Date(2026, 3, 4, 8, 59, 0, 0, ny), "transfer_cellphone"},
		{time.Date(2026, 3, 4, 9, 0, 0, 0, ny), "main_menu"},
		{time.Date(2026, 3, 4, 20, 29, 0, 0, ny), "main_menu"},
		{time.Date(2026, 3, 4, 20, 30, 0, 0, ny), "transfer_hst"},
		{time.Date(2026, 3, 4, 22, 59, 0, 0, ny), "transfer_hst"},
		{time.Date(2026, 3, 4, 23, 0, 0, 0, ny), "transfer_cellphone"},
		{time.Date(2026, 3, 7, 9, 30, 0, 0, ny), "transfer_cellphone"},
		{time.Date(2026, 3, 7, 10, 0, 0, 0, ny), "main_menu"},
		{time.Date(2026, 3, 7, 21, 0, 0, 0, ny), "transfer_hst"},
	}
	for _, tt := range tests {
		outcome, _ := tn.Route(tt.when)
		if got := f.Nodes["office_hours"].Next[outcome]; got != tt.dst {
			t.Errorf("%s: %s -> %s, want %s", tt.when.Format("Mon 15:04"), outcome, got, tt.dst)
		}
	}
}

func TestParseDays(t *testing.T) {
	got, err := parseDays([]string{"fri-mon", "Wednesday"})
	if err != nil {
		t.Fatal(err)
	}
	want := [7]bool{time.Sunday: true, time.Monday: true, time.Wednesday: true, time.Friday: true, time.Saturday: true}
	if got != want {
		t.Errorf("fri-mon,wed = %v", got)
	}
	if _, err := parseDays([]string{"mon-fry"}); err == nil {
		t.Error("fry accepted")
	}
	for _, bad := range []string{"9:5", "24:01", "25:00", "12:60", "noon", "-1:00"} {
		if _, err := parseClock(bad); err == nil {
			t.Errorf("parseClock(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"2026-02-30", "13-01", "12/25"} {
		if checkDate(bad) == nil {
			t.Errorf("checkDate(%q) accepted", bad)
		}
	}
	if checkDate("02-29") != nil {
		t.Error("02-29 refused as a yearly date")
	}
}
