package dialer

import (
	"strconv"
	"time"

	"github.com/fsivr/fsivr/calllog"
)

// AttemptRecord is the result of one attempt, as recorded.
type AttemptRecord struct {
	Campaign string
	Attempt
	Vars map[string]string // what the call reported back (Outcome.Vars)
}

// ContactRecord is the final result of one contact.
type ContactRecord struct {
	Campaign string
	Contact  string
	Number   string
	Status   ContactStatus
	Attempts int
	Last     Disposition // the last attempt's disposition ("" if never dialed)
	Time     time.Time
}

// Recorder receives one record per attempt and one per contact, after the
// store has them. It must not block (the calllog writer never does).
type Recorder interface {
	RecordAttempt(AttemptRecord)
	RecordContact(ContactRecord)
}

// Result stream entry kinds and fields (schema v1 of the call log, stream
// "attempts"; see the README's Dialer section).
const (
	KindAttempt = "attempt"
	KindContact = "contact"
)

// CallLogRecorder writes results through a calllog.Writer (so a Redis
// outage spools them to disk like IVR logs). Give the writer its own stream,
// e.g. calllog.Config{Stream: "attempts", Summary: "attempt"}.
type CallLogRecorder struct {
	W *calllog.Writer
}

func formatOpt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return calllog.FormatTime(t)
}

// RecordAttempt implements Recorder: entry call = attempt id, kind
// "attempt", value = disposition.
func (r CallLogRecorder) RecordAttempt(a AttemptRecord) {
	f := map[string]string{
		"campaign":    a.Campaign,
		"contact":     a.Contact,
		"number":      a.Number,
		"trunk":       a.Trunk,
		"seq":         strconv.Itoa(a.Seq),
		"disposition": string(a.Disposition),
		"reason":      a.Reason,
		"cause":       a.Cause,
		"start":       formatOpt(a.Started),
		"answer":      formatOpt(a.Answered),
		"end":         formatOpt(a.Ended),
		"duration_ms": "0",
		"owner":       a.Owner,
	}
	if !a.Answered.IsZero() && a.Ended.After(a.Answered) {
		f["duration_ms"] = strconv.FormatInt(a.Ended.Sub(a.Answered).Milliseconds(), 10)
	}
	for k, v := range a.Vars {
		f["var_"+k] = v
	}
	r.W.Append(calllog.Entry{Call: a.ID, Kind: KindAttempt, Value: string(a.Disposition), Fields: f, Time: a.Ended})
}

// RecordContact implements Recorder: entry call = "<campaign>/<contact>",
// kind "contact", value = final status.
func (r CallLogRecorder) RecordContact(c ContactRecord) {
	r.W.Append(calllog.Entry{
		Call: c.Campaign + "/" + c.Contact, Kind: KindContact, Value: string(c.Status), Time: c.Time,
		Fields: map[string]string{
			"campaign": c.Campaign, "contact": c.Contact, "number": c.Number,
			"status": string(c.Status), "attempts": strconv.Itoa(c.Attempts), "last_disposition": string(c.Last),
		},
	})
}
