package backendtest_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
	"github.com/fsivr/fsivr/dialer/backendtest"
	"github.com/fsivr/fsivr/dialer/callfile"
	"github.com/fsivr/fsivr/dialer/esldial"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// asteriskFake is amitest with the captures' dialplan, short rings, and
// answered calls to Local/400 that last a while.
func asteriskFake(t *testing.T) *amitest.Server {
	srv := amitest.NewServer(amitest.Config{ChannelVars: []string{"CALLID"}, Outcome: func(o amitest.Originate) amitest.Outcome {
		out := amitest.DefaultOutcome(o)
		out.Ring = 20 * time.Millisecond
		if strings.HasPrefix(o.Channel, "Local/400@") {
			out.Ring, out.Talk = 200*time.Millisecond, 400*time.Millisecond
		}
		return out
	}})
	t.Cleanup(srv.Close)
	return srv
}

// asteriskCall is a call whose Channel gives outcome o in the captures'
// dialplan.
func asteriskCall(o backendtest.Outcome) dialer.Call {
	exten := map[backendtest.Outcome]string{backendtest.Answered: "100", backendtest.Busy: "200", backendtest.NoAnswer: "300",
		backendtest.Congestion: "250", backendtest.Rejected: "260", backendtest.InvalidNumber: "999"}[o]
	return dialer.Call{AttemptID: dialer.NewID(), Campaign: "conf", ContactID: "c", Number: "+12125550100", Trunk: "t",
		Channel: "Local/" + exten + "@test", CallerID: `"Dialer" <1234>`,
		Answer: dialer.Answer{Context: "test", Exten: "400", Priority: "1"}, Timeout: time.Second}
}

func TestAMI(t *testing.T) {
	srv := asteriskFake(t)
	newBackend := func(t *testing.T) dialer.Backend {
		b := amidial.New(amidial.Config{Addr: srv.Addr, Username: "dialer", Secret: "secret", Logger: quiet(),
			AMI: ami.Config{Logger: quiet()}})
		backendtest.RunUntilCleanup(t, b.Run, b.Ready())
		return b
	}
	backendtest.Run(t, backendtest.Harness{
		Backend: newBackend(t), Restart: newBackend, Call: asteriskCall,
		LongChannel: "Local/400@test", Peak: srv.PeakInFlightOriginates,
		Originates: func(id string) int {
			n := 0
			for _, a := range srv.ActionsNamed("Originate") {
				if a.Get("ChannelId") == id {
					n++
				}
			}
			return n
		},
	})
}

