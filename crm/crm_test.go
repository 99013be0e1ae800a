package crm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/crm/crmtest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

// clock is a manual clock for cache TTL and breaker tests: time only moves
// when the test says so.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClient(t *testing.T, cfg crm.Config) *crm.Client {
	t.Helper()
	c, err := crm.New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// guard bounds a test's blocking calls; it is a failure guard, not a timing assertion.
func guard(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLookupJSON(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{
		"+15550100": {Extension: "1001", Name: "Ann Smith", Account: "AC-42"},
	})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})

	r, err := c.Lookup(guard(t), "+15550100")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	want := crm.Result{Extension: "1001", Name: "Ann Smith", Account: "AC-42"}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	f := r.Fields()
	if f["extension"] != "1001" || f["name"] != "Ann Smith" || f["account"] != "AC-42" || len(f) != 3 {
		t.Fatalf("Fields() = %v", f)
	}
}

func TestLookupJSONFieldSpellings(t *testing.T) {
	cases := map[string]crm.Result{
		`{"Extn": 1002, "contact_name": "Bob", "account_id": 7}`:   {Extension: "1002", Name: "Bob", Account: "7"},
		`{"cc_extn": "1003", "customer_name": null}`:               {Extension: "1003"},
		`{"EXTENSION": "1004", "Name": "Zoë Ø", "extra": [1,2,3]}`: {Extension: "1004", Name: "Zoë Ø"},
	}
	for body, want := range cases {
		t.Run(body, func(t *testing.T) {
			srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Body: body, ContentType: "application/json"}})
			defer srv.Close()
			r, err := newClient(t, crm.Config{BaseURL: srv.URL}).Lookup(guard(t), "5550100")
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if r != want {
				t.Fatalf("got %+v, want %+v", r, want)
			}
		})
	}
}

func TestLookupPlain(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{
		"5550100": {Extension: "1001", Plain: true}, // body "1001\n", as the seed's CRM
		"5550101": {Body: "  2002 \r\n", ContentType: "text/plain"},
		"5550102": {Body: "3003"}, // no Content-Type at all
	})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})
	for caller, want := range map[string]string{"5550100": "1001", "5550101": "2002", "5550102": "3003"} {
		r, err := c.Lookup(guard(t), caller)
		if err != nil {
			t.Fatalf("%s: %v", caller, err)
		}
		if r.Extension != want || r.Name != "" || r.Account != "" {
			t.Fatalf("%s: got %+v, want extension %s", caller, r, want)
		}
	}
}

func TestLookupNotFound(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{
		"1": {Status: http.StatusNoContent},
		"2": {Body: " \n"},
		"3": {Body: `{"name":"Known but no manager"}`, ContentType: "application/json"},
		"4": {Body: `{"extension":""}`},
		"5": {Body: `null`, ContentType: "application/json"},
	})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})
	for _, caller := range []string{"1", "2", "3", "4", "5", "99" /* unknown: 404 */} {
		_, err := c.Lookup(guard(t), caller)
		if !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", caller, err)
		}
	}
	if got := c.BreakerState(); got != crm.StateClosed {
		t.Fatalf("not-found answers must not trip the breaker; state %s", got)
	}
}

func TestLookupInvalidAnswers(t *testing.T) {
	cases := map[string]crmtest.Answer{
		"comma injection":       {Body: "1001, sofia/gateway/x/1900", ContentType: "text/plain"},
		"comma, no space":       {Body: "1001,sofia/gateway/x/1900"},
		"pipe":                  {Body: "1001|x"},
		"inner newline":         {Body: "1001\n2002"},
		"JSON newline":          {Body: `{"extension":"1001\n"}`},
		"JSON CR":               {Body: `{"extension":"1001\r"}`},
		"JSON comma":            {Body: `{"extension":"1001,user/2002"}`},
		"dial string":           {Body: "user/1001"},
		"variable expansion":    {Body: "${system(id)}"},
		"space":                 {Body: "1001 1002"},
		"too short for pattern": {Body: "1"},
		"letters":               {Body: "abc"},
		"html error page":       {Body: "<html><body>Login</body></html>", ContentType: "text/html"},
		"huge body":             {Body: strings.Repeat("1", 100000)},
		"malformed JSON":        {Body: `{"extension":"1001"`, ContentType: "application/json"},
		"JSON trailing":         {Body: `{"extension":"1001"} {"extension":"1002"}`},
		"JSON array":            {Body: `["1001"]`, ContentType: "application/json"},
		"JSON object ext":       {Body: `{"extension":{"number":"1001"}}`},
		"JSON bool ext":         {Body: `{"extension":true}`},
		"invalid UTF-8":         {Body: "10\xff01"},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": answer})
			defer srv.Close()
			c := newClient(t, crm.Config{BaseURL: srv.URL})
			r, err := c.Lookup(guard(t), "5550100")
			if !errors.Is(err, crm.ErrInvalid) {
				t.Fatalf("got %+v, %v; want ErrInvalid", r, err)
			}
			if r != (crm.Result{}) {
				t.Fatalf("an invalid answer must not leak a result: %+v", r)
			}
		})
	}
}

