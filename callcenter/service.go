package callcenter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsivr/fsivr/ami"
)

// ServiceConfig configures the shared AMI connection and the commands.
type ServiceConfig struct {
	Addr, Username, Secret string
	// AMI holds the connection settings (frame and queue limits, action
	// timeout, keepalive); its Logger defaults to Logger.
	AMI ami.Config

	Hub     *Hub
	Model   ModelConfig
	Metrics *Metrics
	Logger  *slog.Logger
	// MinDelay and MaxDelay bound the backoff between connection attempts
	// (ami.Reconnector's defaults: 100 ms, 30 s).
	MinDelay, MaxDelay time.Duration
	// BootTimeout bounds the wait for FullyBooted after Login (Asterisk
	// accepts logins before its boot has finished, 65); default 30 s.
	BootTimeout time.Duration

	// AgentChannel is the dial string of an agent's phone, with %s for the
	// agent (default "Local/%s@agent"); originate-call rings it first.
	AgentChannel string
	// OriginateContext is where the answered agent leg goes to dial the
	// number (Exten = the number, priority 1); default "c2c".
	OriginateContext string
	// CallerIDs are the caller ids an originate-call request may name
	// (without one the call shows the number dialed). Any other is
	// refused (ErrInvalid): it is shown to the agent and, unless the
	// dialplan sets another, to the customer, so a client could otherwise
	// call as anyone.
	CallerIDs []string
	// RingTimeout is how long the agent's phone rings (default 30 s).
	RingTimeout time.Duration
	// MemberInterface is the Interface used for queue-action add when the
	// agent is in no queue yet, with %s for the agent (default
	// "Local/%s@agent/n"); StateInterface likewise ("" for none).
	MemberInterface, StateInterface string
	// RedirectContext is redirect-call's context when the request names
	// none (default "default").
	RedirectContext string
	// RedirectContexts are the further contexts a redirect-call request
	// may name. Any other is refused (ErrInvalid): a client that picked
	// the context could send a caller into one with outbound routes.
	RedirectContexts []string
	// Parkinglot for park-and-announce ("" = Asterisk's default lot) and
	// how long a call stays parked before it rings the agent back.
	Parkinglot  string
	ParkTimeout time.Duration
	// ChannelIDPrefix starts every ChannelId of our originates (default
	// "cc-"); the server-side filter passes only those DialEnds.
	ChannelIDPrefix string
}

// Service is the one AMI connection all clients share: it sets the
// server-side filter, rebuilds the model with RebuildActions after every
// (re)connect, feeds it the live events, publishes the digested events to
// the Hub, and runs the commands.
type Service struct {
	cfg ServiceConfig
	log *slog.Logger

	mu     sync.Mutex // guards model, client, publishing order
	model  *Model
	client *ami.Client
	stale  bool

	amiEvents atomic.Int64
}

// AMIEvents returns how many live AMI events the service has received
// (after Asterisk's server-side filter).
func (s *Service) AMIEvents() int64 { return s.amiEvents.Load() }

// NewService returns a service; Run connects it.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Hub == nil {
		return nil, errors.New("callcenter: NewService needs a Hub")
	}
	if cfg.Addr == "" {
		return nil, errors.New("callcenter: NewService needs the AMI address")
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.AgentChannel, "Local/%s@agent")
	def(&cfg.OriginateContext, "c2c")
	def(&cfg.MemberInterface, "Local/%s@agent/n")
	def(&cfg.RedirectContext, "default")
	def(&cfg.ChannelIDPrefix, "cc-")
	if err := CheckName(cfg.ChannelIDPrefix); err != nil {
		return nil, fmt.Errorf("callcenter: ChannelIDPrefix: %w", err)
	}
	for _, t := range []string{cfg.AgentChannel, cfg.MemberInterface} {
		if strings.Count(t, "%s") != 1 {
			return nil, fmt.Errorf("callcenter: template %q needs exactly one %%s", t)
		}
	}
	if err := checkDialplanNames(cfg); err != nil {
		return nil, err
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.BootTimeout <= 0 {
		cfg.BootTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "callcenter"), model: NewModel(cfg.Model)}, nil
}

