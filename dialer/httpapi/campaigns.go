package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// CampaignRequest is the "config" part of POST /v1/campaigns. The trunk,
// message, flow and caller id are names from the API's config, as for a
// call; the limits and hours are the campaign's own.
type CampaignRequest struct {
	ID            string                  `json:"id"`
	Trunk         string                  `json:"trunk,omitempty"`
	Message       string                  `json:"message,omitempty"`
	Flow          string                  `json:"flow,omitempty"`
	CallerID      string                  `json:"caller_id,omitempty"`
	MaxConcurrent int                     `json:"max_concurrent,omitempty"`
	MaxAttempts   int                     `json:"max_attempts,omitempty"`
	RingTimeout   string                  `json:"ring_timeout,omitempty"` // Go duration, "30s"
	Retries       map[string]RetryRequest `json:"retries,omitempty"`
	Hours         dialer.Hours            `json:"hours"`
	DefaultRegion string                  `json:"default_region,omitempty"`
}

// RetryRequest is one retry rule: Max retries, Delay (Go duration) apart.
type RetryRequest struct {
	Max   int    `json:"max"`
	Delay string `json:"delay"`
}

// ImportView is the validation report of a campaign's CSV.
type ImportView struct {
	Rows      int                          `json:"rows"`
	Accepted  int                          `json:"accepted"`
	Added     int                          `json:"added"`
	Problems  []ProblemView                `json:"problems"`
	ByReason  map[dialer.ProblemReason]int `json:"by_reason"`
	Refused   map[Reason]int               `json:"refused_by_policy"`
	NeverOpen int                          `json:"never_open"`
}

// ProblemView is one rejected row.
type ProblemView struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	Value  string `json:"value"`
}

// ProgressView is a campaign's counters (dialer.Progress).
type ProgressView struct {
	State         dialer.RunState              `json:"state"`
	Contacts      int                          `json:"contacts"`
	Due           int                          `json:"due"`
	Retrying      int                          `json:"retrying"`
	InFlight      int                          `json:"in_flight"`
	Attempts      int                          `json:"attempts"`
	ByDisposition map[dialer.Disposition]int   `json:"by_disposition"`
	Final         map[dialer.ContactStatus]int `json:"final"`
	Done          bool                         `json:"done"`
}

// CampaignView is a campaign as listed.
type CampaignView struct {
	ID       string       `json:"id"`
	Trunk    string       `json:"trunk"`
	Message  string       `json:"message,omitempty"`
	Flow     string       `json:"flow,omitempty"`
	Created  time.Time    `json:"created"`
	Running  bool         `json:"running"` // its engine runs in this process
	Progress ProgressView `json:"progress"`
	Import   *ImportView  `json:"import,omitempty"`
}

