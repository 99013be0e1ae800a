package dialer

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemStore is the in-process Store: the embedded default for one dialer
// process without Redis (the demo, a laptop). Its state dies with the
// process; use RedisStore to resume after a restart.
type MemStore struct {
	mu        sync.Mutex
	campaigns map[string]*memCampaign
}

// NewMemStore returns an empty in-process store.
func NewMemStore() *MemStore { return &MemStore{campaigns: map[string]*memCampaign{}} }

type memContact struct {
	c        Contact
	status   ContactStatus
	due      time.Time
	owner    string
	expires  time.Time // lease expiry when leased
	attempts int
	counts   map[Disposition]int
	current  string // attempt id begun and not finished
	history  []string
}

type memCampaign struct {
	limit    int
	state    RunState
	contacts map[string]*memContact
	attempts map[string]*Attempt
	due      dueHeap
	leased   map[string]bool
	retrying int
	started  int
	byDisp   map[Disposition]int
	final    map[ContactStatus]int
}

type dueItem struct {
	at time.Time
	id string
}

// dueHeap is a min-heap by due time, then id; stale items (the contact is no
// longer due at that time) are skipped on pop.
type dueHeap []dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].id < h[j].id
	}
	return h[i].at.Before(h[j].at)
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (m *memCampaign) live(it dueItem) bool {
	c := m.contacts[it.id]
	return c != nil && c.status == StatusDue && c.due.Equal(it.at)
}

// peek drops stale items and returns the earliest due one.
func (m *memCampaign) peek() (dueItem, bool) {
	for m.due.Len() > 0 {
		if it := m.due[0]; m.live(it) {
			return it, true
		}
		heap.Pop(&m.due)
	}
	return dueItem{}, false
}

func (m *memCampaign) enqueue(c *memContact, at time.Time) {
	c.status, c.due = StatusDue, at
	heap.Push(&m.due, dueItem{at: at, id: c.c.ID})
}

func (s *MemStore) get(campaign string) (*memCampaign, error) {
	m := s.campaigns[campaign]
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoCampaign, campaign)
	}
	return m, nil
}

// Create implements Store.
func (s *MemStore) Create(_ context.Context, campaign string, limit int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.campaigns[campaign]; m != nil {
		m.limit = limit
		return nil
	}
	s.campaigns[campaign] = &memCampaign{
		limit: limit, state: CampaignRunning,
		contacts: map[string]*memContact{}, attempts: map[string]*Attempt{},
		leased: map[string]bool{}, byDisp: map[Disposition]int{}, final: map[ContactStatus]int{},
	}
	return nil
}

// Add implements Store.
func (s *MemStore) Add(_ context.Context, campaign string, contacts []Contact, due []time.Time) (int, error) {
	if len(due) != len(contacts) {
		return 0, fmt.Errorf("dialer: %d contacts, %d due times", len(contacts), len(due))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return 0, err
	}
	added := 0
	for i, c := range contacts {
		if _, ok := m.contacts[c.ID]; ok {
			continue
		}
		mc := &memContact{c: c, counts: map[Disposition]int{}}
		m.contacts[c.ID] = mc
		m.enqueue(mc, due[i])
		added++
	}
	return added, nil
}

func (c *memContact) lease(owner string) Lease {
	counts := make(map[Disposition]int, len(c.counts))
	for k, v := range c.counts {
		counts[k] = v
	}
	return Lease{Contact: c.c, Owner: owner, Expires: c.expires, Status: c.status, Attempts: c.attempts, Counts: counts}
}

// Claim implements Store.
func (s *MemStore) Claim(_ context.Context, campaign string, r ClaimRequest) ([]Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return nil, err
	}
	switch m.state {
	case CampaignPaused:
		return nil, ErrPaused
	case CampaignCancelled:
		return nil, ErrCancelled
	}
	free := min(r.Max, m.limit-len(m.leased))
	var out []Lease
	for len(out) < free {
		it, ok := m.peek()
		if !ok || it.at.After(r.Now) {
			break
		}
		heap.Pop(&m.due)
		c := m.contacts[it.id]
		if c.attempts > 0 {
			m.retrying--
		}
		c.status, c.owner, c.expires = StatusClaimed, r.Owner, r.Now.Add(r.Lease)
		m.leased[c.c.ID] = true
		out = append(out, c.lease(r.Owner))
	}
	return out, nil
}

func (m *memCampaign) held(owner, id string) (*memContact, error) {
	c := m.contacts[id]
	if c == nil || !m.leased[id] || c.owner != owner {
		return nil, fmt.Errorf("%w: contact %q", ErrLeaseLost, id)
	}
	return c, nil
}

