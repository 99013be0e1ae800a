package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

func TestImportCSVReport(t *testing.T) {
	csv := strings.Join([]string{
		"id,number,timezone,name",
		"a1,+1 212 555 0100,,Ann",               // row 2: ok, zone derived (New York)
		"a2,(415) 555-0101,,Bob",                // row 3: ok, national format with default region US
		"a3,12345,,Cid",                         // row 4: invalid number
		"a4,+33 1 42 68 53 00,Mars/Olympus,Dee", // row 5: unknown zone
		"a5,+1-212-555-0100,,Eve",               // row 6: duplicate number of row 2
		"a1,+44 20 7946 0000,,Fay",              // row 7: duplicate id
		"a7,+442079460001,Europe/London,Gus",    // row 8: ok
		"a8,+442079460002",                      // row 9: short row
		"a9,+442079460003,,bad|pipe",            // row 10: unsafe variable value
		"a10,+18005550100,,Hal",                 // row 11: ok, many zones
	}, "\n")
	var got []dialer.Contact
	rep, err := dialer.ImportCSV(context.Background(), strings.NewReader(csv), &dialer.Normalizer{DefaultRegion: "US"},
		func(cs []dialer.Contact) error { got = append(got, cs...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 10 || rep.Accepted != 4 || len(got) != 4 {
		t.Fatalf("rows %d accepted %d got %d: %+v", rep.Rows, rep.Accepted, len(got), rep.Problems)
	}
	want := []struct {
		row    int
		col    string
		reason dialer.ProblemReason
	}{
		{4, "number", dialer.ProblemInvalidNumber},
		{5, "timezone", dialer.ProblemUnknownZone},
		{6, "number", dialer.ProblemDuplicate},
		{7, "id", dialer.ProblemDuplicate},
		{9, "", dialer.ProblemShortRow},
		{10, "name", dialer.ProblemInvalidValue},
	}
	if len(rep.Problems) != len(want) {
		t.Fatalf("problems %v", rep.Problems)
	}
	for i, w := range want {
		p := rep.Problems[i]
		if p.Row != w.row || p.Column != w.col || p.Reason != w.reason {
			t.Errorf("problem %d = %v, want row %d column %q %s", i, p, w.row, w.col, w.reason)
		}
	}
	if got[0].Number != "+12125550100" || got[0].Zones[0] != "America/New_York" || got[0].Vars["name"] != "Ann" {
		t.Errorf("contact 1 = %+v", got[0])
	}
	if got[1].Number != "+14155550101" || got[1].Zones[0] != "America/Los_Angeles" {
		t.Errorf("contact 2 = %+v", got[1])
	}
	if len(got[3].Zones) < 5 {
		t.Errorf("a toll-free +1 number should map to many zones, got %v", got[3].Zones)
	}
	if rep.ByReason[dialer.ProblemDuplicate] != 2 {
		t.Errorf("by reason %v", rep.ByReason)
	}
}

func TestImportCSVNeedsNumberColumn(t *testing.T) {
	_, err := dialer.ImportCSV(context.Background(), strings.NewReader("id,phone_no\n1,2\n"), &dialer.Normalizer{}, func([]dialer.Contact) error { return nil })
	if !errors.Is(err, dialer.ErrImport) {
		t.Errorf("err = %v, want ErrImport", err)
	}
}

func mustSchedule(t *testing.T, h dialer.Hours) *dialer.Schedule {
	t.Helper()
	s, err := h.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleDefaultAndSeveralZones(t *testing.T) {
	s := mustSchedule(t, dialer.Hours{})
	ny, la := mustLoc("America/New_York"), mustLoc("America/Los_Angeles")
	// 12:30 UTC = 07:30 New York: closed; opens 13:00 UTC (08:00 NY).
	at := time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC)
	if s.Open(at, []*time.Location{ny}) {
		t.Error("07:30 local is outside the default 08:00-21:00")
	}
	next, ok := s.NextOpen(at, []*time.Location{ny})
	if !ok || !next.Equal(time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("NextOpen NY = %v", next)
	}
	// Both zones: the window must hold in Los Angeles too: 08:00 LA = 16:00 UTC.
	next, ok = s.NextOpen(at, []*time.Location{ny, la})
	if !ok || !next.Equal(time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("NextOpen NY+LA = %v", next)
	}
	// 01:30 UTC Dec 2 = 20:30 NY (open) but 17:30 LA (open): open in both.
	if !s.Open(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC), []*time.Location{ny, la}) {
		t.Error("20:30 NY / 17:30 LA should be open")
	}
	// 02:30 UTC = 21:30 NY: closed in NY, so closed for the pair.
	if s.Open(time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC), []*time.Location{ny, la}) {
		t.Error("21:30 NY must close the pair")
	}
	if s.Open(at, nil) {
		t.Error("no zone must never be open")
	}
	if _, ok := s.NextOpen(at, nil); ok {
		t.Error("no zone must never open")
	}
}

func TestScheduleWeekdaysHolidays(t *testing.T) {
	s := mustSchedule(t, dialer.Hours{
		Windows:  []dialer.Window{{Days: "mon-fri", From: "09:00", To: "17:00"}},
		Holidays: []string{"12-25", "2026-12-28"},
	})
	paris := []*time.Location{mustLoc("Europe/Paris")}
	// Thursday Dec 24 18:00 Paris: next is not Fri 25 (holiday), not the
	// weekend, not Mon 28 (holiday): Tue 29 09:00 Paris = 08:00 UTC.
	at := time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)
	next, ok := s.NextOpen(at, paris)
	if !ok || !next.Equal(time.Date(2026, 12, 29, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("NextOpen = %v", next)
	}
	for _, bad := range []dialer.Hours{
		{Windows: []dialer.Window{{Days: "mon-fry", From: "09:00", To: "17:00"}}},
		{Windows: []dialer.Window{{From: "18:00", To: "09:00"}}},
		{Windows: []dialer.Window{{From: "9am", To: "17:00"}}},
		{Holidays: []string{"25/12"}},
	} {
		if _, err := bad.Compile(); !errors.Is(err, dialer.ErrHours) {
			t.Errorf("%+v: err %v, want ErrHours", bad, err)
		}
	}
}

func TestCampaignCheckRefusesRetryOfFinal(t *testing.T) {
	c := dialer.Campaign{ID: "x", Trunks: []dialer.Trunk{{Name: "t", Ports: 1}},
		Retries: map[dialer.Disposition]dialer.Retry{dialer.InvalidNumber: {Max: 1}}}
	if _, err := c.Check(); !errors.Is(err, dialer.ErrCampaign) {
		t.Errorf("retrying invalid_number accepted: %v", err)
	}
	c = dialer.Campaign{ID: "x", Trunks: []dialer.Trunk{{Name: "t", Ports: 1, Channel: "PJSIP/${number}\r\nAction: Hangup"}}}
	if _, err := c.Check(); !errors.Is(err, dialer.ErrInvalidValue) {
		t.Errorf("CR/LF in a channel accepted: %v", err)
	}
}

func TestReadDNC(t *testing.T) {
	d, err := dialer.ReadDNC(strings.NewReader("# opt-outs\n+1 212 555 0100\n\n(415) 555-0101\n"), &dialer.Normalizer{DefaultRegion: "US"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.Contains(context.Background(), "+14155550101"); !ok || d.Len() != 2 {
		t.Errorf("DNC %d entries, contains +14155550101 %v", d.Len(), ok)
	}
	if _, err := dialer.ReadDNC(strings.NewReader("+1 212 555 0100\nnot a number\n"), &dialer.Normalizer{}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad DNC line: %v", err)
	}
}

// TestImportCSVOrderAcrossChunks: rows normalised in parallel still come
// out in order: batches, problems and "first one wins" for duplicates.
func TestImportCSVOrderAcrossChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("number\n")
	for i := range 5000 {
		if i%700 == 699 {
			b.WriteString("+44 20 7946 0000\n") // duplicate of row 2
			continue
		}
		if i%1000 == 500 {
			b.WriteString("bogus\n")
			continue
		}
		fmt.Fprintf(&b, "+1 212 %03d %04d\n", 200+i/10000, i%10000)
	}
	var got []string
	rep, err := dialer.ImportCSV(context.Background(), strings.NewReader(strings.Replace(b.String(), "+1 212 200 0000", "+44 20 7946 0000", 1)),
		&dialer.Normalizer{}, func(cs []dialer.Contact) error {
			for _, c := range cs {
				got = append(got, c.Number)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 5000 || len(got) != rep.Accepted || got[0] != "+442079460000" {
		t.Fatalf("rows %d accepted %d first %v", rep.Rows, rep.Accepted, got[:1])
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] && i > 1 {
			t.Fatalf("contact %d %s after %s: out of order", i, got[i], got[i-1])
		}
	}
	last := 0
	for _, p := range rep.Problems {
		if p.Row <= last {
			t.Fatalf("problems out of row order: %v", rep.Problems)
		}
		last = p.Row
	}
	if rep.ByReason[dialer.ProblemDuplicate] != 7 || rep.ByReason[dialer.ProblemInvalidNumber] != 5 {
		t.Errorf("by reason %v", rep.ByReason)
	}
	stop := errors.New("store down")
	if _, err := dialer.ImportCSV(context.Background(), strings.NewReader(b.String()), &dialer.Normalizer{},
		func([]dialer.Contact) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("sink error: %v", err)
	}
}

// FuzzImportCSV: whatever the bytes, the import never panics, accepts only
// E.164 numbers with known zones, and reports every other row.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"number\n+12125550100\n",
		"id,number,timezone,name\na,+44 20 7946 0000,Europe/London,x\nb,bogus,,y\n",
		"number,tz\n\"+1 212\n555 0100\",America/New_York\n",
		"number\n+12125550100\n+12125550100\n",
		"\ufeffNumber,Name\n(415) 555-0101,\"a,b\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var got []dialer.Contact
		rep, err := dialer.ImportCSV(context.Background(), strings.NewReader(in), &dialer.Normalizer{DefaultRegion: "US"},
			func(cs []dialer.Contact) error { got = append(got, cs...); return nil })
		if err != nil {
			return // no header or no number column: refused as a whole
		}
		if rep.Accepted != len(got) || rep.Accepted+len(rep.Problems) > rep.Rows {
			t.Fatalf("rows %d accepted %d problems %d got %d", rep.Rows, rep.Accepted, len(rep.Problems), len(got))
		}
		for _, c := range got {
			if !strings.HasPrefix(c.Number, "+") || len(c.Zones) == 0 {
				t.Fatalf("accepted %+v", c)
			}
			if err := dialer.CheckValue(c.ID); err != nil {
				t.Fatalf("accepted id %q: %v", c.ID, err)
			}
		}
	})
}
