package dialer

import (
	"context"
	"errors"
	"time"
)

// Errors of the stores, for errors.Is.
var (
	// ErrNoCampaign: the campaign was never created in the store.
	ErrNoCampaign = errors.New("dialer: no such campaign")
	// ErrPaused: the campaign is paused; nothing is claimed.
	ErrPaused = errors.New("dialer: campaign paused")
	// ErrCancelled: the campaign is cancelled; nothing is claimed.
	ErrCancelled = errors.New("dialer: campaign cancelled")
	// ErrLeaseLost: the contact is no longer leased by this owner (the
	// lease expired and another dialer took it over); the caller must not
	// dial it or record an outcome for it.
	ErrLeaseLost = errors.New("dialer: lease lost")
)

// RunState is a campaign's run state.
type RunState string

// Run states.
const (
	CampaignRunning   RunState = "running"
	CampaignPaused    RunState = "paused"
	CampaignCancelled RunState = "cancelled"
)

// Lease is a contact claimed by one dialer until Expires.
type Lease struct {
	Contact  Contact
	Owner    string
	Expires  time.Time
	Status   ContactStatus // StatusClaimed, or StatusDialing for a taken-over lease whose attempt began
	Attempts int           // attempts begun so far (lifetime)
	Counts   map[Disposition]int
	// Attempt is the begun attempt of a taken-over lease (Status dialing).
	Attempt *Attempt
}

// Attempt is the record of one attempt, written (Begin) before the
// originate and completed (Finish) with its outcome.
type Attempt struct {
	ID          string
	Contact     string
	Number      string
	Trunk       string
	Owner       string
	Seq         int // 1 for the contact's first attempt
	Started     time.Time
	Answered    time.Time
	Ended       time.Time
	Disposition Disposition // "" while dialing
	Reason      string
	Cause       string
}

// Result completes an attempt: its outcome (in Attempt) and what happens to
// the contact next.
type Result struct {
	Attempt Attempt
	Next    Next
}

// Progress is a campaign's counters: the same numbers the preflight, the
// progress bar and the API show.
type Progress struct {
	State    RunState
	Contacts int // contacts added
	Due      int // waiting (first try or retry)
	Retrying int // of Due, those with at least one attempt
	InFlight int // leased (claimed or dialing), by every dialer
	Attempts int // attempts begun
	// ByDisposition counts finished attempts; Final counts contacts per
	// final status.
	ByDisposition map[Disposition]int
	Final         map[ContactStatus]int
}

// Done reports whether nothing is left to do: no contact due or in flight
// (or the campaign is cancelled and nothing is in flight).
func (p Progress) Done() bool {
	return p.InFlight == 0 && (p.Due == 0 || p.State == CampaignCancelled)
}

// ClaimRequest asks for up to Max due contacts.
type ClaimRequest struct {
	Owner string
	Now   time.Time
	Max   int
	Lease time.Duration
}

// Store holds campaign state. Implementations: the in-process MemStore (one
// process, no Redis) and RedisStore (several processes on several machines
// share a campaign). Both pass one conformance suite.
//
// The life of a contact: Add puts it in the due set; Claim leases it to one
// owner (counted against the campaign's global limit) if it is due; Begin
// writes the attempt record (before the originate); Finish stores the
// outcome and either re-queues the contact or makes it final. Release puts a
// claimed contact back (outside its hours) or finalises it (DNC) without an
// attempt. Takeover hands expired leases (their owner died) to a live
// dialer, which reconciles them.
type Store interface {
	// Create registers a campaign with its global concurrency limit; an
	// existing campaign keeps its contacts and state (its limit is updated).
	Create(ctx context.Context, campaign string, limit int) error
	// Add adds contacts due at their given times; a contact whose id exists
	// is left as it is (an import re-run after a crash adds nothing twice).
	Add(ctx context.Context, campaign string, contacts []Contact, due []time.Time) (added int, err error)
	// Claim leases up to r.Max contacts due at r.Now, never more than the
	// campaign's limit minus the leases held (expired ones included, until
	// taken over). ErrPaused / ErrCancelled when not running.
	Claim(ctx context.Context, campaign string, r ClaimRequest) ([]Lease, error)
	// Begin writes the attempt record and marks the contact dialing.
	// ErrLeaseLost if owner no longer holds the lease.
	Begin(ctx context.Context, campaign string, a Attempt) error
	// Renew extends the leases owner holds on the contacts to until; it
	// returns the ids whose lease was lost.
	Renew(ctx context.Context, campaign, owner string, contacts []string, until time.Time) (lost []string, err error)
	// Finish stores an attempt's outcome and the contact's next step, and
	// drops the lease. Repeating it is a no-op; ErrLeaseLost if owner no
	// longer holds the lease.
	Finish(ctx context.Context, campaign, owner string, r Result) error
	// Release drops the lease on a claimed (not begun) contact: due again
	// at next.Due, or final.
	Release(ctx context.Context, campaign, owner, contact string, next Next) error
	// Takeover leases up to max contacts whose lease expired before now to
	// owner (for reconciliation).
	Takeover(ctx context.Context, campaign, owner string, now time.Time, lease time.Duration, max int) ([]Lease, error)
	// NextDue is the due time of the earliest due contact (false: none).
	NextDue(ctx context.Context, campaign string) (time.Time, bool, error)
	// SetState pauses, resumes or cancels.
	SetState(ctx context.Context, campaign string, s RunState) error
	Progress(ctx context.Context, campaign string) (Progress, error)
	// Contact returns a contact's status and its attempts in order.
	Contact(ctx context.Context, campaign, id string) (ContactStatus, []Attempt, error)
}