// checkDialplanNames refuses configured names that would break the AMI
// header or dial string they go into: the contexts and the lot as names
// (CheckName), the templates and caller ids free text without control
// characters, a caller id at most maxCallerID bytes.
func checkDialplanNames(cfg ServiceConfig) error {
	names := append([]string{cfg.OriginateContext, cfg.RedirectContext}, cfg.RedirectContexts...)
	if cfg.Parkinglot != "" {
		names = append(names, cfg.Parkinglot)
	}
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return fmt.Errorf("callcenter: context or parking lot: %w", err)
		}
	}
	texts := append([]string{cfg.AgentChannel, cfg.MemberInterface, cfg.StateInterface}, cfg.CallerIDs...)
	for i, t := range texts {
		if strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("callcenter: %q: control character", clip(t))
		}
		if i >= 3 && (t == "" || len(t) > maxCallerID) {
			return fmt.Errorf("callcenter: caller id %q: empty or longer than %d bytes", clip(t), maxCallerID)
		}
	}
	return nil
}

// maxCallerID bounds a configured caller id (`"Sales" <+14155550000>`).
const maxCallerID = 80

// Filters are the server-side filters the service adds after
// `Events EventMask: agent,call,dialplan,system`: one include per event the
// model reads (and FullyBooted, Shutdown) (a name(A|B) matches nothing, 66/69), the VarSet of
// MIXMONITOR_FILENAME only (dialplan class, the one way to learn a
// recording's file name, 62), the DeviceStateChanges of Custom: and
// Agent: devices only (what members' StateInterfaces follow), and the
// DialEnds and Hangups of our own originates only (the customer leg's
// result, 67, and the end of a click-to-call call).
func (s *Service) Filters() []ami.Filter {
	fs := ami.IncludeEvents("QueueMemberAdded", "QueueMemberRemoved", "QueueMemberStatus", "QueueMemberPause",
		"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect", "AgentComplete",
		"ExtensionStatus", "OriginateResponse", "FullyBooted", "Shutdown")
	return append(fs,
		ami.Filter{MatchCriteria: "action(include),name(VarSet),header(Variable),method(exact)", Filter: "MIXMONITOR_FILENAME"},
		ami.Filter{MatchCriteria: "action(include),name(DeviceStateChange),header(Device),method(regex)", Filter: devicePattern()},
		// method(regex) and method(exact) are the header methods the
		// captures show working (69); starts_with is not captured.
		ami.Filter{MatchCriteria: "action(include),name(DialEnd),header(Uniqueid),method(regex)", Filter: "^" + regexp.QuoteMeta(s.cfg.ChannelIDPrefix)},
		ami.Filter{MatchCriteria: "action(include),name(Hangup),header(Uniqueid),method(regex)", Filter: "^" + regexp.QuoteMeta(s.cfg.ChannelIDPrefix)},
	)
}

func devicePattern() string {
	quoted := make([]string, len(FollowedDevicePrefixes))
	for i, p := range FollowedDevicePrefixes {
		quoted[i] = regexp.QuoteMeta(p)
	}
	return "^(" + strings.Join(quoted, "|") + ")"
}

// EventMask is the class list sent before the filters: system for
// FullyBooted (awaited after a restart) and Shutdown only.
const EventMask = "agent,call,dialplan,system"

// Run keeps the connection up until ctx ends, through ami.Reconnector
// (backoff, Login, EventMask, Filters, FullyBooted): each connection is
// rebuilt and followed; when it ends clients are told stale. Until the
// first rebuild the state is stale too. It returns ctx.Err(), or an error
// retrying cannot fix (a wrong secret: ami.ErrAuth).
func (s *Service) Run(ctx context.Context) error {
	s.markStale(errors.New("connecting"))
	r := &ami.Reconnector{
		Addr: s.cfg.Addr, Username: s.cfg.Username, Secret: s.cfg.Secret,
		EventMask: EventMask, Filters: s.Filters(),
		MinDelay: s.cfg.MinDelay, MaxDelay: s.cfg.MaxDelay, BootTimeout: s.cfg.BootTimeout,
		Config: s.cfg.AMI,
	}
	if r.Logger == nil {
		r.Logger = s.log
	}
	err := r.Run(ctx, func(ctx context.Context, c *ami.Client, sub *ami.Subscription) {
		err := s.follow(ctx, c, sub)
		if ctx.Err() == nil {
			s.markStale(err)
		}
	})
	s.mu.Lock()
	s.client = nil
	s.mu.Unlock()
	return err
}

