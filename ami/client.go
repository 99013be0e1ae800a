package ami

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Response is an action's answer: the reply message and, for a list
// action (`EventList: start`), the items in order and the ...Complete
// event that ended the list.
type Response struct {
	*Message
	Items    []*Message
	Complete *Message
}

// Client is a manager connection to Asterisk (TCP port 5038 by default).
// It is safe for concurrent use: many goroutines share one connection and
// each action's reply is matched by its ActionID.
type Client struct {
	*Conn
}

// Dialer connects Clients with the settings in its fields.
type Dialer struct {
	// Username and Secret are the manager.conf credentials. The secret
	// never reaches a log line or an error.
	Username, Secret string
	// MD5 logs in with the MD5 challenge (Challenge, then Login with
	// Key = md5hex(challenge + secret)): the secret never crosses the wire.
	MD5 bool
	// Config holds the connection settings.
	Config
}

// Dial connects to Asterisk at addr with the default Config (see Dialer)
// and logs in with a plain secret. A wrong username or secret gives
// ErrAuth (after the 1 s Asterisk waits before saying so).
func Dial(ctx context.Context, addr, username, secret string) (*Client, error) {
	d := Dialer{Username: username, Secret: secret}
	return d.Dial(ctx, addr)
}

// Dial connects to Asterisk at addr (host:port, 5038 by default on
// Asterisk's side), reads the banner and logs in (ErrAuth if rejected).
// The events right after Login (FullyBooted) are awaited with Booted; a
// Reconnector subscribes before Login, so its owner misses none.
func (d *Dialer) Dial(ctx context.Context, addr string) (*Client, error) {
	c, err := d.dialNoLogin(ctx, addr)
	return d.logIn(ctx, c, err)
}

// NewClient runs the handshake on an established connection (Dial does
// this for TCP): the banner, then Login. It takes ownership of nc.
func (d *Dialer) NewClient(ctx context.Context, nc net.Conn) (*Client, error) {
	c, err := d.open(ctx, nc)
	return d.logIn(ctx, c, err)
}

// logIn logs c in with d's credentials, closing it if that fails; err is
// the error of opening c, returned as it is.
func (d *Dialer) logIn(ctx context.Context, c *Client, err error) (*Client, error) {
	if err != nil {
		return nil, err
	}
	if err := c.login(ctx, d.Username, d.Secret, d.MD5); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// dialNoLogin connects and reads the banner: the Reconnector subscribes
// before it logs in.
func (d *Dialer) dialNoLogin(ctx context.Context, addr string) (*Client, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ami: dial %s: %w", addr, err)
	}
	return d.open(ctx, nc)
}

// open reads the banner on nc and starts the reader, without logging in.
// A connection that closes before the banner (Asterisk shutting down
// accepts, then closes) gives an error matching ErrClosed; without a
// context deadline the banner is awaited for the action timeout.
func (d *Dialer) open(ctx context.Context, nc net.Conn) (*Client, error) {
	cfg := d.Config.withDefaults()
	rd := newConnReader(nc, cfg)
	if _, ok := ctx.Deadline(); !ok {
		// A peer that accepts and never speaks must not hold us forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ActionTimeout)
		defer cancel()
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) })
	banner, err := rd.ReadBanner()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ami: banner: %w", ctx.Err())
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: closed before the banner", ErrClosed)
		}
		return nil, fmt.Errorf("ami: banner: %w", err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	c := &Client{Conn: newConn(nc, rd, cfg, banner)}
	c.start()
	return c, nil
}

// Login logs in with a plain secret; a rejection gives ErrAuth. Keepalive
// Pings start after a successful Login.
func (c *Client) Login(ctx context.Context, username, secret string) error {
	return c.login(ctx, username, secret, false)
}

// LoginMD5 logs in with the MD5 challenge: Challenge, then Login with
// Key = md5hex(challenge + secret).
func (c *Client) LoginMD5(ctx context.Context, username, secret string) error {
	return c.login(ctx, username, secret, true)
}

func (c *Client) login(ctx context.Context, username, secret string, useMD5 bool) error {
	if ValidateValue(secret) != nil {
		return fmt.Errorf("%w: the secret holds CR, LF or NUL", ErrInvalidValue)
	}
	headers := []string{"Username", username, "Secret", secret}
	if useMD5 {
		r, err := c.roundTrip(ctx, "Challenge", "AuthType", "MD5")
		if err != nil {
			return fmt.Errorf("ami: challenge: %w", err)
		}
		sum := md5.Sum([]byte(r.Get("Challenge") + secret))
		headers = []string{"AuthType", "MD5", "Username", username, "Key", hex.EncodeToString(sum[:])}
	}
	r, err := c.roundTrip(ctx, "Login", headers...)
	if err != nil {
		if r != nil {
			return fmt.Errorf("%w: %s", ErrAuth, r.Get("Message"))
		}
		return fmt.Errorf("ami: login: %w", err)
	}
	c.loggedIn.Store(true)
	c.startKeepalive()
	c.log.Debug("ami: logged in", "username", username, "md5", useMD5)
	return nil
}

