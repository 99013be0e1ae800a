package dialer

import (
	"fmt"
	"time"
)

// Disposition is what became of one attempt: the one typed set every backend
// maps its protocol's outcomes onto (AMI Reason and hangup causes, FreeSWITCH
// hangup causes, call-file Status) and the retry policy is keyed by.
type Disposition string

// The dispositions. Following seed 000, anything that is neither answered
// nor cancelled is a failure to consider for a retry; only the retryable
// ones (Retryable) are ever retried, and only as the campaign's policy says.
const (
	// Answered: the called party picked up. Final.
	Answered Disposition = "answered"
	// Busy: the line was busy (AMI Reason 5, USER_BUSY). Retryable.
	Busy Disposition = "busy"
	// NoAnswer: it rang until the ring timeout or the network gave up
	// (AMI Reason 3, NO_ANSWER, NO_USER_RESPONSE). Retryable.
	NoAnswer Disposition = "no_answer"
	// Congestion: the network was congested for this call (AMI Reason 8,
	// NORMAL_CIRCUIT_CONGESTION). Retryable.
	Congestion Disposition = "congestion"
	// Failed: the call failed for a reason that may be temporary
	// (NORMAL_TEMPORARY_FAILURE, AMI Reason 0 without a finer cause). Retryable.
	Failed Disposition = "failed"
	// Throttled: the trunk refused the call for load (SIP 503/480,
	// CHANUNAVAIL in a burst, FreeSWITCH's sessions-per-second limit). It is
	// not the called party's fault: it backs the pacing off and is never
	// counted as busy, but it does count toward the lifetime attempt cap.
	Throttled Disposition = "throttled"
	// InvalidNumber: the number does not exist (UNALLOCATED_NUMBER,
	// INVALID_NUMBER_FORMAT). Final, never retried.
	InvalidNumber Disposition = "invalid_number"
	// Rejected: the called party or its network refused the call
	// (CALL_REJECTED). Final, never retried.
	Rejected Disposition = "rejected"
	// Cancelled: we ended the attempt (campaign cancelled). Final.
	Cancelled Disposition = "cancelled"
	// NotPlaced: the backend proves the call never reached the trunk (the
	// originate was not sent, or reconciliation found no trace of it). The
	// attempt does not count; the contact is dialed again.
	NotPlaced Disposition = "not_placed"
	// Unknown: the outcome was lost (the process died mid-call and no
	// Reconciler could tell). Final: an attempt that may have rung is never
	// re-dialed automatically.
	Unknown Disposition = "unknown"
)

// Dispositions lists every disposition.
func Dispositions() []Disposition {
	return []Disposition{Answered, Busy, NoAnswer, Congestion, Failed, Throttled,
		InvalidNumber, Rejected, Cancelled, NotPlaced, Unknown}
}

// Valid reports whether d is one of the declared dispositions.
func (d Disposition) Valid() bool {
	for _, x := range Dispositions() {
		if d == x {
			return true
		}
	}
	return false
}

// Retryable reports whether a retry rule may exist for d.
func (d Disposition) Retryable() bool {
	switch d {
	case Busy, NoAnswer, Congestion, Failed, Throttled:
		return true
	}
	return false
}

// ParseDisposition parses a disposition name.
func ParseDisposition(s string) (Disposition, error) {
	d := Disposition(s)
	if !d.Valid() {
		return "", fmt.Errorf("dialer: unknown disposition %q", s)
	}
	return d, nil
}

// ContactStatus is where a contact stands in its campaign.
type ContactStatus string

// Contact statuses. Due, Claimed and Dialing are live; the others are final.
const (
	StatusDue       ContactStatus = "due"       // waiting in the due set (first try or retry)
	StatusClaimed   ContactStatus = "claimed"   // leased by a dialer, not dialed yet
	StatusDialing   ContactStatus = "dialing"   // an attempt record exists and the call may live
	StatusAnswered  ContactStatus = "answered"  // final: an attempt was answered
	StatusExhausted ContactStatus = "exhausted" // final: retries or the lifetime cap used up
	StatusFailed    ContactStatus = "failed"    // final: a non-retryable disposition
	StatusDNC       ContactStatus = "dnc"       // final: on the do-not-call list at claim time
	StatusUnknown   ContactStatus = "unknown"   // final: an attempt's outcome was lost
	StatusCancelled ContactStatus = "cancelled" // final: the attempt was cancelled
)

// Final reports whether s is a final status.
func (s ContactStatus) Final() bool {
	switch s {
	case StatusDue, StatusClaimed, StatusDialing, "":
		return false
	}
	return true
}

// Retry is the rule for one retryable disposition: at most Max retries after
// an attempt ended with it, each Delay after that attempt ended.
type Retry struct {
	Max   int           `yaml:"max"`
	Delay time.Duration `yaml:"delay"`
}

// DefaultRetries is the policy when a campaign sets none.
func DefaultRetries() map[Disposition]Retry {
	return map[Disposition]Retry{
		Busy:       {Max: 2, Delay: 10 * time.Minute},
		NoAnswer:   {Max: 2, Delay: 30 * time.Minute},
		Congestion: {Max: 3, Delay: 2 * time.Minute},
		Failed:     {Max: 1, Delay: 10 * time.Minute},
		Throttled:  {Max: 10, Delay: 30 * time.Second},
	}
}

// notPlacedDelay is how long after a call that never reached the trunk the
// contact is due again; it is short because nobody was called.
const notPlacedDelay = 5 * time.Second
