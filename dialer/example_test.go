package dialer_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
)

// A campaign of two contacts against the scripted fake backend, on the
// in-process store: one busy then answered, one answered.
func Example() {
	camp := dialer.Campaign{
		ID:     "example",
		Trunks: []dialer.Trunk{{Name: "carrier", Channel: "PJSIP/${number}@carrier", Ports: 2, CPS: 10}},
		Hours:  dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{
			dialer.Busy: {Max: 1, Delay: 10 * time.Millisecond},
		},
	}
	fake := dialertest.New(nil, func(c dialer.Call, n int) dialertest.Step {
		if c.ContactID == "bob" && n == 0 {
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Busy}}
		}
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: time.Millisecond}
	})
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: fake, Logger: discard()})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = eng.Create(ctx)
	csv := "id,number,timezone\nann,+442079460000,Europe/London\nbob,+442079460001,Europe/London\n"
	rep, _ := dialer.ImportCSV(ctx, strings.NewReader(csv), &dialer.Normalizer{}, func(cs []dialer.Contact) error {
		_, _, err := eng.Add(ctx, cs)
		return err
	})
	p, _ := eng.Run(ctx)
	fmt.Println("imported", rep.Accepted, "attempts", p.Attempts, "answered", p.Final[dialer.StatusAnswered], "busy", p.ByDisposition[dialer.Busy])
	// Output: imported 2 attempts 3 answered 2 busy 1
}

// Calling hours are checked in each contact's zones; a number that maps to
// several zones is called only when every one of them is open.
func ExampleSchedule_NextOpen() {
	s, _ := dialer.Hours{}.Compile() // default 08:00-21:00 local
	ny, _ := time.LoadLocation("America/New_York")
	la, _ := time.LoadLocation("America/Los_Angeles")
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	next, _ := s.NextOpen(at, []*time.Location{ny, la})
	fmt.Println(next.UTC().Format(time.RFC3339))
	// Output: 2026-12-01T16:00:00Z
}
