package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// CallRequest is the body of POST /v1/calls. Exactly one of Message, Flow
// and Agent says what the call does: play a message on answer, run an ivr
// flow (FreeSWITCH trunks), or ring the agent first and then the number.
type CallRequest struct {
	Number   string `json:"number"`
	Message  string `json:"message,omitempty"`
	Flow     string `json:"flow,omitempty"`
	Agent    string `json:"agent,omitempty"`
	CallerID string `json:"caller_id,omitempty"`
	Trunk    string `json:"trunk,omitempty"`
	Webhook  string `json:"webhook,omitempty"`
}

// CallState is where a click-to-call call stands.
type CallState string

// Call states. The engine's backends report an attempt's outcome when it
// ends, so a call is seen queued, dialing, then ended; ringing and
// answered are the states of a backend that reports progress (none yet).
const (
	CallQueued   CallState = "queued"
	CallDialing  CallState = "dialing"
	CallRinging  CallState = "ringing"
	CallAnswered CallState = "answered"
	CallEnded    CallState = "ended"
)

// CallView is the answer of GET /v1/calls/{id}: the call's state and, once
// it ended, its CDR.
type CallView struct {
	ID          string             `json:"id"`
	State       CallState          `json:"state"`
	Number      string             `json:"number"`
	Trunk       string             `json:"trunk"`
	Message     string             `json:"message,omitempty"`
	Flow        string             `json:"flow,omitempty"`
	Agent       string             `json:"agent,omitempty"`
	Created     time.Time          `json:"created"`
	Attempt     string             `json:"attempt,omitempty"`
	Started     *time.Time         `json:"started,omitempty"`
	Answered    *time.Time         `json:"answered,omitempty"`
	Ended       *time.Time         `json:"ended,omitempty"`
	Disposition dialer.Disposition `json:"disposition,omitempty"`
	Status      string             `json:"status,omitempty"` // the contact's final status
	Reason      string             `json:"reason,omitempty"`
	Cause       string             `json:"cause,omitempty"`
	DurationMS  int64              `json:"duration_ms"`
}

type callState struct {
	id       string
	campaign string
	token    string
	req      CallRequest
	number   string
	created  time.Time
	done     chan struct{}
}

type idemEntry struct {
	call    string
	body    string // hash of the request
	expires time.Time
}

func (h *Handler) shapeCall(req *CallRequest) (dialer.Campaign, *Trunk, error) {
	tr := h.cfg.trunk(req.Trunk)
	if tr == nil {
		return dialer.Campaign{}, nil, fmt.Errorf("no trunk %q", req.Trunk)
	}
	req.Trunk = tr.Name
	n := 0
	for _, s := range []string{req.Message, req.Flow, req.Agent} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return dialer.Campaign{}, nil, errors.New("give exactly one of message, flow and agent")
	}
	callerID := ""
	if len(tr.CallerIDs) > 0 {
		callerID = tr.CallerIDs[0]
	}
	if req.CallerID != "" {
		if !slices.Contains(tr.CallerIDs, req.CallerID) {
			return dialer.Campaign{}, nil, fmt.Errorf("caller id %q is not one of trunk %s's", req.CallerID, tr.Name)
		}
		callerID = req.CallerID
	}
	camp := dialer.Campaign{
		Trunks:      []dialer.Trunk{{Name: tr.Name, Channel: tr.Channel, Ports: 1, CPS: tr.CPS}},
		CallerID:    callerID,
		RingTimeout: h.cfg.RingTimeout,
		Retries:     map[dialer.Disposition]dialer.Retry{},
		MaxAttempts: 1,
		Hours:       dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
	}
	switch {
	case req.Message != "":
		prompt, ok := h.cfg.Messages[req.Message]
		if !ok {
			return camp, nil, fmt.Errorf("no message %q", req.Message)
		}
		camp.Answer, camp.Vars = messageAnswer(tr, prompt)
	case req.Flow != "":
		if tr.Kind != "freeswitch" || !slices.Contains(h.cfg.Flows, req.Flow) {
			return camp, nil, fmt.Errorf("no flow %q on trunk %s", req.Flow, tr.Name)
		}
		camp.Answer = dialer.Answer{Flow: req.Flow}
	default:
		ch, ok := h.cfg.Agents[req.Agent]
		if !ok {
			return camp, nil, fmt.Errorf("no agent %q", req.Agent)
		}
		// The agent's channel is originated; the PBX runs the fixed
		// context with the customer's number as the extension only once
		// the agent answered (the number is set by createCall).
		camp.Trunks[0].Channel = ch
		camp.Answer = dialer.Answer{Context: h.cfg.AgentContext, Priority: "1"}
	}
	return camp, tr, nil
}