func TestCallFiles(t *testing.T) {
	srv := asteriskFake(t)
	dir := t.TempDir()
	sp, err := srv.StartSpool(dir, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	newBackend := func(t *testing.T) dialer.Backend {
		b, err := callfile.New(callfile.Config{SpoolDir: dir, Logger: quiet(), Poll: 100 * time.Millisecond,
			AMI: &callfile.AMIConfig{Addr: srv.Addr, Username: "dialer", Secret: "secret", Config: ami.Config{Logger: quiet()}}})
		if err != nil {
			t.Fatal(err)
		}
		backendtest.RunUntilCleanup(t, b.Run, b.Ready())
		return b
	}
	b := newBackend(t)
	backendtest.Run(t, backendtest.Harness{
		Backend: b, Restart: newBackend, Call: asteriskCall,
		// pbx_spool's failed extension gets REASON 0 for a missing
		// extension, and its channels no informative hangup cause.
		Coarser:     map[backendtest.Outcome]dialer.Disposition{backendtest.InvalidNumber: dialer.Failed},
		LongChannel: "Local/400@test", Peak: srv.PeakInFlightOriginates,
		// The calls pbx_spool made of a file are its StartRetry lines (in
		// outgoing/ while it runs, then in outgoing_done/).
		Originates: func(id string) int {
			sp := b.(*callfile.Backend).Spool()
			for _, p := range []string{sp.Done(id + ".call"), sp.Outgoing(id + ".call")} {
				if data, err := os.ReadFile(p); err == nil {
					return strings.Count(string(data), "\nStartRetry: ")
				}
			}
			return 0
		},
	})
}

// channelCounter counts the channels up on a fake FreeSWITCH from its own
// events (CHANNEL_CREATE / CHANNEL_HANGUP_COMPLETE), as another event
// socket client would.
type channelCounter struct {
	mu         sync.Mutex
	up, peak   int
	subscribed chan struct{}
}

func countChannels(t *testing.T, addr string) *channelCounter {
	cc := &channelCounter{subscribed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := &esl.Reconnector{Addr: addr, Password: "ClueCon", Events: []string{"CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE"},
			Config: esl.Config{Logger: quiet()}}
		_ = r.Run(ctx, func(ctx context.Context, c *esl.Client) {
			select {
			case <-cc.subscribed:
			default:
				close(cc.subscribed)
			}
			var buf []*esl.Message
			for {
				select {
				case <-ctx.Done():
					return
				case <-c.Done():
					return
				case <-c.Notify():
					buf = c.Drain(buf[:0])
					cc.mu.Lock()
					for _, m := range buf {
						switch m.Name() {
						case "CHANNEL_CREATE":
							cc.up++
							cc.peak = max(cc.peak, cc.up)
						case "CHANNEL_HANGUP_COMPLETE":
							cc.up--
						}
					}
					cc.mu.Unlock()
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-cc.subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("no event socket for the counter")
	}
	return cc
}

func (cc *channelCounter) Peak() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.peak
}

func TestFreeSWITCH(t *testing.T) {
	f, err := flows.Load("../../flows/notify.yaml", flows.Options{SoundsDir: "../../sounds"})
	if err != nil {
		t.Fatalf("load notify: %v", err)
	}
	eng := ivr.NewEngine(ivr.Config{Flows: ivrtest.Flows{"notify": f}, DefaultFlow: "notify", CallLog: &ivrtest.CallLog{}, Logger: quiet()})
	ivrSrv := ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 5 * time.Second, Logger: quiet()})
	t.Cleanup(func() { _ = ivrSrv.Close() })
	causes := map[string]string{"busy": "USER_BUSY", "noanswer": "NO_ANSWER", "congestion": "NORMAL_CIRCUIT_CONGESTION",
		"rejected": "CALL_REJECTED", "invalid": "UNALLOCATED_NUMBER"}
	fs := esltest.NewServer(esltest.Config{OutboundAddr: ivrSrv.Addr, Script: func(dest string) esltest.Script {
		// The answered calls confirm after a 200 ms message and a 200 ms thanks.
		return esltest.Script{RejectCause: causes[dest], Digits: []string{"1"}, PlaybackDuration: 200 * time.Millisecond}
	}})
	t.Cleanup(fs.Close)
	counter := countChannels(t, fs.Addr)
	newBackend := func(t *testing.T) dialer.Backend {
		b := esldial.New(esldial.Config{Addr: fs.Addr, Password: "ClueCon", Logger: quiet(), Conn: esl.Config{Logger: quiet()}})
		backendtest.RunUntilCleanup(t, b.Run, b.Ready())
		return b
	}
	dest := map[backendtest.Outcome]string{backendtest.Answered: "12125550100", backendtest.Busy: "busy", backendtest.NoAnswer: "noanswer",
		backendtest.Congestion: "congestion", backendtest.Rejected: "rejected", backendtest.InvalidNumber: "invalid"}
	backendtest.Run(t, backendtest.Harness{
		Backend: newBackend(t), Restart: newBackend,
		Call: func(o backendtest.Outcome) dialer.Call {
			return dialer.Call{AttemptID: dialer.NewID(), Campaign: "conf", ContactID: "c", Number: "+12125550100", Trunk: "t",
				Channel: "sofia/gateway/carrier/" + dest[o], CallerID: "+12125550000", Answer: dialer.Answer{Flow: "notify"},
				Timeout: time.Second}
		},
		LongChannel: "sofia/gateway/carrier/${number}", Peak: counter.Peak,
		Originates: func(id string) int {
			n := 0
			for _, r := range fs.Commands() {
				if r.Verb == "bgapi" && strings.Contains(r.Raw, "origination_uuid="+id+",") {
					n++
				}
			}
			return n
		},
	})
}
