package ivr_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
)

// holdFlow is the part of the sales flow a held call sits in: the main
// menu. (No CRM lookup: its goroutine and connection come and go during
// the setup, and the stack memory they leave in the runtime's caches would
// blur what the held calls keep.)
const holdFlow = `name: hold
start: main_menu
nodes:
  main_menu:
    kind: menu
    prompt: new_sales/1001.wav
    invalid: new_sales/9004.wav
    min: 1
    max: 1
    tries: 3
    timeout: 5s
    regex: "[1-5]"
    var: menu_number
    choices:
      "1": goodbye
    on_fail: goodbye
  goodbye:
    kind: hangup
    cause: NORMAL_CLEARING
`

// Environment of the child process that plays FreeSWITCH for
// TestHeldCallStacks.
const (
	heldFakeAddrEnv  = "FSIVR_TEST_HELD_FAKE_ADDR"
	heldFakeCallsEnv = "FSIVR_TEST_HELD_FAKE_CALLS"
)

// TestHeldCallStacks checks the stack memory a call waiting in a menu
// keeps: its session goroutine and its connection's reader. A held call's
// goroutine is parked for minutes and the runtime halves a parked stack only
// while less than a quarter of it is in use, so the frames below the
// session's wait (esl.Server.serveHandler, ivr.Engine.handle, Session.Run,
// Session.next) must stay small, or each held call keeps an 8 KiB stack
// where 4 KiB would do (BENCHMARKS.md: RSS per held call).
//
// The fake FreeSWITCH runs in a child process (this test binary again), so
// that the stacks counted are ivr's and esl's alone.
func TestHeldCallStacks(t *testing.T) {
	if addr := os.Getenv(heldFakeAddrEnv); addr != "" {
		n, _ := strconv.Atoi(os.Getenv(heldFakeCallsEnv))
		holdFakeCalls(t, addr, n)
		return
	}
	const calls = 1000
	path := filepath.Join(t.TempDir(), "hold.yaml")
	if err := os.WriteFile(path, []byte(holdFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	flow, err := flows.Load(path, flows.Options{SoundsDir: "../sounds"})
	if err != nil {
		t.Fatal(err)
	}
	h := startIVR(t, harnessOpts{flows: singleFlow{"sales": flow}})

	before, g0 := stackBytes(), runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHeldCallStacks$")
	child.Env = append(os.Environ(), heldFakeAddrEnv+"="+h.addr, heldFakeCallsEnv+"="+strconv.Itoa(calls))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the child hangs its calls up and exits
		if err := child.Wait(); err != nil {
			t.Errorf("fake FreeSWITCH: %v", err)
		}
	}()
	held := false
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		if sc.Text() == "held" {
			held = true
			break
		}
	}
	if !held {
		t.Fatal("the fake FreeSWITCH ended before every call waited in the menu")
	}
	during := stackBytes()
	perCall := float64(during-before) / calls
	t.Logf("stack memory per held call: %.0f B (%d calls, %d goroutines more)", perCall, calls, runtime.NumGoroutine()-g0)
	// Two goroutines per call, the session's and the reader's: 4 KiB each
	// once the collector has shrunk them, 12 KiB per call when the session
	// kept an 8 KiB stack. The race detector's bigger frames keep both at
	// 8 KiB, so under -race only that looser bound is checked; .ci/run runs
	// this test without -race as well.
	limit := 10.0 * 1024
	if raceEnabled {
		limit = 20 * 1024 // two 8 KiB stacks and room for the runtime's caches
	}
	if perCall > limit {
		t.Errorf("held calls keep %.0f B of stack each, want at most %.0f", perCall, limit)
	}
}

// stackBytes is the memory in goroutine stacks after two collections (a
// collection shrinks a parked stack by half at most).
func stackBytes() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// holdFakeCalls is the child's part: n calls into addr, each waiting in the
// menu's prompt; "held" on stdout once all of them do, then hang up when
// stdin closes.
func holdFakeCalls(t *testing.T, addr string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var inMenu atomic.Int64
	all := make(chan struct{})
	var started []*esltest.Call
	for i := range n {
		var seen atomic.Bool
		c, err := esltest.StartOutbound(ctx, addr, esltest.Script{
			CallerIDNumber:    fmt.Sprint(5550000 + i),
			DestinationNumber: "5000",
			PlaybackDuration:  time.Minute,
			Observer: func(r esltest.Record) {
				if r.App == "play_and_get_digits" && !seen.Swap(true) && inMenu.Add(1) == int64(n) {
					close(all)
				}
			},
		})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		started = append(started, c)
	}
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("%d of %d calls reached the menu", inMenu.Load(), n)
	}
	fmt.Println("held")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range started {
		c.Hangup("NORMAL_CLEARING")
	}
	for _, c := range started {
		<-c.Done()
	}
}
