package ami

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoginPlainKeepsEventsReadWithTheReply(t *testing.T) {
	// goami2 loses FullyBooted/SuccessfulAuth read together with the login
	// reply: here all three arrive in one write.
	var logs bytes.Buffer
	c, p := newPair(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	sub := c.Subscribe()
	errc := make(chan error, 1)
	go func() { errc <- c.Login(context.Background(), "dialer", "s3cr3t-value") }()
	m := p.next()
	if m.Get("Action") != "Login" || m.Get("Username") != "dialer" || m.Get("Secret") != "s3cr3t-value" || !c.Owns(m.ActionID()) {
		t.Fatalf("login action: %q", m.Raw())
	}
	login := captured(t, "02_login_events_filter_ping_errors_logoff", "login-c06352de", m.ActionID())
	raw := readTestdata(t, "02_login_events_filter_ping_errors_logoff.s2c.raw")
	start := bytes.Index(raw, []byte("Event: FullyBooted"))
	end := bytes.Index(raw, []byte("Response: Success\r\nActionID: events-1"))
	p.send(login + string(raw[start:end]))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := drainUntil(t, sub, 2)
	if got[0].Name() != "FullyBooted" || got[1].Name() != "SuccessfulAuth" {
		t.Errorf("events %v", got)
	}
	select {
	case <-c.Booted():
	default:
		t.Error("Booted not closed after FullyBooted")
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("the secret reached the log: %s", logs.String())
	}
}

func TestLoginWrongSecretIsErrAuth(t *testing.T) {
	c, p := newPair(t, Config{})
	errc := make(chan error, 1)
	go func() { errc <- c.Login(context.Background(), "dialer", "WRONG") }()
	m := p.next()
	p.send(captured(t, "01_login_wrong_secret", "login-bad-1", m.ActionID()))
	_ = p.nc.Close() // Asterisk closes after the error
	err := <-errc
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "WRONG") {
		t.Errorf("the secret is in the error: %v", err)
	}
}