// Even a permissive pattern cannot let dial-string syntax through.
func TestPermissivePatternStillSafe(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{
		"1": {Body: "1001,sofia/gateway/x/1900"},
		"2": {Body: "agent_7"},
	})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, ExtensionPattern: ".*"})
	if _, err := c.Lookup(guard(t), "1"); !errors.Is(err, crm.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if r, err := c.Lookup(guard(t), "2"); err != nil || r.Extension != "agent_7" {
		t.Fatalf("got %+v, %v", r, err)
	}
}

// Bad names and accounts are dropped; the extension still routes the call.
func TestBadNameDropped(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{
		"1": {Extension: "1001", Name: "Ann\nEvil: header", Account: "AC\x00"},
		"2": {Extension: "1002", Name: strings.Repeat("x", crm.MaxFieldLength+1), Account: "ok"},
	})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})
	r, err := c.Lookup(guard(t), "1")
	if err != nil || r != (crm.Result{Extension: "1001"}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = c.Lookup(guard(t), "2")
	if err != nil || r != (crm.Result{Extension: "1002", Account: "ok"}) {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestLookupServerErrors(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429, 401} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Status: status, Body: "oops"}})
			defer srv.Close()
			_, err := newClient(t, crm.Config{BaseURL: srv.URL}).Lookup(guard(t), "5550100")
			if !errors.Is(err, crm.ErrUnavailable) || !strings.Contains(err.Error(), fmt.Sprint(status)) {
				t.Fatalf("err = %v, want ErrUnavailable naming HTTP %d", err, status)
			}
		})
	}
}

func TestLookupDown(t *testing.T) {
	srv := crmtest.NewServer(nil)
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := newClient(t, crm.Config{BaseURL: url}).Lookup(guard(t), "5550100")
	if !errors.Is(err, crm.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping ECONNREFUSED", err)
	}
}

// The CRM answers only after the configured deadline: the lookup gives up.
func TestLookupSlowHitsTimeout(t *testing.T) {
	never := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Hold: never}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, Timeout: 20 * time.Millisecond})
	_, err := c.Lookup(guard(t), "5550100")
	if !errors.Is(err, crm.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
}

// The caller's own deadline (e.g. the flow's wait_for bound) ends the wait too.
func TestLookupCallerDeadline(t *testing.T) {
	never := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Hold: never}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Lookup(ctx, "5550100")
	if !errors.Is(err, crm.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
}

// A caller who hangs up cancels the lookup; that says nothing about the
// CRM's health, so it never opens the circuit.
func TestCallerCancelDoesNotTripBreaker(t *testing.T) {
	never := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Hold: never}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, Timeout: time.Hour, BreakerFailures: 1})
	for i := 1; i <= 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Lookup(ctx, "5550100")
			errc <- err
		}()
		if err := srv.WaitRequests(guard(t), i); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-errc; !errors.Is(err, crm.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	}
	if got := c.BreakerState(); got != crm.StateClosed {
		t.Fatalf("breaker %s after caller cancellations, want closed", got)
	}
}