// Begin implements Store.
func (s *MemStore) Begin(_ context.Context, campaign string, a Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return err
	}
	c, err := m.held(a.Owner, a.Contact)
	if err != nil {
		return err
	}
	if c.status != StatusClaimed {
		return fmt.Errorf("%w: contact %q is %s", ErrLeaseLost, a.Contact, c.status)
	}
	c.attempts++
	a.Seq = c.attempts
	a.Disposition = ""
	m.attempts[a.ID] = &a
	c.status, c.current = StatusDialing, a.ID
	c.history = append(c.history, a.ID)
	m.started++
	return nil
}

// Renew implements Store.
func (s *MemStore) Renew(_ context.Context, campaign, owner string, ids []string, until time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return nil, err
	}
	var lost []string
	for _, id := range ids {
		c, err := m.held(owner, id)
		if err != nil {
			lost = append(lost, id)
			continue
		}
		c.expires = until
	}
	return lost, nil
}

func (m *memCampaign) settle(c *memContact, next Next) {
	delete(m.leased, c.c.ID)
	c.owner, c.current = "", ""
	if next.Final != "" {
		c.status = next.Final
		m.final[next.Final]++
		return
	}
	if c.attempts > 0 {
		m.retrying++
	}
	m.enqueue(c, next.Due)
}

// Finish implements Store.
func (s *MemStore) Finish(_ context.Context, campaign, owner string, r Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return err
	}
	a := m.attempts[r.Attempt.ID]
	if a == nil {
		return fmt.Errorf("dialer: finish: no attempt %q", r.Attempt.ID)
	}
	if a.Disposition != "" {
		return nil // already finished
	}
	c, err := m.held(owner, a.Contact)
	if err != nil {
		return err
	}
	if c.current != a.ID {
		return fmt.Errorf("%w: attempt %q is not the contact's current one", ErrLeaseLost, a.ID)
	}
	d := r.Attempt.Disposition
	a.Answered, a.Ended, a.Disposition, a.Reason, a.Cause = r.Attempt.Answered, r.Attempt.Ended, d, r.Attempt.Reason, r.Attempt.Cause
	if d == NotPlaced {
		c.attempts--
		m.started--
	} else {
		c.counts[d]++
	}
	m.byDisp[d]++
	m.settle(c, r.Next)
	return nil
}

// Release implements Store.
func (s *MemStore) Release(_ context.Context, campaign, owner, id string, next Next) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return err
	}
	c, err := m.held(owner, id)
	if err != nil {
		return err
	}
	if c.status != StatusClaimed {
		return fmt.Errorf("%w: contact %q is %s, not claimed", ErrLeaseLost, id, c.status)
	}
	m.settle(c, next)
	return nil
}

// Takeover implements Store.
func (s *MemStore) Takeover(_ context.Context, campaign, owner string, now time.Time, lease time.Duration, max int) ([]Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id := range m.leased {
		if m.contacts[id].expires.Before(now) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []Lease
	for _, id := range ids {
		if len(out) == max {
			break
		}
		c := m.contacts[id]
		c.owner, c.expires = owner, now.Add(lease)
		l := c.lease(owner)
		if c.current != "" {
			a := *m.attempts[c.current]
			l.Attempt = &a
		}
		out = append(out, l)
	}
	return out, nil
}

// NextDue implements Store.
func (s *MemStore) NextDue(_ context.Context, campaign string) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return time.Time{}, false, err
	}
	it, ok := m.peek()
	return it.at, ok, nil
}

// SetState implements Store.
func (s *MemStore) SetState(_ context.Context, campaign string, st RunState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return err
	}
	if m.state == CampaignCancelled && st != CampaignCancelled {
		return fmt.Errorf("dialer: campaign %q is cancelled: %w", campaign, ErrCancelled)
	}
	m.state = st
	return nil
}

// Progress implements Store.
func (s *MemStore) Progress(_ context.Context, campaign string) (Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{
		State: m.state, Contacts: len(m.contacts), InFlight: len(m.leased),
		Retrying: m.retrying, Attempts: m.started,
		ByDisposition: map[Disposition]int{}, Final: map[ContactStatus]int{},
	}
	for k, v := range m.byDisp {
		p.ByDisposition[k] = v
	}
	for k, v := range m.final {
		p.Final[k] = v
	}
	finals := 0
	for _, v := range m.final {
		finals += v
	}
	p.Due = len(m.contacts) - finals - len(m.leased)
	return p, nil
}

// Contact implements Store.
func (s *MemStore) Contact(_ context.Context, campaign, id string) (ContactStatus, []Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.get(campaign)
	if err != nil {
		return "", nil, err
	}
	c := m.contacts[id]
	if c == nil {
		return "", nil, fmt.Errorf("dialer: no contact %q in %q", id, campaign)
	}
	out := make([]Attempt, 0, len(c.history))
	for _, aid := range c.history {
		out = append(out, *m.attempts[aid])
	}
	return c.status, out, nil
}

var _ Store = (*MemStore)(nil)