func (s *Service) markStale(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = nil
	if s.stale {
		return
	}
	s.stale = true
	s.log.Warn("AMI link down; clients told the state is stale", "err", err)
	s.cfg.Hub.Publish(Event{Type: TypeStale, Reason: err.Error()})
}

// follow is one connection's life: rebuild, then apply the live events
// until the connection or its subscription ends; it returns why.
func (s *Service) follow(ctx context.Context, c *ami.Client, sub *ami.Subscription) error {
	// Events queued since Login are applied after the rebuild, in order:
	// each carries absolute state (a member's whole block, a queue's Count)
	// or is a one-shot fact (AgentComplete) the lists cannot give, so
	// replaying them over the lists ends in the newest state.
	start := time.Now()
	var items []Fields
	lists := []func(context.Context) ([]*ami.Message, error){
		func(ctx context.Context) ([]*ami.Message, error) { return c.QueueStatus(ctx, "", "") },
		c.ExtensionStateList, c.DeviceStateList, c.CoreShowChannels,
	}
	for i, list := range lists {
		ms, err := list(ctx)
		if err != nil {
			return fmt.Errorf("ami %s: %w", RebuildActions[i], err)
		}
		for _, m := range ms {
			items = append(items, m)
		}
	}
	took := time.Since(start)
	s.mu.Lock()
	diffs := s.model.Rebuild(items)
	s.cfg.Hub.Publish(diffs...)
	for _, m := range sub.Drain(nil) {
		s.cfg.Hub.Publish(s.model.Apply(m)...)
	}
	s.cfg.Hub.Publish(Event{Type: TypeResynced})
	s.client, s.stale = c, false
	s.mu.Unlock()
	s.cfg.Metrics.reconnected(took.Seconds())
	s.log.Info("AMI connected; state rebuilt", "list_items", len(items), "differences", len(diffs), "rebuild", took)

	var buf []*ami.Message
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Notify():
		case <-sub.Done():
			s.apply(sub.Drain(buf[:0]))
			return fmt.Errorf("event subscription ended: %w", sub.Err())
		case <-c.Done():
			s.apply(sub.Drain(buf[:0]))
			return fmt.Errorf("connection lost: %w", c.Err())
		}
		buf = sub.Drain(buf[:0])
		s.apply(buf)
	}
}

func (s *Service) apply(ms []*ami.Message) {
	if len(ms) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		s.amiEvents.Add(1)
		s.cfg.Metrics.amiEvent()
		s.cfg.Hub.Publish(s.model.Apply(m)...)
	}
}

// View returns a copy of the model's state.
func (s *Service) View() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.model.View()
}

func (s *Service) conn() (*ami.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, ErrNotConnected
	}
	return s.client, nil
}