// messageAnswer plays prompt on answer: Playback on Asterisk, the notify
// flow with the prompt as its message variable on FreeSWITCH.
func messageAnswer(tr *Trunk, prompt string) (dialer.Answer, map[string]string) {
	if tr.Kind == "freeswitch" {
		return dialer.Answer{Flow: "notify"}, map[string]string{"message": prompt}
	}
	return dialer.Answer{Application: "Playback", Data: prompt}, nil
}

func idempotencyKey(r *http.Request) (string, bool) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", true
	}
	if len(k) > 255 || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return "", false
	}
	return k, true
}

func (h *Handler) createCall(w http.ResponseWriter, r *http.Request, t *tokenState) {
	var req CallRequest
	if !h.decode(w, r, t, &req) {
		return
	}
	key, ok := idempotencyKey(r)
	if !ok {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "Idempotency-Key must be 1-255 visible ASCII characters")
		return
	}
	body, _ := json.Marshal(req)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock() // creation is serialised: a retried key never races its first try
	h.pruneLocked(now)
	if key != "" {
		if e := h.idem[t.Name+"\x00"+key]; e != nil && h.calls[e.call] != nil {
			if e.body != hash {
				h.refuse(w, r, t, http.StatusUnprocessableEntity, ReasonIdempotencyReused, "this Idempotency-Key was used with another request")
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Location", "/v1/calls/"+e.call)
			writeJSON(w, http.StatusAccepted, h.viewLocked(r.Context(), h.calls[e.call]))
			return
		}
	}
	camp, tr, err := h.shapeCall(&req)
	if err != nil {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, err.Error())
		return
	}
	e164, _, ref := h.cfg.Numbers.check(req.Number)
	if ref != nil {
		status := http.StatusForbidden
		if ref.reason == ReasonInvalidNumber {
			status = http.StatusBadRequest
		}
		h.refuse(w, r, t, status, ref.reason, ref.detail)
		return
	}
	if req.Agent != "" {
		camp.Answer.Exten = e164
	}
	if req.Webhook != "" {
		if err := h.checkWebhook(req.Webhook); err != nil {
			h.refuse(w, r, t, http.StatusForbidden, ReasonWebhookHost, err.Error())
			return
		}
	}
	t.mu.Lock()
	busy := t.inFlight >= t.MaxCalls
	if !busy {
		t.inFlight++
	}
	t.mu.Unlock()
	if busy {
		h.refuse(w, r, t, http.StatusTooManyRequests, ReasonConcurrency, fmt.Sprintf("this token has %d calls in flight, its cap", t.MaxCalls))
		return
	}
	release := func() {
		t.mu.Lock()
		t.inFlight--
		t.mu.Unlock()
	}
	if !h.caps.take(e164, h.cfg.Numbers.DailyCap, now) {
		release()
		h.refuse(w, r, t, http.StatusTooManyRequests, ReasonDailyCap, fmt.Sprintf("%s was called %d times today, its cap", e164, h.cfg.Numbers.DailyCap))
		return
	}
	id := dialer.NewID()
	camp.ID = "call-" + id
	log := h.log.With("call", id, "token", t.Name)
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: h.o.Store, Backend: h.o.Backends[tr.Backend], DNC: h.o.DNC,
		Recorder: h.o.Recorder, Logger: log, Poll: h.o.EnginePoll})
	if err == nil {
		err = eng.Create(r.Context())
	}
	if err == nil {
		var never []dialer.Contact
		_, never, err = eng.Add(r.Context(), []dialer.Contact{{ID: "c", Number: e164, Zones: []string{"UTC"}}})
		if err == nil && len(never) > 0 {
			err = errors.New("the contact can never be called")
		}
	}
	if err != nil {
		release()
		h.caps.give(e164)
		log.Error("httpapi: call not created", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, ReasonUnavailable, "the call could not be queued")
		return
	}
	c := &callState{id: id, campaign: camp.ID, token: t.Name, req: req, number: e164, created: now, done: make(chan struct{})}
	h.calls[id] = c
	if key != "" {
		h.idem[t.Name+"\x00"+key] = &idemEntry{call: id, body: hash, expires: now.Add(h.cfg.IdempotencyTTL)}
	}
	log.Info("httpapi: call queued", "number", e164, "trunk", tr.Name, "message", req.Message, "flow", req.Flow, "agent", req.Agent)
	queued := h.viewLocked(r.Context(), c) // before the engine starts: the answer says queued
	h.wg.Add(2)
	go h.expire(c, log)
	go func() {
		defer h.wg.Done()
		defer close(c.done)
		_, err := eng.Run(h.ctx)
		release()
		v := h.view(context.WithoutCancel(h.ctx), c)
		log.Info("httpapi: call ended", "err", err, "disposition", v.Disposition, "cause", v.Cause)
		if req.Webhook != "" {
			h.deliver(log, req.Webhook, "call.ended", v)
		}
	}()
	w.Header().Set("Location", "/v1/calls/"+id)
	writeJSON(w, http.StatusAccepted, queued)
}

