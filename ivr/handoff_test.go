package ivr_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/ivr"
)

// Calls that leave the flow by other hands than ivrd's: an external
// transfer, the drain. The FreeSWITCH behaviour is esltest's Call.Transfer
// (uuid_transfer from another socket: the running app ends at once with the
// new destination, then the socket app's own CHANNEL_EXECUTE_COMPLETE) and
// its uuid_transfer api.

// startWatched places a call and reports on menu each time the IVR sends
// play_and_get_digits.
func startWatched(t *testing.T, h *harness, s esltest.Script) (*esltest.Call, <-chan struct{}) {
	t.Helper()
	menu := make(chan struct{}, 8)
	s.Observer = func(r esltest.Record) {
		if r.Verb == "sendmsg" && r.App == "play_and_get_digits" {
			menu <- struct{}{}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	c, err := esltest.StartOutbound(ctx, h.addr, s)
	if err != nil {
		t.Fatal(err)
	}
	return c, menu
}

func waitMenu(t *testing.T, c *esltest.Call, menu <-chan struct{}) {
	t.Helper()
	select {
	case <-menu:
	case <-c.Done():
		t.Fatalf("call ended before the menu: %v", c.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("no menu")
	}
}

func waitHangupEntry(t *testing.T, h *harness, uuid string) []calllog.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := h.log.WaitHangup(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// Issue 16 item 1: someone else transfers the caller to the queue while
// the menu runs. The empty menu result is no failed try: nothing but exit
// is sent after the transfer, and the outcome says where the call went.
func TestExternalTransferEndsTheFlow(t *testing.T) {
	h := startIVR(t, harnessOpts{})
	c, menu := startWatched(t, h, esltest.Script{CallerIDNumber: "5552222", PlaybackDuration: 2 * time.Second})
	waitMenu(t, c, menu)
	sentBefore := len(c.Commands())
	c.Transfer("fifo_sales", "new_sales")
	// The caller waits in the queue a little, then hangs up there.
	time.AfterFunc(300*time.Millisecond, func() { c.Hangup("NORMAL_CLEARING") })
	es := waitHangupEntry(t, h, c.UUID())
	<-c.Done()
	for _, r := range c.Commands()[sentBefore:] {
		if r.Verb != "exit" {
			t.Errorf("sent after the external transfer: %s %s %s", r.Verb, r.App, r.Arg)
		}
	}
	hu := es[len(es)-1]
	if hu.Fields["outcome"] != "transferred_away" {
		t.Errorf("outcome %q, want transferred_away", hu.Fields["outcome"])
	}
	tr, ok := entry(es, calllog.KindTransfer)
	if !ok || tr.Value != "fifo_sales" || tr.Fields["by"] != "external" || tr.Fields["context"] != "new_sales" {
		t.Errorf("transfer entry %+v", tr)
	}
	if _, ok := entry(es, calllog.KindFIFO); !ok {
		t.Errorf("the queue's fifo events were not logged after the transfer: %+v", es)
	}
}

// Issue 16 item 2: at the drain bound a caller still in the menu is handed
// to the flow's fallback with uuid_transfer (the menu ends at once), not
// left to run all its tries after the socket closes.
func TestDrainBoundHandsTheCallOver(t *testing.T) {
	h := startIVR(t, harnessOpts{serve: ivr.ServeOptions{DrainTimeout: 200 * time.Millisecond}})
	c, menu := startWatched(t, h, esltest.Script{CallerIDNumber: "5552222", PlaybackDuration: 5 * time.Second})
	waitMenu(t, c, menu)
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	es := waitHangupEntry(t, h, c.UUID())
	var handover bool
	for _, r := range c.Commands() {
		if r.Verb == "api" && strings.Contains(r.Raw, "uuid_transfer "+c.UUID()+" fifo_sales XML new_sales") {
			handover = true
		}
	}
	if !handover {
		t.Errorf("no uuid_transfer to the fallback; sent %+v", c.Commands())
	}
	hu := es[len(es)-1]
	if hu.Fields["outcome"] != "drain_transfer:fifo_sales" {
		t.Errorf("outcome %q", hu.Fields["outcome"])
	}
	if tr, ok := entry(es, calllog.KindTransfer); !ok || tr.Fields["by"] != "drain" || tr.Value != "fifo_sales" {
		t.Errorf("transfer entry %+v", tr)
	}
	c.Hangup("NORMAL_CLEARING")
}

// Issue 16 item 3: a call the flow transferred into a queue (its socket
// still open for the fifo events) does not hold the drain, and its logged
// outcome stays.
func TestDrainDoesNotHoldHandedOffCalls(t *testing.T) {
	h := startIVR(t, harnessOpts{serve: ivr.ServeOptions{DrainTimeout: 3 * time.Second}})
	transferred := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := esltest.StartOutbound(ctx, h.addr, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"1"},
		Observer: func(r esltest.Record) {
			if r.App == "transfer" {
				transferred <- struct{}{}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-transferred:
	case <-c.Done():
		t.Fatalf("call ended before the transfer: %v", c.Err())
	}
	time.Sleep(50 * time.Millisecond) // the transfer's completion reaches the session
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	es := waitHangupEntry(t, h, c.UUID())
	hu := es[len(es)-1]
	if hu.Fields["outcome"] != "transfer:fifo_hst" || !strings.HasPrefix(hu.Fields["reason"], "drain") {
		t.Errorf("hangup entry %+v, want outcome transfer:fifo_hst ended by the drain", hu.Fields)
	}
	c.Hangup("NORMAL_CLEARING")
}

// Issue 16 item 5: what the call log says is what happened.
func TestCallLogTruth(t *testing.T) {
	t.Run("menu failed on a wrong last digit", func(t *testing.T) {
		h := startIVR(t, harnessOpts{})
		_, es := h.call(t, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"", "9", "7"}}, false)
		m, ok := entry(es, calllog.KindMenu)
		if !ok || m.Value != "" || m.Fields["failure"] != "invalid" || m.Fields["read_result"] == "" {
			t.Fatalf("menu entry %+v, want failure=invalid with the read_result sent", m)
		}
	})
	t.Run("menu failed silent", func(t *testing.T) {
		h := startIVR(t, harnessOpts{})
		_, es := h.call(t, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"", "", ""}}, false)
		if m, ok := entry(es, calllog.KindMenu); !ok || m.Fields["failure"] != "timeout" {
			t.Fatalf("menu entry %+v, want failure=timeout", m)
		}
	})
	t.Run("unknown caller is not_found", func(t *testing.T) {
		h := startIVR(t, harnessOpts{})
		_, es := h.call(t, esltest.Script{CallerIDNumber: "5550404", Digits: []string{"1"}}, true)
		if e, ok := entry(es, calllog.KindCRM); !ok || e.Value != "not_found" || e.Fields["outcome"] != "not_found" {
			t.Fatalf("crm entry %+v, want not_found", e)
		}
	})
	t.Run("fifo entries carry what mod_fifo sent, at the transfer node", func(t *testing.T) {
		h := startIVR(t, harnessOpts{})
		c, menu := startWatched(t, h, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"1"}, PlaybackDuration: 20 * time.Millisecond})
		waitMenu(t, c, menu)
		time.AfterFunc(300*time.Millisecond, func() { c.Hangup("NORMAL_CLEARING") })
		es := waitHangupEntry(t, h, c.UUID())
		var fifo []calllog.Entry
		for _, e := range es {
			if e.Kind == calllog.KindFIFO {
				fifo = append(fifo, e)
			}
		}
		if len(fifo) == 0 {
			t.Fatalf("no fifo entry: %+v", es)
		}
		for _, e := range fifo {
			if e.Node != "transfer_hst" {
				t.Errorf("fifo %s logged at %q, want the transfer node", e.Value, e.Node)
			}
			if e.Value == "push" && (e.Fields["slot"] == "" || e.Fields["fifo"] != "fifo_hst") {
				t.Errorf("push entry %+v, want its FIFO-Slot and name", e.Fields)
			}
			for k, v := range e.Fields {
				if v == "" {
					t.Errorf("fifo %s entry has empty field %s", e.Value, k)
				}
			}
		}
	})
	t.Run("flow and override transfers share one format", func(t *testing.T) {
		h := startIVR(t, harnessOpts{overrides: ivr.MapOverrides{"fsivr:override:sales": "transfer fifo_hst XML new_sales"}})
		_, es := h.call(t, esltest.Script{CallerIDNumber: "5552222"}, true)
		ov, _ := entry(es, calllog.KindTransfer)
		h2 := startIVR(t, harnessOpts{})
		_, es2 := h2.call(t, esltest.Script{CallerIDNumber: "5552222", Digits: []string{"1"}}, true)
		fl, _ := entry(es2, calllog.KindTransfer)
		if ov.Value != fl.Value || ov.Fields["dest"] != fl.Fields["dest"] || ov.Fields["dialplan"] != fl.Fields["dialplan"] ||
			ov.Fields["context"] != fl.Fields["context"] || ov.Fields["by"] != "override" || fl.Fields["by"] != "flow" {
			t.Fatalf("override transfer %+v\nflow transfer %+v", ov, fl)
		}
	})
}
