package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/internal/redistest"
)

// The store conformance suite: the same cases on the in-process store, on
// a real single redis-server and on a real 3-node Redis Cluster.

func TestStoreMem(t *testing.T) {
	storeConformance(t, func(t *testing.T) dialer.Store { return dialer.NewMemStore() })
}

func TestStoreRedis(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	storeConformance(t, func(t *testing.T) dialer.Store { return dialer.NewRedisStore(client) })
}

func TestStoreRedisCluster(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{})
	client := cl.Client(t)
	storeConformance(t, func(t *testing.T) dialer.Store { return dialer.NewRedisStore(client) })
}

var t0 = time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)

func contactsN(n int) ([]dialer.Contact, []time.Time) {
	cs := make([]dialer.Contact, n)
	due := make([]time.Time, n)
	for i := range cs {
		cs[i] = dialer.Contact{ID: fmt.Sprintf("k%03d", i), Number: fmt.Sprintf("+1212555%04d", i),
			Zones: []string{"America/New_York"}, Vars: map[string]string{"name": fmt.Sprintf("n%d", i)}}
		due[i] = t0.Add(time.Duration(i) * time.Second)
	}
	return cs, due
}

var campaignSeq struct {
	sync.Mutex
	n int
}

// newCampaign creates a fresh campaign (each case its own id, so the Redis
// cases share one server without interfering).
func newCampaign(t *testing.T, s dialer.Store, limit, n int) string {
	t.Helper()
	campaignSeq.Lock()
	campaignSeq.n++
	id := fmt.Sprintf("t%d", campaignSeq.n)
	campaignSeq.Unlock()
	ctx := context.Background()
	if err := s.Create(ctx, id, limit); err != nil {
		t.Fatal(err)
	}
	cs, due := contactsN(n)
	added, err := s.Add(ctx, id, cs, due)
	if err != nil || added != n {
		t.Fatalf("Add = %d, %v", added, err)
	}
	return id
}

func claim(t *testing.T, s dialer.Store, id, owner string, now time.Time, max int) []dialer.Lease {
	t.Helper()
	ls, err := s.Claim(context.Background(), id, dialer.ClaimRequest{Owner: owner, Now: now, Max: max, Lease: time.Minute})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ls
}

func begin(t *testing.T, s dialer.Store, id string, l dialer.Lease, now time.Time) dialer.Attempt {
	t.Helper()
	a := dialer.Attempt{ID: dialer.NewID(), Contact: l.Contact.ID, Number: l.Contact.Number, Trunk: "a", Owner: l.Owner, Started: now}
	if err := s.Begin(context.Background(), id, a); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return a
}