// pruneLocked forgets, at most once a minute, expired idempotency keys and
// calls that ended longer than IdempotencyTTL ago (their records stay in
// the store and the call log).
func (h *Handler) pruneLocked(now time.Time) {
	if now.Sub(h.pruned) < time.Minute {
		return
	}
	h.pruned = now
	for k, e := range h.idem {
		if now.After(e.expires) {
			delete(h.idem, k)
		}
	}
	for id, c := range h.calls {
		select {
		case <-c.done:
			if now.Sub(c.created) > h.cfg.IdempotencyTTL {
				delete(h.calls, id)
			}
		default:
		}
	}
}

// expire gives a call up when it was not placed within QueueTimeout (its
// campaign is cancelled: nothing more is claimed; a call that began
// dialing meanwhile goes on to its end).
func (h *Handler) expire(c *callState, log *slog.Logger) {
	defer h.wg.Done()
	t := time.NewTimer(h.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return
	case <-h.ctx.Done():
		return
	case <-t.C:
	}
	ctx := context.WithoutCancel(h.ctx)
	_, attempts, err := h.o.Store.Contact(ctx, c.campaign, "c")
	if err != nil {
		log.Warn("httpapi: store", "err", err)
	}
	for _, a := range attempts {
		if a.Disposition != dialer.NotPlaced {
			return // placed (or dialing): it ends on its own
		}
	}
	if err := h.o.Store.SetState(ctx, c.campaign, dialer.CampaignCancelled); err != nil {
		log.Error("httpapi: could not give the call up", "err", err)
		return
	}
	log.Warn("httpapi: call not placed in time; given up", "queue_timeout", h.cfg.QueueTimeout)
}

func (h *Handler) getCall(w http.ResponseWriter, r *http.Request, t *tokenState) {
	h.mu.Lock()
	c := h.calls[r.PathValue("id")]
	h.mu.Unlock()
	if c == nil || c.token != t.Name && !t.has(ScopeCampaignsRead) {
		h.refuse(w, r, t, http.StatusNotFound, ReasonNotFound, "no such call")
		return
	}
	writeJSON(w, http.StatusOK, h.view(r.Context(), c))
}

func (h *Handler) view(ctx context.Context, c *callState) CallView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.viewLocked(ctx, c)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// viewLocked reads the call's contact and attempt from the store: the
// engine's records are the CDR.
func (h *Handler) viewLocked(ctx context.Context, c *callState) CallView {
	v := CallView{ID: c.id, State: CallQueued, Number: c.number, Trunk: c.req.Trunk, Message: c.req.Message,
		Flow: c.req.Flow, Agent: c.req.Agent, Created: c.created}
	st, attempts, err := h.o.Store.Contact(ctx, c.campaign, "c")
	if err != nil {
		h.log.Warn("httpapi: store", "call", c.id, "err", err)
		return v
	}
	if st.Final() {
		v.State, v.Status = CallEnded, string(st)
	}
	dialing := len(attempts) > 0 && attempts[len(attempts)-1].Disposition == ""
	if !st.Final() && !dialing {
		// Waiting to be placed: given up if its campaign was cancelled.
		if p, err := h.o.Store.Progress(ctx, c.campaign); err == nil && p.State == dialer.CampaignCancelled {
			v.State, v.Status = CallEnded, string(dialer.StatusCancelled)
		}
	}
	if len(attempts) == 0 {
		return v
	}
	a := attempts[len(attempts)-1]
	v.Attempt, v.Started = a.ID, optTime(a.Started)
	if a.Disposition == "" {
		v.State = CallDialing
		return v
	}
	v.Answered, v.Ended, v.Disposition, v.Reason, v.Cause = optTime(a.Answered), optTime(a.Ended), a.Disposition, a.Reason, a.Cause
	if !a.Answered.IsZero() && a.Ended.After(a.Answered) {
		v.DurationMS = a.Ended.Sub(a.Answered).Milliseconds()
	}
	return v
}
