package dialer_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/cputime"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
	"github.com/fsivr/fsivr/internal/redistest"
)

// BenchmarkRedisClaim: contacts claimed per second from a real
// redis-server, from parallel goroutines as several dialers would: one
// contact per Claim (the worst case), and batches of 16 (what the engine
// asks for when ports are free).
func BenchmarkRedisClaim(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) { benchClaim(b, batch) })
	}
}

func benchClaim(b *testing.B, batch int) {
	srv := redistest.NewServer(b, redistest.Options{})
	s := dialer.NewRedisStore(srv.Client(b))
	ctx := context.Background()
	id := "bench" + strconv.Itoa(b.N)
	if err := s.Create(ctx, id, 1<<30); err != nil {
		b.Fatal(err)
	}
	const chunk = 5000
	total := b.N * batch
	for i := 0; i < total; i += chunk {
		n := min(chunk, total-i)
		cs := make([]dialer.Contact, n)
		due := make([]time.Time, n)
		for j := range cs {
			cs[j] = dialer.Contact{ID: "c" + strconv.Itoa(i+j), Number: "+12125550100", Zones: []string{"America/New_York"}}
			due[j] = t0
		}
		if _, err := s.Add(ctx, id, cs, due); err != nil {
			b.Fatal(err)
		}
	}
	var claimed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ls, err := s.Claim(ctx, id, dialer.ClaimRequest{Owner: "b", Now: t0.Add(time.Hour), Max: batch, Lease: time.Minute})
			if err != nil {
				b.Error(err)
				return
			}
			claimed.Add(int64(len(ls)))
		}
	})
	b.ReportMetric(float64(claimed.Load())/time.Since(start).Seconds(), "claims/s")
}

// BenchmarkEngineAttempt: the engine's CPU per attempt (claim, hours and
// DNC checks, begin, originate goroutine, outcome, finish) on the
// in-process store against an instant fake backend.
func BenchmarkEngineAttempt(b *testing.B) {
	camp := dialer.Campaign{ID: "cpu", Trunks: []dialer.Trunk{{Name: "t", Channel: "X/${number}", Ports: 64}},
		Hours: dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}}}
	fake := dialertest.New(nil, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, 0))
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: fake, Logger: discard(),
		DNC: dialer.NewDNCSet("+10000000000")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	_ = eng.Create(ctx)
	cs := make([]dialer.Contact, b.N)
	for i := range cs {
		cs[i] = dialer.Contact{ID: strconv.Itoa(i), Number: "+4420794600" + strconv.Itoa(i%100), Zones: []string{"Europe/London"}}
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	c0 := cputime.Process(b)
	p, err := eng.Run(ctx)
	cpu := cputime.Process(b) - c0
	if err != nil || p.Attempts != b.N {
		b.Fatalf("%d attempts, %v", p.Attempts, err)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/attempt")
}

// csvRows generates n contact rows as a stream (never held whole).
type csvRows struct {
	n, i int
	buf  []byte
}

func (r *csvRows) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.i <= r.n {
		if r.i == 0 {
			r.buf = append(r.buf, "id,number,timezone,name\n"...)
		} else {
			r.buf = fmt.Appendf(r.buf, "c%d,+1 212 %03d %04d,,Name %d\n", r.i, 200+r.i/10000%800, r.i%10000, r.i)
		}
		r.i++
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkImportCSV1M: streaming import and validation of 1,000,000 rows
// (E.164 normalisation, zone derivation, duplicate check), batches handed
// to a sink that drops them; reports rows/s and the process's peak RSS.
func BenchmarkImportCSV1M(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("IMPORT_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	for range b.N {
		start := time.Now()
		rep, err := dialer.ImportCSV(context.Background(), &csvRows{n: rows}, &dialer.Normalizer{DefaultRegion: "US"},
			func([]dialer.Contact) error { return nil })
		if err != nil || rep.Rows != rows || rep.Accepted != rows {
			b.Fatalf("rows %d accepted %d %v %v", rep.Rows, rep.Accepted, err, rep.Problems[:min(3, len(rep.Problems))])
		}
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
	}
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// BenchmarkPacing200: a trunk paced at 200 calls/s on the real clock with
// an instant backend; reports the most starts in any sliding 1 s window
// and the achieved rate.
func BenchmarkPacing200(b *testing.B) {
	for n := range b.N {
		camp := dialer.Campaign{ID: "pace" + strconv.Itoa(n), Trunks: []dialer.Trunk{{Name: "t", Channel: "X/${number}", Ports: 500, CPS: 200}},
			Hours: dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}}}
		fake := dialertest.New(nil, dialertest.Fixed(dialer.Outcome{Disposition: dialer.Answered}, 0))
		eng, _ := dialer.NewEngine(camp, dialer.Options{Store: dialer.NewMemStore(), Backend: fake, Logger: discard()})
		ctx := context.Background()
		_ = eng.Create(ctx)
		cs := make([]dialer.Contact, 1000)
		for i := range cs {
			cs[i] = dialer.Contact{ID: strconv.Itoa(i), Number: "+442079460000", Zones: []string{"Europe/London"}}
		}
		_, _, _ = eng.Add(ctx, cs)
		if _, err := eng.Run(ctx); err != nil {
			b.Fatal(err)
		}
		recs := fake.Originates()
		span := recs[len(recs)-1].At.Sub(recs[0].At).Seconds()
		b.ReportMetric(float64(fake.MaxPerWindow("t", time.Second)), "max-starts/1s")
		b.ReportMetric(float64(len(recs)-1)/span, "calls/s")
	}
}