// refused turns Asterisk's refusal into a RefusedError with its wording.
func refused(action string, err error) error {
	var re *ami.ResponseError
	if errors.As(err, &re) {
		return &RefusedError{Action: action, Message: strings.TrimRight(re.Message, "\r\n")}
	}
	if errors.Is(err, ami.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return err
}

func newChannelID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// OriginateCall rings the agent's phone; when the agent answers, the
// dialplan at OriginateContext dials the number. The returned id is the
// call's ChannelId, which is also the Linkedid of every leg (67); an
// originateFailed with it goes to owner's subscriptions.
func (s *Service) OriginateCall(ctx context.Context, owner string, req OriginateRequest) (string, error) {
	if err := req.check(); err != nil {
		return "", err
	}
	if req.CallerID != "" && !slices.Contains(s.cfg.CallerIDs, req.CallerID) {
		return "", fmt.Errorf("%w: callerId %q is not one originate-call may use", ErrInvalid, clip(req.CallerID))
	}
	c, err := s.conn()
	if err != nil {
		return "", err
	}
	id := newChannelID(s.cfg.ChannelIDPrefix)
	callerID := req.CallerID
	if callerID == "" {
		callerID = req.Number
	}
	s.mu.Lock()
	s.model.TrackOriginate(Originate{ID: id, ChannelID: id, Owner: owner, Agent: req.Agent, Number: req.Number})
	s.mu.Unlock()
	_, err = c.Originate(ctx, ami.Originate{
		Channel: fmt.Sprintf(s.cfg.AgentChannel, req.Agent), Context: s.cfg.OriginateContext, Exten: req.Number, Priority: 1,
		Timeout: s.cfg.RingTimeout, CallerID: callerID, Async: true, ChannelID: id,
	})
	if err != nil {
		s.mu.Lock()
		s.model.ForgetOriginate(id)
		s.mu.Unlock()
		return "", refused("Originate", err)
	}
	s.log.Info("originate-call", "call_id", id, "agent", req.Agent, "owner", owner)
	return id, nil
}

func (s *Service) callOf(agent string) (caller, agentCh string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller, agentCh, ok := s.model.CallOf(agent)
	if !ok {
		return "", "", fmt.Errorf("%w: agent %s", ErrNoCall, agent)
	}
	return caller, agentCh, nil
}

// RedirectCall sends the party on the agent's queue call elsewhere.
func (s *Service) RedirectCall(ctx context.Context, req RedirectRequest) error {
	if err := req.check(); err != nil {
		return err
	}
	ctxName := req.Context
	if ctxName == "" {
		ctxName = s.cfg.RedirectContext
	}
	if ctxName != s.cfg.RedirectContext && !slices.Contains(s.cfg.RedirectContexts, ctxName) {
		return fmt.Errorf("%w: context %q is not one redirect-call may use", ErrInvalid, clip(ctxName))
	}
	c, err := s.conn()
	if err != nil {
		return err
	}
	caller, _, err := s.callOf(req.Agent)
	if err != nil {
		return err
	}
	return refused("Redirect", c.Redirect(ctx, caller, ctxName, req.Exten, 1))
}

// ParkAndAnnounce parks the party on the agent's call; the agent's own
// channel is the TimeoutChannel, which hears the space digits and gets
// the call back on timeout (64, A2).
func (s *Service) ParkAndAnnounce(ctx context.Context, req ParkRequest) error {
	if err := req.check(); err != nil {
		return err
	}
	c, err := s.conn()
	if err != nil {
		return err
	}
	caller, agentCh, err := s.callOf(req.Agent)
	if err != nil {
		return err
	}
	return refused("Park", c.Park(ctx, ami.Park{Channel: caller, TimeoutChannel: agentCh, Parkinglot: s.cfg.Parkinglot, Timeout: s.cfg.ParkTimeout}))
}

// QueueAction adds, removes, pauses or unpauses the agent in a queue. The
// member's Interface is the one the model knows, else MemberInterface;
// Asterisk's refusals come back in its words ("Unable to add interface:
// Already there", "Interface not found", "Unable to remove interface: Not
// there", …).
func (s *Service) QueueAction(ctx context.Context, req QueueActionRequest) error {
	if err := req.check(); err != nil {
		return err
	}
	c, err := s.conn()
	if err != nil {
		return err
	}
	s.mu.Lock()
	iface, ok := s.model.MemberInterface(req.Agent, req.Queue)
	if !ok {
		iface, _ = s.model.MemberInterface(req.Agent, "")
	}
	s.mu.Unlock()
	if iface == "" {
		iface = fmt.Sprintf(s.cfg.MemberInterface, req.Agent)
	}
	switch req.Action {
	case QueueAdd:
		m := ami.QueueMember{Queue: req.Queue, Interface: iface, MemberName: req.Name}
		if s.cfg.StateInterface != "" {
			m.StateInterface = strings.ReplaceAll(s.cfg.StateInterface, "%s", req.Agent)
		}
		return refused("QueueAdd", c.QueueAdd(ctx, m))
	case QueueRemove:
		return refused("QueueRemove", c.QueueRemove(ctx, req.Queue, iface))
	case QueuePause:
		return refused("QueuePause", c.QueuePause(ctx, req.Queue, iface, true, req.Reason))
	default:
		return refused("QueuePause", c.QueuePause(ctx, req.Queue, iface, false, req.Reason))
	}
}