// AttemptView is one attempt record.
type AttemptView struct {
	ID          string               `json:"id"`
	Contact     string               `json:"contact"`
	Number      string               `json:"number"`
	Trunk       string               `json:"trunk"`
	Seq         int                  `json:"seq"`
	Started     *time.Time           `json:"started,omitempty"`
	Answered    *time.Time           `json:"answered,omitempty"`
	Ended       *time.Time           `json:"ended,omitempty"`
	Disposition dialer.Disposition   `json:"disposition,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	Cause       string               `json:"cause,omitempty"`
	DurationMS  int64                `json:"duration_ms"`
	Status      dialer.ContactStatus `json:"contact_status"`
}

// AttemptPage is a page of attempts, in contact order.
type AttemptPage struct {
	Attempts   []AttemptView `json:"attempts"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

type campaignState struct {
	req      CampaignRequest
	created  time.Time
	contacts []string // ids in import order: the attempts' paging order
	report   ImportView
	running  bool
}

func (h *Handler) campaignFromRequest(req *CampaignRequest) (dialer.Campaign, error) {
	tr := h.cfg.trunk(req.Trunk)
	if tr == nil {
		return dialer.Campaign{}, fmt.Errorf("no trunk %q", req.Trunk)
	}
	req.Trunk = tr.Name
	if (req.Message == "") == (req.Flow == "") {
		return dialer.Campaign{}, errors.New("give exactly one of message and flow")
	}
	c := dialer.Campaign{ID: req.ID, Trunks: []dialer.Trunk{{Name: tr.Name, Channel: tr.Channel, Ports: tr.Ports, CPS: tr.CPS}},
		MaxConcurrent: req.MaxConcurrent, MaxAttempts: req.MaxAttempts, Hours: req.Hours, DefaultRegion: req.DefaultRegion}
	if len(tr.CallerIDs) > 0 {
		c.CallerID = tr.CallerIDs[0]
	}
	if req.CallerID != "" {
		if !slices.Contains(tr.CallerIDs, req.CallerID) {
			return c, fmt.Errorf("caller id %q is not one of trunk %s's", req.CallerID, tr.Name)
		}
		c.CallerID = req.CallerID
	}
	if req.Message != "" {
		prompt, ok := h.cfg.Messages[req.Message]
		if !ok {
			return c, fmt.Errorf("no message %q", req.Message)
		}
		c.Answer, c.Vars = messageAnswer(tr, prompt)
	} else {
		if tr.Kind != "freeswitch" || !slices.Contains(h.cfg.Flows, req.Flow) {
			return c, fmt.Errorf("no flow %q on trunk %s", req.Flow, tr.Name)
		}
		c.Answer = dialer.Answer{Flow: req.Flow}
	}
	if req.RingTimeout != "" {
		d, err := time.ParseDuration(req.RingTimeout)
		if err != nil {
			return c, fmt.Errorf("ring_timeout: %w", err)
		}
		c.RingTimeout = d
	}
	if req.Retries != nil {
		c.Retries = map[dialer.Disposition]dialer.Retry{}
		for k, r := range req.Retries {
			d, err := dialer.ParseDisposition(k)
			if err != nil {
				return c, err
			}
			delay, err := time.ParseDuration(r.Delay)
			if err != nil {
				return c, fmt.Errorf("retries %s delay: %w", k, err)
			}
			c.Retries[d] = dialer.Retry{Max: r.Max, Delay: delay}
		}
	}
	if _, err := c.Check(); err != nil {
		return c, err
	}
	return c, nil
}

// createCampaign takes multipart/form-data: a "config" part (JSON,
// CampaignRequest) and then a "contacts" part (CSV).
func (h *Handler) createCampaign(w http.ResponseWriter, r *http.Request, t *tokenState) {
	if r.ContentLength > h.cfg.MaxUpload {
		h.refuse(w, r, t, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("the upload is over %d bytes", h.cfg.MaxUpload))
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		h.refuse(w, r, t, http.StatusUnsupportedMediaType, ReasonBadRequest, "send multipart/form-data with a config part then a contacts part")
		return
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, h.cfg.MaxUpload), params["boundary"])
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "config" {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "the first part must be config (JSON)")
		return
	}
	var req CampaignRequest
	dec := json.NewDecoder(io.LimitReader(part, h.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "bad config: "+err.Error())
		return
	}
	camp, err := h.campaignFromRequest(&req)
	if err != nil {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, err.Error())
		return
	}
	if strings.HasPrefix(camp.ID, "call-") {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, `campaign ids starting "call-" are the calls'`)
		return
	}
	h.mu.Lock()
	_, exists := h.campaigns[camp.ID]
	h.mu.Unlock()
	if exists {
		h.refuse(w, r, t, http.StatusConflict, ReasonConflict, "campaign "+camp.ID+" exists")
		return
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "contacts" {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "the second part must be contacts (CSV)")
		return
	}
	log := h.log.With("campaign", camp.ID, "token", t.Name)
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: h.o.Store, Backend: h.o.Backends[h.cfg.trunk(req.Trunk).Backend],
		DNC: h.o.DNC, Recorder: h.o.Recorder, Logger: h.o.Logger, Poll: h.o.EnginePoll})
	if err == nil {
		err = eng.Create(r.Context())
	}
	if err != nil {
		log.Error("httpapi: campaign not created", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, ReasonUnavailable, "the campaign could not be created")
		return
	}
	cs := &campaignState{req: req, created: time.Now()}
	rep := ImportView{Refused: map[Reason]int{}}
	policy := h.cfg.Numbers
	if req.DefaultRegion != "" {
		policy.DefaultRegion = req.DefaultRegion
	}
	ir, err := dialer.ImportCSV(r.Context(), part, &dialer.Normalizer{DefaultRegion: req.DefaultRegion}, func(batch []dialer.Contact) error {
		keep := make([]dialer.Contact, 0, len(batch))
		for _, c := range batch {
			if _, _, ref := policy.check(c.Number); ref != nil {
				rep.Refused[ref.reason]++
				continue
			}
			c.Vars = nil // no value of the request reaches the originate but the number
			keep = append(keep, c)
		}
		added, never, err := eng.Add(r.Context(), keep)
		rep.Added += added
		rep.NeverOpen += len(never)
		for _, c := range keep {
			if !slices.ContainsFunc(never, func(n dialer.Contact) bool { return n.ID == c.ID }) {
				cs.contacts = append(cs.contacts, c.ID)
			}
		}
		return err
	})
	// A failed import is not registered and runs no engine; the contacts
	// it added stay in the store, so a retry of the same upload adds
	// nothing twice (Store.Add keeps existing ids).
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.refuse(w, r, t, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("the upload is over %d bytes", h.cfg.MaxUpload))
		return
	case err != nil:
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "contacts: "+err.Error())
		return
	}
	rep.Rows, rep.Accepted, rep.ByReason = ir.Rows, ir.Accepted, ir.ByReason
	rep.Problems = []ProblemView{}
	for _, p := range ir.Problems {
		rep.Problems = append(rep.Problems, ProblemView{Row: p.Row, Column: p.Column, Reason: string(p.Reason), Value: p.Value})
	}
	cs.report, cs.running = rep, true
	h.mu.Lock()
	h.campaigns[camp.ID] = cs
	h.order = append(h.order, camp.ID)
	h.mu.Unlock()
	log.Info("httpapi: campaign created", "rows", rep.Rows, "added", rep.Added)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		p, err := eng.Run(h.ctx)
		log.Info("httpapi: campaign engine stopped", "err", err, "attempts", p.Attempts)
		h.mu.Lock()
		cs.running = false
		h.mu.Unlock()
	}()
	v := h.campaignView(r.Context(), camp.ID, cs)
	v.Import = &rep
	w.Header().Set("Location", "/v1/campaigns/"+camp.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) campaignView(ctx context.Context, id string, cs *campaignState) CampaignView {
	h.mu.Lock()
	v := CampaignView{ID: id, Trunk: cs.req.Trunk, Message: cs.req.Message, Flow: cs.req.Flow, Created: cs.created, Running: cs.running}
	h.mu.Unlock()
	p, err := h.o.Store.Progress(ctx, id)
	if err != nil {
		h.log.Warn("httpapi: store", "campaign", id, "err", err)
	}
	v.Progress = ProgressView{State: p.State, Contacts: p.Contacts, Due: p.Due, Retrying: p.Retrying, InFlight: p.InFlight,
		Attempts: p.Attempts, ByDisposition: p.ByDisposition, Final: p.Final, Done: err == nil && p.Done()}
	return v
}