func storeConformance(t *testing.T, newStore func(*testing.T) dialer.Store) {
	ctx := context.Background()
	t.Run("ClaimInDueOrderUpToMax", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 100, 10)
		if again, err := s.Add(ctx, id, []dialer.Contact{{ID: "k000", Number: "+12125550000", Zones: []string{"UTC"}}}, []time.Time{t0}); err != nil || again != 0 {
			t.Fatalf("re-Add = %d, %v; want 0 (existing ids kept)", again, err)
		}
		ls := claim(t, s, id, "A", t0.Add(4*time.Second), 3)
		if len(ls) != 3 || ls[0].Contact.ID != "k000" || ls[2].Contact.ID != "k002" {
			t.Fatalf("claimed %+v", ls)
		}
		if ls[1].Contact.Number != "+12125550001" || ls[1].Contact.Vars["name"] != "n1" || ls[1].Contact.Zones[0] != "America/New_York" {
			t.Errorf("contact not round-tripped: %+v", ls[1].Contact)
		}
		ls = claim(t, s, id, "A", t0.Add(4*time.Second), 10)
		if len(ls) != 2 { // k003, k004 due; k005.. not yet
			t.Fatalf("second claim got %d, want 2", len(ls))
		}
		at, ok, err := s.NextDue(ctx, id)
		if err != nil || !ok || !at.Equal(t0.Add(5*time.Second)) {
			t.Errorf("NextDue = %v %v %v", at, ok, err)
		}
		p, err := s.Progress(ctx, id)
		if err != nil || p.Contacts != 10 || p.Due != 5 || p.InFlight != 5 || p.State != dialer.CampaignRunning {
			t.Errorf("Progress = %+v, %v", p, err)
		}
	})
	t.Run("GlobalLimit", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 7, 50)
		var mu sync.Mutex
		got := map[string]string{}
		var wg sync.WaitGroup
		for w := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for range 4 {
					ls, err := s.Claim(ctx, id, dialer.ClaimRequest{Owner: owner, Now: t0.Add(time.Hour), Max: 3, Lease: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, l := range ls {
						if prev, dup := got[l.Contact.ID]; dup {
							t.Errorf("%s claimed by %s and %s", l.Contact.ID, prev, owner)
						}
						got[l.Contact.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(got) != 7 {
			t.Errorf("%d contacts leased, global limit 7", len(got))
		}
	})
	t.Run("BeginFinishRetryAndFinal", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 10, 2)
		ls := claim(t, s, id, "A", t0.Add(time.Minute), 2)
		if err := s.Begin(ctx, id, dialer.Attempt{ID: dialer.NewID(), Contact: ls[0].Contact.ID, Owner: "B", Started: t0}); !errors.Is(err, dialer.ErrLeaseLost) {
			t.Errorf("Begin by another owner: %v, want ErrLeaseLost", err)
		}
		a := begin(t, s, id, ls[0], t0.Add(time.Minute))
		if err := s.Begin(ctx, id, a); !errors.Is(err, dialer.ErrLeaseLost) {
			t.Errorf("second Begin: %v, want ErrLeaseLost", err)
		}
		st, atts, err := s.Contact(ctx, id, ls[0].Contact.ID)
		if err != nil || st != dialer.StatusDialing || len(atts) != 1 || atts[0].Seq != 1 || atts[0].Disposition != "" {
			t.Fatalf("after Begin: %s %+v %v", st, atts, err)
		}
		a.Disposition, a.Ended, a.Cause = dialer.Busy, t0.Add(2*time.Minute), "17"
		retryAt := t0.Add(12 * time.Minute)
		if err := s.Finish(ctx, id, "B", dialer.Result{Attempt: a, Next: dialer.Next{Due: retryAt}}); !errors.Is(err, dialer.ErrLeaseLost) {
			t.Errorf("Finish by another owner: %v", err)
		}
		if err := s.Finish(ctx, id, "A", dialer.Result{Attempt: a, Next: dialer.Next{Due: retryAt}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, id, "A", dialer.Result{Attempt: a, Next: dialer.Next{Final: dialer.StatusFailed}}); err != nil {
			t.Errorf("repeated Finish: %v, want a no-op", err)
		}
		st, atts, _ = s.Contact(ctx, id, ls[0].Contact.ID)
		if st != dialer.StatusDue || atts[0].Disposition != dialer.Busy || atts[0].Cause != "17" || !atts[0].Ended.Equal(a.Ended) {
			t.Errorf("after Finish: %s %+v", st, atts)
		}
		if got := claim(t, s, id, "A", retryAt.Add(-time.Second), 5); len(got) != 0 {
			t.Errorf("claimed %d before the retry was due", len(got))
		}
		again := claim(t, s, id, "A", retryAt, 5)
		if len(again) != 1 || again[0].Attempts != 1 || again[0].Counts[dialer.Busy] != 1 {
			t.Fatalf("retry claim = %+v", again)
		}
		p, _ := s.Progress(ctx, id)
		if p.Attempts != 1 || p.ByDisposition[dialer.Busy] != 1 || p.InFlight != 2 {
			t.Errorf("Progress = %+v", p)
		}
		a2 := begin(t, s, id, again[0], retryAt)
		a2.Disposition, a2.Ended = dialer.Answered, retryAt.Add(time.Minute)
		a2.Answered = retryAt.Add(10 * time.Second)
		if err := s.Finish(ctx, id, "A", dialer.Result{Attempt: a2, Next: dialer.Next{Final: dialer.StatusAnswered}}); err != nil {
			t.Fatal(err)
		}
		st, atts, _ = s.Contact(ctx, id, ls[0].Contact.ID)
		if st != dialer.StatusAnswered || len(atts) != 2 || atts[1].Seq != 2 || !atts[1].Answered.Equal(a2.Answered) {
			t.Errorf("final: %s %+v", st, atts)
		}
		p, _ = s.Progress(ctx, id)
		if p.Final[dialer.StatusAnswered] != 1 || p.Attempts != 2 || p.Retrying != 0 {
			t.Errorf("Progress = %+v", p)
		}
	})
	t.Run("NotPlacedDoesNotCount", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 10, 1)
		l := claim(t, s, id, "A", t0, 1)[0]
		a := begin(t, s, id, l, t0)
		a.Disposition, a.Ended = dialer.NotPlaced, t0
		if err := s.Finish(ctx, id, "A", dialer.Result{Attempt: a, Next: dialer.Next{Due: t0.Add(time.Second)}}); err != nil {
			t.Fatal(err)
		}
		l2 := claim(t, s, id, "A", t0.Add(time.Second), 1)
		if len(l2) != 1 || l2[0].Attempts != 0 {
			t.Fatalf("after not_placed: %+v", l2)
		}
		if p, _ := s.Progress(ctx, id); p.Attempts != 0 {
			t.Errorf("attempts %d after a not-placed call", p.Attempts)
		}
	})
	t.Run("ReleaseDueAndFinal", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 10, 2)
		ls := claim(t, s, id, "A", t0.Add(time.Minute), 2)
		if err := s.Release(ctx, id, "A", ls[0].Contact.ID, dialer.Next{Final: dialer.StatusDNC}); err != nil {
			t.Fatal(err)
		}
		open := t0.Add(18 * time.Hour)
		if err := s.Release(ctx, id, "A", ls[1].Contact.ID, dialer.Next{Due: open}); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, id, "A", ls[1].Contact.ID, dialer.Next{Due: open}); !errors.Is(err, dialer.ErrLeaseLost) {
			t.Errorf("second Release: %v", err)
		}
		p, _ := s.Progress(ctx, id)
		if p.Final[dialer.StatusDNC] != 1 || p.Due != 1 || p.InFlight != 0 || p.Attempts != 0 || p.Retrying != 0 {
			t.Errorf("Progress = %+v", p)
		}
		if at, ok, _ := s.NextDue(ctx, id); !ok || !at.Equal(open) {
			t.Errorf("NextDue = %v", at)
		}
	})
	t.Run("LeaseExpiryTakeover", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 3, 3)
		ls := claim(t, s, id, "dead", t0.Add(time.Minute), 3) // expire at t0+2m
		a := begin(t, s, id, ls[0], t0.Add(time.Minute))
		if lost, err := s.Renew(ctx, id, "dead", []string{ls[2].Contact.ID, "nobody"}, t0.Add(10*time.Minute)); err != nil || len(lost) != 1 || lost[0] != "nobody" {
			t.Errorf("Renew lost = %v, %v", lost, err)
		}
		if got := claim(t, s, id, "B", t0.Add(5*time.Minute), 3); len(got) != 0 {
			t.Errorf("claimed %d while expired leases still count against the limit", len(got))
		}
		tk, err := s.Takeover(ctx, id, "B", t0.Add(5*time.Minute), time.Minute, 10)
		if err != nil || len(tk) != 2 {
			t.Fatalf("Takeover = %d, %v; want the 2 expired (the renewed one stays)", len(tk), err)
		}
		var withAttempt *dialer.Lease
		for i := range tk {
			if tk[i].Owner != "B" {
				t.Errorf("taken-over owner %q", tk[i].Owner)
			}
			if tk[i].Attempt != nil {
				withAttempt = &tk[i]
			}
		}
		if withAttempt == nil || withAttempt.Attempt.ID != a.ID || withAttempt.Status != dialer.StatusDialing || withAttempt.Attempt.Number != a.Number {
			t.Fatalf("taken-over attempt = %+v", withAttempt)
		}
		a.Disposition, a.Ended = dialer.Answered, t0.Add(6*time.Minute)
		if err := s.Finish(ctx, id, "dead", dialer.Result{Attempt: a, Next: dialer.Next{Final: dialer.StatusAnswered}}); !errors.Is(err, dialer.ErrLeaseLost) {
			t.Errorf("Finish by the old owner: %v, want ErrLeaseLost", err)
		}
		if err := s.Finish(ctx, id, "B", dialer.Result{Attempt: a, Next: dialer.Next{Final: dialer.StatusAnswered}}); err != nil {
			t.Errorf("Finish by the new owner: %v", err)
		}
		if lost, _ := s.Renew(ctx, id, "dead", []string{ls[1].Contact.ID}, t0.Add(time.Hour)); len(lost) != 1 {
			t.Errorf("old owner renewed a lease it lost")
		}
	})
	t.Run("PauseResumeCancel", func(t *testing.T) {
		s := newStore(t)
		id := newCampaign(t, s, 3, 3)
		if err := s.SetState(ctx, id, dialer.CampaignPaused); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, id, dialer.ClaimRequest{Owner: "A", Now: t0.Add(time.Hour), Max: 1, Lease: time.Minute}); !errors.Is(err, dialer.ErrPaused) {
			t.Errorf("Claim while paused: %v", err)
		}
		if err := s.SetState(ctx, id, dialer.CampaignRunning); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, s, id, "A", t0.Add(time.Hour), 1); len(got) != 1 {
			t.Errorf("resumed claim got %d", len(got))
		}
		if err := s.SetState(ctx, id, dialer.CampaignCancelled); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, id, dialer.ClaimRequest{Owner: "A", Now: t0.Add(time.Hour), Max: 1, Lease: time.Minute}); !errors.Is(err, dialer.ErrCancelled) {
			t.Errorf("Claim while cancelled: %v", err)
		}
		if err := s.SetState(ctx, id, dialer.CampaignRunning); !errors.Is(err, dialer.ErrCancelled) {
			t.Errorf("resume after cancel: %v", err)
		}
		if p, _ := s.Progress(ctx, id); p.State != dialer.CampaignCancelled || p.Done() {
			t.Errorf("Progress = %+v (one lease still held: not done)", p)
		}
		if _, err := s.Claim(ctx, "never-created", dialer.ClaimRequest{Owner: "A", Now: t0, Max: 1, Lease: time.Minute}); !errors.Is(err, dialer.ErrNoCampaign) {
			t.Errorf("Claim on unknown campaign: %v", err)
		}
	})
	t.Run("ConcurrentDialersEachContactOnce", func(t *testing.T) {
		s := newStore(t)
		const n = 120
		id := newCampaign(t, s, 5, n)
		var mu sync.Mutex
		begun := map[string]int{}
		inflight, peak := 0, 0
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for idle := 0; idle < 50; {
					ls, err := s.Claim(ctx, id, dialer.ClaimRequest{Owner: owner, Now: t0.Add(time.Hour), Max: 2, Lease: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					if len(ls) == 0 {
						idle++
						time.Sleep(time.Millisecond)
						continue
					}
					for _, l := range ls {
						a := dialer.Attempt{ID: dialer.NewID(), Contact: l.Contact.ID, Owner: owner, Started: t0}
						if err := s.Begin(ctx, id, a); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						begun[l.Contact.ID]++
						inflight++
						peak = max(peak, inflight)
						mu.Unlock()
						a.Disposition, a.Ended = dialer.Answered, t0
						mu.Lock()
						inflight--
						mu.Unlock()
						if err := s.Finish(ctx, id, owner, dialer.Result{Attempt: a, Next: dialer.Next{Final: dialer.StatusAnswered}}); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(begun) != n {
			t.Errorf("%d of %d contacts dialed", len(begun), n)
		}
		for c, k := range begun {
			if k != 1 {
				t.Errorf("%s dialed %d times", c, k)
			}
		}
		if peak > 5 {
			t.Errorf("%d in flight, limit 5", peak)
		}
		if p, _ := s.Progress(ctx, id); !p.Done() || p.Final[dialer.StatusAnswered] != n {
			t.Errorf("Progress = %+v", p)
		}
	})
}