// Action sends any action with header name, value pairs (repeat a name
// to repeat the header, e.g. Variable) and returns its Response. Response:
// Error or Failure gives a *ResponseError (errors.Is(err, ErrAction)) with
// the Response. Invalid names or values give ErrInvalidValue and nothing
// is written. Without a context deadline the action gets the connection's
// action timeout (ErrTimeout).
func (c *Conn) Action(ctx context.Context, action string, headers ...string) (*Response, error) {
	return c.roundTrip(ctx, action, headers...)
}

// Ping checks the connection.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.roundTrip(ctx, "Ping")
	return err
}

// Logoff ends the session: Asterisk answers Goodbye and closes.
func (c *Client) Logoff(ctx context.Context) error {
	_, err := c.roundTrip(ctx, "Logoff")
	if err == nil {
		select {
		case <-c.done:
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	_ = c.Close()
	return err
}

// Command runs a CLI command and returns its output lines: the Output
// headers of Asterisk 14 and later, or the `Response: Follows` text of
// older versions. A command Asterisk does not know is a *ResponseError.
func (c *Client) Command(ctx context.Context, command string) ([]string, error) {
	r, err := c.roundTrip(ctx, "Command", "Command", command)
	if r == nil {
		return nil, err
	}
	return r.Output(), err
}

// Originate is the Originate action. Set ChannelID (and OtherChannelID for
// Local channels) to know the Uniqueids before the call exists: Asterisk
// reports them even in a failed OriginateResponse.
type Originate struct {
	Channel     string        // dial string, e.g. "PJSIP/100" or "Local/100@ctx"
	Context     string        // with Exten and Priority: where the answered call goes
	Exten       string        //
	Priority    int           // 1 when zero and Context is set
	Application string        // or an application to run on answer
	Data        string        //
	Timeout     time.Duration // ring time (Asterisk's default is 30 s)
	CallerID    string        // `"Name" <number>`
	Account     string
	// Variables are set on the channel, in this order ("NAME" or "__NAME"
	// for inheritance). Names must not hold '='; values must not hold a
	// comma (Asterisk splits Variable headers on commas).
	Variables      [][2]string
	Async          bool
	ChannelID      string
	OtherChannelID string
	Codecs         string
}

func (o Originate) headers() ([]string, error) {
	if o.Channel == "" {
		return nil, fmt.Errorf("%w: Originate without Channel", ErrInvalidValue)
	}
	h := []string{"Channel", o.Channel}
	add := func(k, v string) {
		if v != "" {
			h = append(h, k, v)
		}
	}
	add("Context", o.Context)
	add("Exten", o.Exten)
	if o.Context != "" || o.Exten != "" {
		h = append(h, "Priority", strconv.Itoa(max(o.Priority, 1)))
	}
	add("Application", o.Application)
	add("Data", o.Data)
	if o.Timeout > 0 {
		h = append(h, "Timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
	}
	add("CallerID", o.CallerID)
	add("Account", o.Account)
	add("ChannelId", o.ChannelID)
	add("OtherChannelId", o.OtherChannelID)
	add("Codecs", o.Codecs)
	if o.Async {
		h = append(h, "Async", "true")
	}
	for _, kv := range o.Variables {
		if kv[0] == "" || strings.ContainsAny(kv[0], "=,") {
			return nil, fmt.Errorf("%w: Originate variable name %.40q", ErrInvalidValue, kv[0])
		}
		if strings.ContainsRune(kv[1], ',') {
			return nil, fmt.Errorf("%w: Originate variable %s: a comma would split it", ErrInvalidValue, kv[0])
		}
		h = append(h, "Variable", kv[0]+"="+kv[1])
	}
	return h, nil
}

// Originate places a call. With Async the reply only says the call was
// queued and the outcome comes as an OriginateResponse event (see
// Tracker); without it the action blocks the session until the call is
// answered or fails, and the action deadline is extended by Timeout.
func (c *Client) Originate(ctx context.Context, o Originate) (*Response, error) {
	h, err := o.headers()
	if err != nil {
		return nil, err
	}
	if !o.Async {
		if _, ok := ctx.Deadline(); !ok {
			ring := o.Timeout
			if ring <= 0 {
				ring = 30 * time.Second
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ring+c.cfg.ActionTimeout)
			defer cancel()
		}
	}
	return c.roundTrip(ctx, "Originate", h...)
}

// Redirect transfers a channel to dialplanContext, exten, priority.
func (c *Client) Redirect(ctx context.Context, channel, dialplanContext, exten string, priority int) error {
	_, err := c.roundTrip(ctx, "Redirect", "Channel", channel, "Context", dialplanContext, "Exten", exten, "Priority", strconv.Itoa(max(priority, 1)))
	return err
}

// Hangup hangs up a channel (by name or Uniqueid) with a cause code (0:
// Asterisk's default).
func (c *Client) Hangup(ctx context.Context, channel string, cause int) error {
	h := []string{"Channel", channel}
	if cause > 0 {
		h = append(h, "Cause", strconv.Itoa(cause))
	}
	_, err := c.roundTrip(ctx, "Hangup", h...)
	return err
}

// Getvar reads a channel variable or function (channel "" for globals).
func (c *Client) Getvar(ctx context.Context, channel, variable string) (string, error) {
	h := []string{"Variable", variable}
	if channel != "" {
		h = append(h, "Channel", channel)
	}
	r, err := c.roundTrip(ctx, "Getvar", h...)
	if err != nil {
		return "", err
	}
	return r.Get("Value"), nil
}

// Setvar sets a channel variable or function (channel "" for globals and
// functions such as DEVICE_STATE(Custom:x)).
func (c *Client) Setvar(ctx context.Context, channel, variable, value string) error {
	h := []string{"Variable", variable, "Value", value}
	if channel != "" {
		h = append(h, "Channel", channel)
	}
	_, err := c.roundTrip(ctx, "Setvar", h...)
	return err
}

// list runs a list action and returns its items.
func (c *Client) list(ctx context.Context, action string, headers ...string) ([]*Message, error) {
	r, err := c.roundTrip(ctx, action, headers...)
	if err != nil {
		return nil, err
	}
	return r.Items, nil
}

// Status lists channels (all when channel is ""): Status items.
func (c *Client) Status(ctx context.Context, channel string) ([]*Message, error) {
	if channel == "" {
		return c.list(ctx, "Status")
	}
	return c.list(ctx, "Status", "Channel", channel)
}

// CoreShowChannels lists the live channels (CoreShowChannel items).
func (c *Client) CoreShowChannels(ctx context.Context) ([]*Message, error) {
	return c.list(ctx, "CoreShowChannels")
}

// QueueStatus lists QueueParams, QueueMember and QueueEntry items (queue
// and member "" for all).
func (c *Client) QueueStatus(ctx context.Context, queue, member string) ([]*Message, error) {
	var h []string
	if queue != "" {
		h = append(h, "Queue", queue)
	}
	if member != "" {
		h = append(h, "Member", member)
	}
	return c.list(ctx, "QueueStatus", h...)
}

// QueueSummary lists one QueueSummary item per queue (queue "" for all).
func (c *Client) QueueSummary(ctx context.Context, queue string) ([]*Message, error) {
	if queue == "" {
		return c.list(ctx, "QueueSummary")
	}
	return c.list(ctx, "QueueSummary", "Queue", queue)
}

// ExtensionStateList lists the hints (ExtensionStatus items).
func (c *Client) ExtensionStateList(ctx context.Context) ([]*Message, error) {
	return c.list(ctx, "ExtensionStateList")
}

// DeviceStateList lists device states (DeviceStateChange items).
func (c *Client) DeviceStateList(ctx context.Context) ([]*Message, error) {
	return c.list(ctx, "DeviceStateList")
}

// QueueMember describes a dynamic queue member for QueueAdd.
type QueueMember struct {
	Queue          string
	Interface      string // e.g. "Local/510@agent/n"
	MemberName     string
	StateInterface string // e.g. "Custom:agent510"
	Penalty        int
	Paused         bool
	Reason         string // pause reason when Paused
}

// QueueAdd adds a dynamic member.
func (c *Client) QueueAdd(ctx context.Context, m QueueMember) error {
	h := []string{"Queue", m.Queue, "Interface", m.Interface, "Penalty", strconv.Itoa(m.Penalty), "Paused", strconv.FormatBool(m.Paused)}
	if m.MemberName != "" {
		h = append(h, "MemberName", m.MemberName)
	}
	if m.StateInterface != "" {
		h = append(h, "StateInterface", m.StateInterface)
	}
	if m.Reason != "" {
		h = append(h, "Reason", m.Reason)
	}
	_, err := c.roundTrip(ctx, "QueueAdd", h...)
	return err
}

// QueueRemove removes a dynamic member.
func (c *Client) QueueRemove(ctx context.Context, queue, iface string) error {
	_, err := c.roundTrip(ctx, "QueueRemove", "Queue", queue, "Interface", iface)
	return err
}

// QueuePause pauses or unpauses a member in queue ("" for all its queues).
func (c *Client) QueuePause(ctx context.Context, queue, iface string, paused bool, reason string) error {
	h := []string{"Interface", iface, "Paused", strconv.FormatBool(paused)}
	if queue != "" {
		h = append(h, "Queue", queue)
	}
	if reason != "" {
		h = append(h, "Reason", reason)
	}
	_, err := c.roundTrip(ctx, "QueuePause", h...)
	return err
}

// QueuePenalty sets a member's penalty in queue ("" for all its queues).
func (c *Client) QueuePenalty(ctx context.Context, queue, iface string, penalty int) error {
	h := []string{"Interface", iface, "Penalty", strconv.Itoa(penalty)}
	if queue != "" {
		h = append(h, "Queue", queue)
	}
	_, err := c.roundTrip(ctx, "QueuePenalty", h...)
	return err
}

// Park describes the Park action.
type Park struct {
	Channel         string
	TimeoutChannel  string // who gets the call back (and hears the space) on timeout
	AnnounceChannel string
	Timeout         time.Duration
	Parkinglot      string
	ParkingSpace    string
}

// Park parks a channel.
func (c *Client) Park(ctx context.Context, p Park) error {
	h := []string{"Channel", p.Channel}
	add := func(k, v string) {
		if v != "" {
			h = append(h, k, v)
		}
	}
	add("TimeoutChannel", p.TimeoutChannel)
	add("AnnounceChannel", p.AnnounceChannel)
	if p.Timeout > 0 {
		h = append(h, "Timeout", strconv.FormatInt(p.Timeout.Milliseconds(), 10))
	}
	add("Parkinglot", p.Parkinglot)
	add("ParkingSpace", p.ParkingSpace)
	_, err := c.roundTrip(ctx, "Park", h...)
	return err
}

// Events sets the session's event mask: "on", "off" or a class list such
// as "call,agent" (VarSet and Newexten are class dialplan, Cdr is cdr).
func (c *Client) Events(ctx context.Context, mask string) error {
	_, err := c.roundTrip(ctx, "Events", "EventMask", mask)
	return err
}

// Filter is one server-side event filter (Action: Filter, Operation: Add).
// Asterisk only adds filters; they last for the session.
type Filter struct {
	// MatchCriteria is the advanced form, e.g. "action(include),name(Hangup)".
	// name() takes exactly one event name: `name(A|B)` is accepted by
	// Asterisk and matches nothing, so it is refused here.
	MatchCriteria string
	// Filter is the legacy regex on the event text ("Event: (A|B)",
	// "!Event: VarSet"), or the value the criteria's method compares.
	Filter string
}

// IncludeEvents returns one advanced include filter per event name, the
// form that works (a single name(A|B) matches nothing).
func IncludeEvents(names ...string) []Filter {
	fs := make([]Filter, 0, len(names))
	for _, n := range names {
		fs = append(fs, Filter{MatchCriteria: "action(include),name(" + n + ")"})
	}
	return fs
}

// Validate refuses a name() with alternation, and CR/LF.
func (f Filter) Validate() error {
	if i := strings.Index(strings.ToLower(f.MatchCriteria), "name("); i >= 0 {
		arg, _, _ := strings.Cut(f.MatchCriteria[i+5:], ")")
		if strings.ContainsAny(arg, "|*?[") || arg == "" {
			return fmt.Errorf("%w: filter name(%s): one exact event name per filter (Asterisk accepts alternation but matches nothing)", ErrInvalidValue, arg)
		}
	}
	if err := ValidateValue(f.MatchCriteria); err != nil {
		return err
	}
	return ValidateValue(f.Filter)
}

// AddFilter adds a server-side filter to the session.
func (c *Client) AddFilter(ctx context.Context, f Filter) error {
	if err := f.Validate(); err != nil {
		return err
	}
	h := []string{"Operation", "Add"}
	if f.MatchCriteria != "" {
		h = append(h, "MatchCriteria", f.MatchCriteria)
	}
	h = append(h, "Filter", f.Filter)
	_, err := c.roundTrip(ctx, "Filter", h...)
	return err
}

// ActionIDPrefix is the prefix of this connection's ActionIDs; an
// OriginateResponse whose ActionID lacks it came from another client.
func (c *Client) ActionIDPrefix() string { return c.prefix }

// Owns reports whether an ActionID is one of this connection's.
func (c *Client) Owns(actionID string) bool { return strings.HasPrefix(actionID, c.prefix) }