func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, t *tokenState) (string, *campaignState) {
	id := r.PathValue("id")
	h.mu.Lock()
	cs := h.campaigns[id]
	h.mu.Unlock()
	if cs == nil {
		h.refuse(w, r, t, http.StatusNotFound, ReasonNotFound, "no such campaign")
	}
	return id, cs
}

func (h *Handler) listCampaigns(w http.ResponseWriter, r *http.Request, _ *tokenState) {
	h.mu.Lock()
	ids := append([]string(nil), h.order...)
	h.mu.Unlock()
	out := []CampaignView{}
	for _, id := range ids {
		h.mu.Lock()
		cs := h.campaigns[id]
		h.mu.Unlock()
		out = append(out, h.campaignView(r.Context(), id, cs))
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": out})
}

func (h *Handler) getCampaign(w http.ResponseWriter, r *http.Request, t *tokenState) {
	id, cs := h.lookup(w, r, t)
	if cs == nil {
		return
	}
	v := h.campaignView(r.Context(), id, cs)
	rep := cs.report
	v.Import = &rep
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) setState(w http.ResponseWriter, r *http.Request, t *tokenState) {
	id, cs := h.lookup(w, r, t)
	if cs == nil {
		return
	}
	want := map[string]dialer.RunState{"pause": dialer.CampaignPaused, "resume": dialer.CampaignRunning,
		"cancel": dialer.CampaignCancelled}[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]]
	p, err := h.o.Store.Progress(r.Context(), id)
	if err == nil && p.State == dialer.CampaignCancelled && want != dialer.CampaignCancelled {
		h.refuse(w, r, t, http.StatusConflict, ReasonConflict, "the campaign is cancelled")
		return
	}
	if err == nil {
		err = h.o.Store.SetState(r.Context(), id, want)
	}
	if err != nil {
		h.log.Error("httpapi: set state", "campaign", id, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, ReasonUnavailable, "the store did not take the change")
		return
	}
	h.log.Info("httpapi: campaign state", "campaign", id, "state", want, "token", t.Name)
	writeJSON(w, http.StatusOK, h.campaignView(r.Context(), id, cs))
}

// listAttempts pages the attempt records by contact, in import order:
// ?cursor=<from next_cursor>&limit=<1-1000, default 100>.
func (h *Handler) listAttempts(w http.ResponseWriter, r *http.Request, t *tokenState) {
	id, cs := h.lookup(w, r, t)
	if cs == nil {
		return
	}
	from, limit := 0, 100
	if s := r.URL.Query().Get("cursor"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "bad cursor")
			return
		}
		from = n
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "limit must be 1-1000")
			return
		}
		limit = n
	}
	h.mu.Lock()
	contacts := cs.contacts
	h.mu.Unlock()
	page := AttemptPage{Attempts: []AttemptView{}}
	i := from
	for ; i < len(contacts) && len(page.Attempts) < limit; i++ {
		st, as, err := h.o.Store.Contact(r.Context(), id, contacts[i])
		if err != nil {
			h.log.Error("httpapi: store", "campaign", id, "err", err)
			writeProblem(w, http.StatusServiceUnavailable, ReasonUnavailable, "the store did not answer")
			return
		}
		for _, a := range as {
			v := AttemptView{ID: a.ID, Contact: a.Contact, Number: a.Number, Trunk: a.Trunk, Seq: a.Seq,
				Started: optTime(a.Started), Answered: optTime(a.Answered), Ended: optTime(a.Ended),
				Disposition: a.Disposition, Reason: a.Reason, Cause: a.Cause, Status: st}
			if !a.Answered.IsZero() && a.Ended.After(a.Answered) {
				v.DurationMS = a.Ended.Sub(a.Answered).Milliseconds()
			}
			page.Attempts = append(page.Attempts, v)
		}
	}
	if i < len(contacts) {
		page.NextCursor = strconv.Itoa(i)
	}
	writeJSON(w, http.StatusOK, page)
}