func TestLoginMD5(t *testing.T) {
	c, p := newPair(t, Config{})
	errc := make(chan error, 1)
	go func() { errc <- c.LoginMD5(context.Background(), "dialer", "secret") }()
	m := p.next()
	if m.Get("Action") != "Challenge" || m.Get("AuthType") != "MD5" {
		t.Fatalf("first action %q", m.Raw())
	}
	p.send(captured(t, "04_login_md5_challenge", "chal-1", m.ActionID()))
	m = p.next()
	// The capture's Key is md5hex("698251592" + "secret"): we must send the same.
	if m.Get("Key") != "d4c9a1213e9e03ca1ac7626a0d142f61" || m.Get("AuthType") != "MD5" || m.Get("Secret") != "" {
		t.Fatalf("login %q", m.Raw())
	}
	sum := md5.Sum([]byte("698251592secret"))
	if hex.EncodeToString(sum[:]) != m.Get("Key") {
		t.Fatal("capture and md5 disagree")
	}
	p.send(captured(t, "04_login_md5_challenge", "login-md5", m.ActionID()))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// 1,000 actions from many goroutines on one connection, answered in a
// shuffled order: each caller gets its own reply (goami takes the next
// message as the reply).
func TestConcurrentActionsMatchedByActionID(t *testing.T) {
	c, p := newPair(t, Config{})
	const n = 1000
	go func() {
		var batch []*Message
		for range n {
			m := p.next()
			if m == nil {
				return
			}
			batch = append(batch, m)
			if len(batch) == 50 {
				rand.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				for _, b := range batch {
					p.reply(b, "Response: Success", "Value: "+b.Get("Variable"))
				}
				batch = batch[:0]
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			v, err := c.Getvar(context.Background(), "", "V"+strconv.Itoa(i))
			if err != nil || v != "V"+strconv.Itoa(i) {
				errs <- fmt.Errorf("action %d: got %q, %v", i, v, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if pendingCount(c) != 0 {
		t.Errorf("%d actions still pending", pendingCount(c))
	}
}

func TestListActionCollectsItems(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe()
	go func() {
		m := p.next()
		// An unrelated event in the middle of the list goes to subscribers.
		list := captured(t, "30_lists_redirect_queueops", "coreshowchannels-55dbdfb0", m.ActionID())
		i := strings.Index(list, "Event: CoreShowChannel\r\n")
		p.send(list[:i] + "Event: Newchannel\r\nUniqueid: x\r\n\r\n" + list[i:])
	}()
	items, err := c.CoreShowChannels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	for _, it := range items {
		if it.Name() != "CoreShowChannel" || !strings.HasPrefix(it.Get("Channel"), "Local/700@test-") {
			t.Errorf("item %v %q", it, it.Get("Channel"))
		}
	}
	if got := drainUntil(t, sub, 1); got[0].Name() != "Newchannel" || len(got) != 1 {
		t.Errorf("subscription got %v, want only the Newchannel", got)
	}

	// QueueStatus items carry the ActionID last; an empty list has none.
	go func() {
		m := p.next()
		p.send(captured(t, "30_lists_redirect_queueops", "queuestatus-cea3bbd7", m.ActionID()))
		m = p.next()
		p.send(captured(t, "30_lists_redirect_queueops", "queuestatus-b74f2ebe", m.ActionID()))
	}()
	items, err = c.QueueStatus(context.Background(), "sales", "")
	if err != nil || len(items) != 3 || items[0].Name() != "QueueParams" || items[2].Get("Name") != "Static400" {
		t.Errorf("QueueStatus: %v, %v", items, err)
	}
	items, err = c.QueueStatus(context.Background(), "nosuchqueue", "")
	if err != nil || len(items) != 0 {
		t.Errorf("empty QueueStatus: %v, %v", items, err)
	}
}

// OriginateResponse carries Response: and our ActionID but is an event; a
// broadcast one from another session, an unknown reply and a Goodbye
// nobody asked for never block the reader (bit4bit/gami deadlocks).
func TestOriginateResponseIsAnEventAndStrayRepliesAreHarmless(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe("OriginateResponse")
	var id string
	go func() {
		m := p.next()
		id = m.ActionID()
		p.reply(m, "Response: Success", "Message: Originate successfully queued")
		p.send("Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: " + m.ActionID() + "\r\nResponse: Success\r\nReason: 4\r\nUniqueid: c-1\r\n\r\n")
		p.send("Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: other-7\r\nResponse: Failure\r\nReason: 5\r\n\r\n")
		p.send("Response: Success\r\nActionID: other-8\r\nPing: Pong\r\n\r\n")
		p.send("Response: Goodbye\r\nActionID: " + c.ActionIDPrefix() + "999\r\nMessage: Thanks for all the fish.\r\n\r\n")
		m = p.next()
		p.reply(m, "Response: Success", "Ping: Pong")
	}()
	r, err := c.Originate(context.Background(), Originate{Channel: "Local/100@test", Context: "test", Exten: "100", Async: true, ChannelID: "c-1"})
	if err != nil || r.Get("Message") != "Originate successfully queued" {
		t.Fatalf("Originate: %v %v", r, err)
	}
	got := drainUntil(t, sub, 2)
	if got[0].ActionID() != id || got[0].Get("Reason") != "4" || got[1].ActionID() != "other-7" {
		t.Errorf("events %v", got)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("the connection is stuck after stray replies: %v", err)
	}
	if s := c.Stats(); s.RepliesUnclaimed != 2 {
		t.Errorf("RepliesUnclaimed = %d, want 2", s.RepliesUnclaimed)
	}
	select {
	case <-c.Done():
		t.Errorf("a stray Goodbye ended the connection: %v", c.Err())
	default:
	}
}

// 16: a synchronous Originate holds the session; its Error reply comes
// first and all the call's events after it.
func TestSyncOriginateThenHeldEvents(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe("Hangup", "UserEvent")
	go func() {
		m := p.next()
		if m.Get("Async") != "" {
			t.Errorf("sync originate sent Async")
		}
		time.Sleep(50 * time.Millisecond) // Asterisk holds the session
		p.send(captured(t, "16_originate_sync_local200_busy", "orig-e538a921", m.ActionID()))
		raw := string(readTestdata(t, "16_originate_sync_local200_busy.s2c.raw"))
		i := strings.Index(raw, "Message: Originate failed\r\n\r\n") + len("Message: Originate failed\r\n\r\n")
		j := strings.Index(raw, "Response: Goodbye")
		p.send(raw[i:j])
	}()
	_, err := c.Originate(context.Background(), Originate{Channel: "Local/200@test", Context: "test", Exten: "100", Timeout: 30 * time.Second})
	var re *ResponseError
	if !errors.As(err, &re) || !errors.Is(err, ErrAction) || re.Message != "Originate failed" {
		t.Fatalf("err = %v", err)
	}
	got := drainUntil(t, sub, 4)
	if got[0].Get("Channel") != "Local/200@test-00000006;1" || got[3].Get("Channel") != "OutgoingSpoolFailed" {
		t.Errorf("held events in the wrong order: %v %v", got[0].Get("Channel"), got[3].Get("Channel"))
	}
}

func TestContextEndRemovesPending(t *testing.T) {
	c, p := newPair(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var late *Message
	go func() {
		late = p.next()
		cancel()
	}()
	if err := c.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if pendingCount(c) != 0 {
		t.Fatal("cancelled action still pending")
	}
	// Its late reply is dropped and the next action gets its own.
	go func() {
		p.reply(late, "Response: Success", "Ping: Pong", "Which: late")
		m := p.next()
		p.reply(m, "Response: Success", "Ping: Pong", "Which: mine")
	}()
	r, err := c.Action(context.Background(), "Ping")
	if err != nil || r.Get("Which") != "mine" {
		t.Fatalf("got %v %q", err, r.Get("Which"))
	}
}

func TestDefaultDeadline(t *testing.T) {
	c, p := newPair(t, Config{ActionTimeout: 50 * time.Millisecond})
	go p.next() // read, never answer
	err := c.Ping(context.Background())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if pendingCount(c) != 0 {
		t.Error("timed-out action still pending")
	}
}

func TestDropFailsPendingActions(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe()
	go func() {
		p.next()
		_ = p.nc.Close()
	}()
	err := c.Ping(context.Background())
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	<-sub.Done()
	if !errors.Is(sub.Err(), ErrClosed) {
		t.Errorf("subscription err %v", sub.Err())
	}
	if _, err := c.Action(context.Background(), "Ping"); !errors.Is(err, ErrClosed) {
		t.Errorf("action after the drop: %v", err)
	}
}

func TestBadFramesEndOnlyThatConnection(t *testing.T) {
	c1, p1 := newPair(t, Config{})
	c2, p2 := newPair(t, Config{MaxFrame: 4096})
	c3, p3 := newPair(t, Config{})
	go p1.send("Event: X\r\nthis line has no colon\r\n\r\n")
	go p2.send("Event: Big\r\nData: " + strings.Repeat("x", 5000) + "\r\n\r\n")
	if err := waitErr(t, c1); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
	if err := waitErr(t, c2); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	go func() {
		m := p3.next()
		p3.reply(m, "Response: Success", "Ping: Pong")
	}()
	if err := c3.Ping(context.Background()); err != nil {
		t.Errorf("the other connection suffered: %v", err)
	}
}

// A consumer that does not drain never stalls the reader: the peer can
// write 20,000 events and an action still gets its reply.
func TestSlowConsumerNeverStallsReader(t *testing.T) {
	c, p := newPair(t, Config{})
	sub := c.Subscribe("Newexten")
	ev := "Event: Newexten\r\nPrivilege: dialplan,all\r\nChannel: Local/100@test-00000001;1\r\nUniqueid: 1.1\r\nApplication: Wait\r\n\r\n"
	done := make(chan struct{})
	go func() {
		p.send(strings.Repeat(ev, 20000))
		m := p.next()
		p.reply(m, "Response: Success", "Ping: Pong")
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := len(sub.Drain(nil)); got != 20000 {
		t.Errorf("drained %d events, want 20000", got)
	}
	if st := sub.Stats(); st.HighWaterCrossings != 1 || st.MaxQueueDepth != 20000 {
		t.Errorf("stats %+v", st)
	}
}

func TestSubscriptionOverflowClosesOnlyIt(t *testing.T) {
	c, p := newPair(t, Config{HighWater: 10, MaxQueue: 100})
	full := c.Subscribe("UserEvent")
	other := c.Subscribe("UserEvent")
	go p.send(strings.Repeat("Event: UserEvent\r\nUserEvent: x\r\n\r\n", 100))
	got := drainUntil(t, other, 100)
	<-full.Done()
	if !errors.Is(full.Err(), ErrQueueOverflow) || len(got) != 100 {
		t.Errorf("full: %v; other got %d", full.Err(), len(got))
	}
	select {
	case <-c.Done():
		t.Error("the connection was closed")
	default:
	}
}

func TestKeepaliveDetectsSilentPeer(t *testing.T) {
	c, p := newPair(t, Config{Keepalive: 30 * time.Millisecond})
	go func() {
		m := p.next()
		p.reply(m, "Response: Success", "Message: Authentication accepted")
		m = p.next() // the first keepalive Ping
		if m.Get("Action") != "Ping" {
			t.Errorf("keepalive sent %q", m.Raw())
		}
		p.reply(m, "Response: Success", "Ping: Pong")
		for { // then go silent
			if _, err := p.rd.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if err := c.Login(context.Background(), "u", "s"); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, c); !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
}

func TestLogoffAndShutdownAreCleanEnds(t *testing.T) {
	c, p := newPair(t, Config{})
	go func() {
		m := p.next()
		p.send(captured(t, "04_login_md5_challenge", "logoff", m.ActionID()))
		_ = p.nc.Close()
	}()
	if err := c.Logoff(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "logged off") {
		t.Errorf("after Logoff: %v", err)
	}

	c, p = newPair(t, Config{})
	raw := string(readTestdata(t, "65_restart_while_connected.s2c.raw"))
	go func() {
		p.send(raw[strings.Index(raw, "Event: Shutdown"):])
		_ = p.nc.Close()
	}()
	if err := waitErr(t, c); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "shut down") {
		t.Errorf("after Shutdown: %v", err)
	}
}

func TestCommandBothForms(t *testing.T) {
	c, p := newPair(t, Config{})
	go func() {
		m := p.next()
		p.send(captured(t, "30_lists_redirect_queueops", "command-6e5f56da", m.ActionID()))
		m = p.next()
		p.send("Response: Follows\r\nPrivilege: Command\r\nActionID: " + m.ActionID() + "\r\nAsterisk 1.8.32.3 built by root\r\n--END COMMAND--\r\n\r\n")
		m = p.next()
		p.send(captured(t, "30_lists_redirect_queueops", "command-f3ebf2ff", m.ActionID()))
	}()
	out, err := c.Command(context.Background(), "core show channels concise")
	if err != nil || len(out) < 2 || !strings.HasPrefix(out[0], "Local/700@test-0000000f;2!test!700!") {
		t.Errorf("Output form: %q, %v", out, err)
	}
	out, err = c.Command(context.Background(), "core show version")
	if err != nil || len(out) != 1 || out[0] != "Asterisk 1.8.32.3 built by root" {
		t.Errorf("Follows form: %q, %v", out, err)
	}
	out, err = c.Command(context.Background(), "no such cli command")
	if !errors.Is(err, ErrAction) || len(out) != 1 || !strings.HasPrefix(out[0], "No such command") {
		t.Errorf("bad command: %q, %v", out, err)
	}
}

// Nothing is written when a value would inject a header.
func TestInvalidValuesWriteNothing(t *testing.T) {
	c, p := newPair(t, Config{})
	calls := []func() error{
		func() error {
			_, err := c.Originate(context.Background(), Originate{Channel: "Local/1@t", CallerID: "\"x\" <1>\r\nAction: Hangup"})
			return err
		},
		func() error {
			_, err := c.Originate(context.Background(), Originate{Channel: "Local/1@t", Variables: [][2]string{{"CALLID", "a,B=c"}}})
			return err
		},
		func() error { return c.Setvar(context.Background(), "", "X", "a\nb") },
		func() error {
			return c.AddFilter(context.Background(), Filter{MatchCriteria: "action(include),name(Hangup|Newchannel)"})
		},
		func() error { _, err := c.Action(context.Background(), "Ping", "ActionID", "mine"); return err },
		func() error { return c.Login(context.Background(), "u", "se\r\ncret") },
	}
	for i, call := range calls {
		if err := call(); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("call %d: %v, want ErrInvalidValue", i, err)
		}
	}
	// The first bytes the peer sees are the next valid action's.
	go func() {
		m := p.next()
		if m.Get("Action") != "Ping" {
			t.Errorf("peer got %q first", m.Raw())
		}
		p.reply(m, "Response: Success", "Ping: Pong")
	}()
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// 65: a connect during a shutdown is accepted and closed without a byte;
// a peer that never sends the banner is given up on.
func TestNoBanner(t *testing.T) {
	a, b := net.Pipe()
	go func() { _ = b.Close() }()
	if _, err := (&Dialer{Config: Config{Logger: quiet}}).NewClient(context.Background(), a); !errors.Is(err, ErrClosed) {
		t.Errorf("closed before the banner: %v, want ErrClosed", err)
	}
	a, b = net.Pipe()
	defer b.Close()
	start := time.Now()
	_, err := (&Dialer{Config: Config{Logger: quiet, ActionTimeout: 50 * time.Millisecond}}).NewClient(context.Background(), a)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("silent peer: %v after %v", err, time.Since(start))
	}
}

// A peer that stops in the middle of a message would hold the connection,
// and every action on it, until the keepalive noticed. Once a message's
// first bytes are in, the rest must come within Config.StallTimeout; an
// idle connection is never cut.
func TestStalledMessageClosesConnection(t *testing.T) {
	cfg := Config{StallTimeout: 50 * time.Millisecond, ActionTimeout: 5 * time.Second}
	stalled, p := newPair(t, cfg)
	idle, q := newPair(t, cfg)
	go func() {
		m := p.next()
		p.send("Response: Success\r\nActionID: " + m.ActionID() + "\r\nPing: Po") // and then nothing
	}()
	if err := stalled.Ping(context.Background()); !errors.Is(err, ErrStalled) {
		t.Fatalf("Ping on a peer stalled mid-message: %v, want ErrStalled", err)
	}
	<-stalled.Done()
	if !errors.Is(stalled.Err(), ErrStalled) {
		t.Errorf("Err = %v, want ErrStalled", stalled.Err())
	}
	time.Sleep(3 * cfg.StallTimeout) // idle well past the bound
	go func() {
		m := q.next()
		q.reply(m, "Response: Success", "Ping: Pong")
	}()
	if err := idle.Ping(context.Background()); err != nil {
		t.Errorf("idle connection: %v (only a stalled message may end a connection)", err)
	}
	if idle.Err() != nil {
		t.Errorf("idle connection ended: %v", idle.Err())
	}
}
