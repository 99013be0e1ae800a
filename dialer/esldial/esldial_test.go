package esldial_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/backendtest"
	"github.com/fsivr/fsivr/dialer/esldial"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a backend against fs until the test ends.
func start(t *testing.T, fs *esltest.Server) *esldial.Backend {
	t.Helper()
	b := esldial.New(esldial.Config{Addr: fs.Addr, Password: "ClueCon", Logger: quiet(), Conn: esl.Config{Logger: quiet()}})
	backendtest.RunUntilCleanup(t, b.Run, b.Ready())
	return b
}

func call(number string) dialer.Call {
	return dialer.Call{
		AttemptID: dialer.NewID(), Campaign: "camp", ContactID: "c1", Number: number, Trunk: "t",
		Channel: "sofia/gateway/carrier/" + number, CallerID: `"Clinic" <+12125550000>`,
		Timeout: 20 * time.Second, Vars: map[string]string{"name": "Ann Lee"},
	}
}

func TestCommand(t *testing.T) {
	b := esldial.New(esldial.Config{})
	c := call("+12125550100")
	c.AttemptID = "0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90"
	got, err := b.Command(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "originate {origination_uuid=0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90,origination_caller_id_number=+12125550000," +
		"origination_caller_id_name=Clinic,originate_timeout=20,ivr_flow=notify,fsivr_campaign=camp,fsivr_contact=c1," +
		"fsivr_attempt=0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90,name='Ann Lee'}sofia/gateway/carrier/+12125550100 notify XML fsivr"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	c.Answer = dialer.Answer{Flow: "survey", Exten: "survey", Context: "outbound"}
	if got, _ := b.Command(c); !strings.Contains(got, "ivr_flow=survey,") || !strings.HasSuffix(got, " survey XML outbound") {
		t.Errorf("campaign answer ignored: %s", got)
	}
}

// Values that would break out of {…}, the argument list or the line.
func TestCommandRefuses(t *testing.T) {
	b := esldial.New(esldial.Config{})
	cases := map[string]func(c *dialer.Call){
		"comma in var":         func(c *dialer.Call) { c.Vars = map[string]string{"x": "a,origination_uuid=evil"} },
		"closing brace in var": func(c *dialer.Call) { c.Vars = map[string]string{"x": "a}loopback/evil"} },
		"opening brace in var": func(c *dialer.Call) { c.Vars = map[string]string{"x": "{a"} },
		"bracket in var":       func(c *dialer.Call) { c.Vars = map[string]string{"x": "[a]"} },
		"newline in var":       func(c *dialer.Call) { c.Vars = map[string]string{"x": "a\nbgapi originate x"} },
		"quote in var":         func(c *dialer.Call) { c.Vars = map[string]string{"x": "a'b"} },
		"bad var name":         func(c *dialer.Call) { c.Vars = map[string]string{"a=b": "1"} },
		"newline in campaign":  func(c *dialer.Call) { c.Campaign = "a\nb" },
		"space in dial string": func(c *dialer.Call) { c.Channel = "sofia/gw/x &socket(evil)" },
		"newline in channel":   func(c *dialer.Call) { c.Channel = "sofia/gw/x\napi hupall" },
		"brace in channel":     func(c *dialer.Call) { c.Channel = "{a=b}sofia/gw/x" },
		"over-long var":        func(c *dialer.Call) { c.Vars = map[string]string{"x": strings.Repeat("a", 300)} },
		"space in context":     func(c *dialer.Call) { c.Answer.Context = "a b" },
		"not a uuid":           func(c *dialer.Call) { c.AttemptID = "abc" },
		"comma in caller id":   func(c *dialer.Call) { c.CallerID = `"a,b" <1>` },
	}
	for name, mut := range cases {
		c := call("+12125550100")
		mut(&c)
		if got, err := b.Command(c); !errors.Is(err, dialer.ErrInvalidValue) {
			t.Errorf("%s: %q, %v; want ErrInvalidValue", name, got, err)
		}
	}
}

// Every cause of the table, as FreeSWITCH reports it: BACKGROUND_JOB
// `-ERR <CAUSE>` after CHANNEL_HANGUP_COMPLETE with Hangup-Cause.
func TestCauses(t *testing.T) {
	cases := []struct {
		cause string
		want  dialer.Disposition
	}{
		{"USER_BUSY", dialer.Busy},
		{"NO_ANSWER", dialer.NoAnswer},
		{"NO_USER_RESPONSE", dialer.NoAnswer},
		{"CALL_REJECTED", dialer.Rejected},
		{"UNALLOCATED_NUMBER", dialer.InvalidNumber},
		{"NO_ROUTE_DESTINATION", dialer.InvalidNumber},
		{"INVALID_NUMBER_FORMAT", dialer.InvalidNumber},
		{"USER_NOT_REGISTERED", dialer.InvalidNumber},
		{"NORMAL_TEMPORARY_FAILURE", dialer.Failed},
		{"RECOVERY_ON_TIMER_EXPIRE", dialer.Failed},
		{"NORMAL_CIRCUIT_CONGESTION", dialer.Congestion},
		{"SWITCH_CONGESTION", dialer.Congestion},
		{"DESTINATION_OUT_OF_ORDER", dialer.Throttled}, // the sps throttle
		{"ORIGINATOR_CANCEL", dialer.Cancelled},
		{"INCOMPATIBLE_DESTINATION", dialer.Failed},
		{"SOMETHING_NEW", dialer.Failed},
	}
	byNumber := map[string]string{}
	for i, c := range cases {
		byNumber["+1212555"+string(rune('a'+i))] = c.cause
	}
	fs := esltest.NewServer(esltest.Config{Script: func(dest string) esltest.Script {
		return esltest.Script{RejectCause: byNumber[dest]}
	}})
	defer fs.Close()
	b := start(t, fs)
	for i, c := range cases {
		t.Run(c.cause, func(t *testing.T) {
			cl := call("+1212555" + string(rune('a'+i)))
			out, err := b.Originate(context.Background(), cl)
			if err != nil || out.Disposition != c.want || out.Cause != c.cause {
				t.Fatalf("%+v, %v; want %s (%s)", out, err, c.want, c.cause)
			}
			if !out.Answered.IsZero() {
				t.Error("an unanswered call has an answer time")
			}
		})
	}
	// One bgapi per attempt, with the Job-UUID we chose and our uuid.
	n := 0
	for _, r := range fs.Commands() {
		if r.Verb == "bgapi" {
			n++
			if r.Headers["job-uuid"] == "" || !strings.Contains(r.Raw, "origination_uuid=") {
				t.Errorf("bgapi without Job-UUID or origination_uuid: %q %v", r.Raw, r.Headers)
			}
		}
	}
	if n != len(cases) {
		t.Errorf("%d bgapi, want %d", n, len(cases))
	}
}

func TestNotConnected(t *testing.T) {
	b := esldial.New(esldial.Config{Addr: "127.0.0.1:1", Logger: quiet()})
	if _, err := b.Originate(context.Background(), call("+12125550100")); !errors.Is(err, dialer.ErrNotPlaced) {
		t.Errorf("%v, want ErrNotPlaced", err)
	}
	out, err := b.Originate(context.Background(), func() dialer.Call { c := call("+1"); c.Vars = map[string]string{"x": "a,b"}; return c }())
	if err != nil || out.Disposition != dialer.Failed || out.Reason != "invalid value" {
		t.Errorf("invalid value: %+v %v", out, err)
	}
}

// TestNotConnectedIsNotPlaced: without an event socket the call is not
// placed (dialed again later), and the reason, which the HTTP API returns
// to clients, names no address.
func TestNotConnectedIsNotPlaced(t *testing.T) {
	b := esldial.New(esldial.Config{Addr: "127.0.0.1:1", Password: "ClueCon", Logger: quiet()})
	_, err := b.Originate(context.Background(), call("100"))
	if !errors.Is(err, dialer.ErrNotPlaced) || !errors.Is(err, dialer.ErrNotConnected) {
		t.Fatalf("err = %v, want dialer.ErrNotConnected, an ErrNotPlaced", err)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("reason %q names the address", err.Error())
	}
}