func TestCache(t *testing.T) {
	clk := newClock()
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001"}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, CacheTTL: time.Minute, Now: clk.Now})

	r1, err := c.Lookup(guard(t), "5550100")
	if err != nil || r1.Cached {
		t.Fatalf("first lookup: %+v, %v", r1, err)
	}
	r2, err := c.Lookup(guard(t), "5550100")
	if err != nil || !r2.Cached || r2.Extension != "1001" {
		t.Fatalf("second lookup: %+v, %v; want a cache hit", r2, err)
	}
	if n := srv.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	clk.Advance(time.Minute)
	srv.Set("5550100", crmtest.Answer{Extension: "1002"})
	r3, err := c.Lookup(guard(t), "5550100")
	if err != nil || r3.Cached || r3.Extension != "1002" {
		t.Fatalf("after TTL: %+v, %v; want a fresh answer", r3, err)
	}
	if n := srv.Requests(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestCacheDoesNotKeepFailures(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Status: 500}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})
	if _, err := c.Lookup(guard(t), "5550100"); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	srv.Set("5550100", crmtest.Answer{Extension: "1001"})
	if r, err := c.Lookup(guard(t), "5550100"); err != nil || r.Extension != "1001" || r.Cached {
		t.Fatalf("got %+v, %v; the failure must not have been cached", r, err)
	}
	srv.Set("5550100", crmtest.Answer{Status: 404})
	if r, err := c.Lookup(guard(t), "5550100"); err != nil || !r.Cached {
		t.Fatalf("got %+v, %v; want the cached success", r, err)
	}
}

func TestCacheBounded(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"1": {Extension: "1001"}, "2": {Extension: "1002"}, "3": {Extension: "1003"}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, CacheSize: 2})
	for _, id := range []string{"1", "2", "3", "1"} { // "1" was evicted by "3"
		if _, err := c.Lookup(guard(t), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.RequestsFor("1"); n != 2 {
		t.Fatalf("caller 1 asked %d times, want 2 (evicted)", n)
	}
	if r, err := c.Lookup(guard(t), "3"); err != nil || !r.Cached {
		t.Fatalf("caller 3: %+v, %v; want cached", r, err)
	}
}

func TestCacheDisabled(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"1": {Extension: "1001"}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, CacheSize: -1})
	for range 3 {
		if r, err := c.Lookup(guard(t), "1"); err != nil || r.Cached {
			t.Fatalf("%+v, %v", r, err)
		}
	}
	if n := srv.Requests(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestCircuitBreaker(t *testing.T) {
	clk := newClock()
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Status: 503}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, BreakerFailures: 3, BreakerOpen: time.Minute, Now: clk.Now})

	for i := range 3 {
		if _, err := c.Lookup(guard(t), "5550100"); !errors.Is(err, crm.ErrUnavailable) {
			t.Fatalf("failure %d: err = %v", i+1, err)
		}
	}
	if got := c.BreakerState(); got != crm.StateOpen {
		t.Fatalf("state %s after 3 failures, want open", got)
	}
	if _, err := c.Lookup(guard(t), "5550100"); !errors.Is(err, crm.ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	if n := srv.Requests(); n != 3 {
		t.Fatalf("%d requests, want 3: an open circuit must not call the CRM", n)
	}

	// Open period over: one probe goes out; it fails, so the circuit opens again.
	clk.Advance(time.Minute)
	if got := c.BreakerState(); got != crm.StateHalfOpen {
		t.Fatalf("state %s, want half-open", got)
	}
	if _, err := c.Lookup(guard(t), "5550100"); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("probe: err = %v, want ErrUnavailable", err)
	}
	if got := c.BreakerState(); got != crm.StateOpen {
		t.Fatalf("state %s after a failed probe, want open", got)
	}
	if n := srv.Requests(); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}

	// The CRM recovers: the next probe closes the circuit.
	srv.Set("5550100", crmtest.Answer{Extension: "1001"})
	clk.Advance(time.Minute)
	if r, err := c.Lookup(guard(t), "5550100"); err != nil || r.Extension != "1001" {
		t.Fatalf("probe: %+v, %v", r, err)
	}
	if got := c.BreakerState(); got != crm.StateClosed {
		t.Fatalf("state %s after a good probe, want closed", got)
	}
}

