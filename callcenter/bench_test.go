package callcenter

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fan-out benchmark's clients run in a child process (this test
// binary re-run with FSIVR_CC_CLIENTS set), so the server's memory and CPU
// are measured alone. Each client follows 10 of 1,000 agents.
const (
	benchAgents       = 1000
	benchAgentsPerSub = 10
)

func benchScope(i int) string {
	var as []string
	for k := 0; k < benchAgentsPerSub; k++ {
		as = append(as, "a"+strconv.Itoa((i*benchAgentsPerSub+k)%benchAgents))
	}
	return strings.Join(as, ",")
}

// TestMain runs the benchmark's client side instead of the tests when the
// binary is started as the benchmark's child process.
func TestMain(m *testing.M) {
	if n, _ := strconv.Atoi(os.Getenv("FSIVR_CC_CLIENTS")); n > 0 {
		runBenchClients(n)
		return
	}
	os.Exit(m.Run())
}

// runBenchClients opens n SSE streams, records each event's latency
// (publish time in its name to now) and prints p50/p99 when stdin closes.
func runBenchClients(n int) {
	addr := os.Getenv("FSIVR_CC_ADDR")
	var mu sync.Mutex
	var lat []time.Duration
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "GET /v1/events?agents=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wall-secret\r\n\r\n", benchScope(i))
		go func() {
			r := bufio.NewReaderSize(c, 1024)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if i := bytes.Index(line, []byte(`"name":"`)); i >= 0 {
					rest := line[i+8:]
					if j := bytes.IndexByte(rest, '"'); j > 0 {
						if ns, err := strconv.ParseInt(string(rest[:j]), 10, 64); err == nil {
							d := time.Duration(time.Now().UnixNano() - ns)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					}
				}
			}
		}()
	}
	fmt.Println("connected")
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin when done
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		fmt.Println("result 0 0 0")
	} else {
		fmt.Printf("result %d %d %d\n", len(lat), lat[len(lat)/2], lat[len(lat)*99/100])
	}
	mu.Unlock()
	os.Exit(0)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkFanOutSSE publishes agent events at 1,000/s to N SSE
// subscribers over loopback (N = FSIVR_CC_SUBSCRIBERS, default 10,000),
// each following 10 of 1,000 agents, so each event reaches N/100 of them.
// It reports delivery latency p50/p99 (publish to client read), server
// memory per idle subscriber and server CPU per published event.
func BenchmarkFanOutSSE(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("FSIVR_CC_SUBSCRIBERS")); err == nil && v > 0 {
		n = v
	}
	hub := NewHub(HubConfig{})
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	before := liveBytes()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "FSIVR_CC_CLIENTS="+strconv.Itoa(n), "FSIVR_CC_ADDR="+srv.Listener.Addr().String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	deadline := time.Now().Add(2 * time.Minute)
	for hub.Subscribers() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := hub.Subscribers(); got < n {
		b.Fatalf("only %d of %d subscribers connected", got, n)
	}
	time.Sleep(500 * time.Millisecond) // snapshots written
	perSub := float64(liveBytes()-before) / float64(n)

	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now() // 1,000 events/s on a schedule: late ones catch up
	for i := 0; i < b.N; i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
		hub.Publish(Event{Type: TypeAgentName, Agent: "a" + strconv.Itoa(i%benchAgents), Name: strconv.FormatInt(time.Now().UnixNano(), 10)})
	}
	cpu := cpuTime() - cpu0
	rate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	time.Sleep(300 * time.Millisecond)
	_ = stdin.Close()
	var res string
	for out.Scan() {
		if strings.HasPrefix(out.Text(), "result ") {
			res = out.Text()
		}
	}
	_ = cmd.Wait()
	var got, p50, p99 int64
	if _, err := fmt.Sscanf(res, "result %d %d %d", &got, &p50, &p99); err != nil {
		b.Fatalf("client result %q: %v", res, err)
	}
	want := int64(b.N) * int64(n) * benchAgentsPerSub / benchAgents
	if got < want*99/100 {
		b.Errorf("clients received %d events, want about %d", got, want)
	}
	b.ReportMetric(float64(p50)/1e6, "p50-ms")
	b.ReportMetric(float64(p99)/1e6, "p99-ms")
	b.ReportMetric(perSub/1024, "KiB/idle-sub")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
	b.ReportMetric(float64(got)/float64(b.N), "deliveries/event")
	b.ReportMetric(rate, "events/s")
}

// BenchmarkModelApply replays the live events of 62 (three recorded queue
// calls) through the model: the cost of digesting one AMI event.
func BenchmarkModelApply(b *testing.B) {
	evs := liveEvents(loadCapture(b, "62_queue_call_answered_recorded"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		m := NewModel(ModelConfig{})
		for _, e := range evs {
			m.Apply(e)
			i++
		}
	}
}

// BenchmarkHubPublish is the in-process fan-out alone: 10,000 subscribers
// following 10 of 1,000 agents each (100 deliveries per event); the
// buffers are emptied outside the timer.
func BenchmarkHubPublish(b *testing.B) {
	hub := NewHub(HubConfig{Buffer: 64})
	var subs []*Subscriber
	for i := 0; i < 10000; i++ {
		s, _ := hub.Subscribe(Scope{Agents: strings.Split(benchScope(i), ",")}, "", "")
		subs = append(subs, s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hub.Publish(Event{Type: TypeAgentName, Agent: "a" + strconv.Itoa(i%benchAgents), Name: "x"})
		if i%1000 == 999 { // each subscriber got 10
			b.StopTimer()
			for _, s := range subs {
				for len(s.ch) > 0 {
					<-s.ch
				}
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if n := hub.Subscribers(); n != len(subs) {
		b.Fatalf("%d subscribers dropped", len(subs)-n)
	}
}
