package dialer

import (
	"context"
	"time"
)

// Preflight counts what a campaign will do before it starts: the same
// numbers the progress shows. Feed it every accepted contact (Count) and
// the import report (Report); Trunk is the backend's Ping result.
type Preflight struct {
	Contacts     int // accepted by the import
	DialableNow  int // inside their hours now and not on the DNC list
	OutsideHours int // will be called when their hours open
	NeverOpen    int // hours never open in their zones: not added
	DNC          int // on the DNC list now (checked again before each originate)
	// Skipped counts the rows the import rejected, by reason.
	Skipped map[ProblemReason]int
	// TrunkErr is the backend's Ping error (nil: reachable or not checked).
	TrunkErr     error
	TrunkChecked bool
}

// Count adds contacts to the preflight at now.
func (p *Preflight) Count(ctx context.Context, e *Engine, cs []Contact, dnc DNC, now time.Time) error {
	for _, c := range cs {
		p.Contacts++
		if dnc != nil {
			listed, err := dnc.Contains(ctx, c.Number)
			if err != nil {
				return err
			}
			if listed {
				p.DNC++
				continue
			}
		}
		at, ok := e.DueAt(c, now)
		switch {
		case !ok:
			p.NeverOpen++
		case at.After(now):
			p.OutsideHours++
		default:
			p.DialableNow++
		}
	}
	return nil
}

// Report takes the import's rejected rows.
func (p *Preflight) Report(r ImportReport) {
	if p.Skipped == nil {
		p.Skipped = map[ProblemReason]int{}
	}
	for k, v := range r.ByReason {
		p.Skipped[k] += v
	}
}

// Ping checks the trunk when the backend can (Pinger).
func (p *Preflight) Ping(ctx context.Context, b Backend) {
	if pg, ok := b.(Pinger); ok {
		p.TrunkChecked = true
		p.TrunkErr = pg.Ping(ctx)
	}
}