// While the half-open probe is in flight every other lookup fails fast.
func TestHalfOpenSingleProbe(t *testing.T) {
	clk := newClock()
	hold := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"1": {Status: 500}, "2": {Extension: "1002"}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, BreakerFailures: 1, BreakerOpen: time.Minute, Now: clk.Now})
	if _, err := c.Lookup(guard(t), "1"); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	clk.Advance(time.Minute)
	srv.Set("1", crmtest.Answer{Extension: "1001", Hold: hold})
	probe := make(chan error, 1)
	go func() {
		_, err := c.Lookup(guard(t), "1")
		probe <- err
	}()
	if err := srv.WaitRequests(guard(t), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(guard(t), "2"); !errors.Is(err, crm.ErrCircuitOpen) {
		t.Fatalf("second lookup during the probe: err = %v, want ErrCircuitOpen", err)
	}
	close(hold)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if r, err := c.Lookup(guard(t), "2"); err != nil || r.Extension != "1002" {
		t.Fatalf("after the probe: %+v, %v", r, err)
	}
}

func TestBreakerDisabled(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"1": {Status: 500}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, BreakerFailures: -1})
	for range 10 {
		if _, err := c.Lookup(guard(t), "1"); !errors.Is(err, crm.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := srv.Requests(); n != 10 {
		t.Fatalf("%d requests, want 10", n)
	}
}

// Many calls from the same number at once share one request.
func TestConcurrentLookupsShareRequest(t *testing.T) {
	hold := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Hold: hold}})
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL})
	const n = 20
	results := make(chan crm.Result, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r, err := c.Lookup(guard(t), "5550100")
			results <- r
			errs <- err
		})
	}
	if err := srv.WaitRequests(guard(t), 1); err != nil {
		t.Fatal(err)
	}
	close(hold)
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for r := range results {
		if r.Extension != "1001" {
			t.Fatalf("got %+v", r)
		}
	}
	if got := srv.Requests(); got != 1 {
		t.Fatalf("%d requests for %d concurrent lookups of one caller, want 1", got, n)
	}
}

