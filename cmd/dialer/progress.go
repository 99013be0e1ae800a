package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/fsivr/fsivr/dialer"
)

// progressView shows a campaign's progress: a bar on a terminal, plain
// periodic lines otherwise (logs, CI, a pipe).
type progressView struct {
	out      io.Writer
	tty      bool
	interval time.Duration
	bar      *progressbar.ProgressBar
	start    time.Time
	total    int
}

func newProgressView(out io.Writer, tty bool, interval time.Duration, total int) *progressView {
	v := &progressView{out: out, tty: tty, interval: interval, start: time.Now(), total: total}
	if tty {
		v.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("dialing"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
	}
	return v
}

func finals(p dialer.Progress) int {
	n := 0
	for _, v := range p.Final {
		n += v
	}
	return n
}

// failed counts contacts that ended without an answer.
func failed(p dialer.Progress) int { return finals(p) - p.Final[dialer.StatusAnswered] }

// line is the one-line summary, the same figures in both modes.
func (v *progressView) line(p dialer.Progress) string {
	el := time.Since(v.start).Seconds()
	cps := 0.0
	if el > 0 {
		cps = float64(p.Attempts) / el
	}
	done := finals(p)
	eta := "-"
	if done > 0 && done < v.total {
		eta = (time.Duration(el/float64(done)*float64(v.total-done)) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("dialed=%d answered=%d failed=%d retrying=%d in_flight=%d remaining=%d calls/s=%.1f eta=%s",
		p.Attempts, p.Final[dialer.StatusAnswered], failed(p), p.Retrying, p.InFlight, p.Due+p.InFlight, cps, eta)
}

func (v *progressView) show(p dialer.Progress) {
	if v.tty {
		v.bar.Describe(v.line(p))
		_ = v.bar.Set(finals(p)) // writes to the terminal; an error there is not the campaign's
		return
	}
	fmt.Fprintf(v.out, "progress: %s\n", v.line(p))
}

// follow polls the store's counters until ctx ends.
func (v *progressView) follow(ctx context.Context, store dialer.Store, campaign string) {
	every := v.interval
	if v.tty {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if p, err := store.Progress(ctx, campaign); err == nil {
				v.show(p)
			}
		}
	}
}

func (v *progressView) finish(p dialer.Progress) {
	if v.tty {
		v.show(p)
		_ = v.bar.Finish()
		fmt.Fprintln(v.out)
	}
	fmt.Fprintf(v.out, "done: %s\n", v.line(p))
	fmt.Fprintf(v.out, "final: %v\nattempts by disposition: %v\n", p.Final, p.ByDisposition)
}