func TestConcurrentLookupsManyCallers(t *testing.T) {
	answers := map[string]crmtest.Answer{}
	for i := range 10 {
		answers[fmt.Sprint(5550100+i)] = crmtest.Answer{Extension: fmt.Sprint(1000 + i)}
	}
	srv := crmtest.NewServer(answers)
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL, CacheSize: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 200 {
		wg.Go(func() {
			i := g % 12 // 10 known callers, 2 unknown
			r, err := c.Lookup(guard(t), fmt.Sprint(5550100+i))
			switch {
			case i >= 10 && !errors.Is(err, crm.ErrNotFound):
				errs <- fmt.Errorf("caller %d: %v, want not found", i, err)
			case i < 10 && (err != nil || r.Extension != fmt.Sprint(1000+i)):
				errs <- fmt.Errorf("caller %d: %+v, %v", i, r, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCallerIDEscaping(t *testing.T) {
	var mu sync.Mutex
	var raw []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		raw = append(raw, r.URL.RequestURI())
		mu.Unlock()
		_, _ = w.Write([]byte("1001"))
	}))
	defer srv.Close()
	c := newClient(t, crm.Config{BaseURL: srv.URL + "/", URLTemplate: "{base}/api/contacts?phone={caller}&fmt=text"})
	if _, err := c.Lookup(guard(t), "+15550100"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "anonymous", "+", "1001&admin=1", "1001\n", "5550100 ", "++1", "12a", strings.Repeat("1", crm.MaxCallerIDLength+1)} {
		_, err := c.Lookup(guard(t), bad)
		if !errors.Is(err, crm.ErrBadCallerID) || !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("caller id %q: err = %v, want ErrBadCallerID (an ErrNotFound)", bad, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(raw) != 1 || raw[0] != "/api/contacts?phone=%2B15550100&fmt=text" {
		t.Fatalf("requests %q, want exactly one to /api/contacts?phone=%%2B15550100&fmt=text", raw)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]crm.Config{
		"no base":           {},
		"no caller":         {BaseURL: "http://crm", URLTemplate: "{base}/x"},
		"bad scheme":        {BaseURL: "ftp://crm"},
		"no host":           {URLTemplate: "http:///x?c={caller}"},
		"bad pattern":       {BaseURL: "http://crm", ExtensionPattern: "[0-9"},
		"negative timeout":  {BaseURL: "http://crm", Timeout: -time.Second},
		"negative max body": {BaseURL: "http://crm", MaxBody: -1},
	}
	for name, cfg := range cases {
		if _, err := crm.New(cfg, nil, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	if _, err := crm.New(crm.Config{URLTemplate: "https://crm.example.com/lookup/{caller}"}, nil, nil); err != nil {
		t.Errorf("template without {base}: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"1": {Extension: "1001"}, "2": {Body: "1|2"}})
	defer srv.Close()
	reg := prometheus.NewRegistry()
	c := newClient(t, crm.Config{BaseURL: srv.URL, Registerer: reg})
	for _, id := range []string{"1", "1", "2", "3", "anonymous"} {
		_, _ = c.Lookup(guard(t), id)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	var observed uint64
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "fsivr_crm_lookups_total":
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case "fsivr_crm_lookup_duration_seconds":
				observed = m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{"ok": 1, "cached": 1, "invalid": 1, "not_found": 1, "bad_caller_id": 1, "unavailable": 0, "circuit_open": 0}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("outcome %s = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if observed != 5 {
		t.Errorf("latency histogram has %d samples, want 5", observed)
	}
	// A second client on the same registry is a configuration error, not a panic.
	if _, err := crm.New(crm.Config{BaseURL: srv.URL, Registerer: reg}, nil, nil); err == nil {
		t.Error("second registration succeeded")
	}
}

func BenchmarkLookupCached(b *testing.B) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001"}})
	defer srv.Close()
	c, err := crm.New(crm.Config{BaseURL: srv.URL}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "5550100"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Lookup(ctx, "5550100"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLookupHTTP(b *testing.B) {
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Name: "Ann", Account: "AC-1"}})
	defer srv.Close()
	c, err := crm.New(crm.Config{BaseURL: srv.URL, CacheSize: -1}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Lookup(ctx, "5550100"); err != nil {
			b.Fatal(err)
		}
	}
}

// A caller who gives up takes the shared request down with it: nothing is
// left running behind a hung-up call.
func TestNoGoroutineLeftAfterCancel(t *testing.T) {
	never := make(chan struct{})
	srv := crmtest.NewServer(map[string]crmtest.Answer{"5550100": {Extension: "1001", Hold: never}})
	defer srv.Close()
	serverRunning := goleak.IgnoreCurrent() // the fake CRM's own accept loop
	transport := http.DefaultTransport.(*http.Transport).Clone()
	c, err := crm.New(crm.Config{BaseURL: srv.URL, Timeout: time.Hour}, &http.Client{Transport: transport}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Lookup(ctx, "5550100")
		errc <- err
	}()
	if err := srv.WaitRequests(guard(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// The fake CRM still holds the request (Hold is never closed), so only
	// cancelling it can have ended the lookup's goroutine and connection.
	transport.CloseIdleConnections()
	goleak.VerifyNone(t, serverRunning)
}

// Issue 14: lookups reuse their connections to the CRM. A burst of
// concurrent lookups, then another: the second opens no new connection
// (http.DefaultTransport kept 2 idle per host, so 14 of 16 lookups of every
// burst dialled again).
func TestLookupsReuseConnections(t *testing.T) {
	const burst = 16
	var (
		mu      sync.Mutex
		opened  int
		arrived = make(chan struct{}, burst)
		release = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNotFound)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := crm.New(crm.Config{BaseURL: srv.URL, CacheSize: -1, BreakerFailures: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wave := func(n int) int {
		var wg sync.WaitGroup
		for i := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Lookup(context.Background(), fmt.Sprintf("55510%02d%02d", n, i)); !errors.Is(err, crm.ErrNotFound) {
					t.Errorf("lookup: %v, want crm.ErrNotFound", err)
				}
			}()
		}
		for range burst { // all in flight at once
			<-arrived
		}
		for range burst {
			release <- struct{}{}
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return opened
	}
	first := wave(1)
	if second := wave(2); second != first {
		t.Errorf("the second burst of %d lookups opened %d new connections, want 0 (first opened %d)", burst, second-first, first)
	}
}
