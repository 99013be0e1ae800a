// Package crm looks callers up in a CRM over HTTP to learn which
// contact-centre extension (their account manager) a call should be bridged
// to, as the seed IVR's fetch_cc_extn_from_crm did at call start.
//
// The ivr runtime calls Client.Lookup in its own goroutine when a call
// arrives, so the answer is usually there before the caller has heard the
// welcome prompt. Everything about the lookup is bounded: a per-request
// timeout, a maximum body size, a circuit breaker that fails fast while the
// CRM is down, and a bounded LRU cache of successful answers (failures are
// never cached). Concurrent lookups of the same caller id share one request.
//
// Answers are untrusted: the extension must match the configured pattern
// (whole string) and a fixed safe character set before it is returned, so a
// CRM answer such as "1001,sofia/gateway/x/1900" can never add a bridge
// target. Names and accounts with control characters, invalid UTF-8 or more
// than MaxFieldLength runes are dropped (set to "") with a warning rather than
// failing the lookup: the extension is what routes the call.
package crm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// notFoundError is the type of ErrNotFound.
type notFoundError struct{}

func (notFoundError) Error() string  { return "crm: not found" }
func (notFoundError) NotFound() bool { return true }

// Sentinel errors; Lookup's errors wrap exactly one of them (ErrBadCallerID
// also wraps ErrNotFound).
var (
	// ErrNotFound: the CRM does not know the caller (404, 204, empty body, no
	// extension). It has a NotFound() bool method, so a caller that must not
	// import crm (the ivr runtime) can tell "unknown caller" from a failure
	// with errors.As.
	ErrNotFound error = notFoundError{}
	// ErrInvalid: the CRM answered something that failed validation.
	ErrInvalid = errors.New("crm: invalid answer")
	// ErrUnavailable: no usable answer (connection refused, timeout, 5xx, other
	// non-2xx, the caller's context ended). The cause is wrapped too.
	ErrUnavailable = errors.New("crm: unavailable")
	// ErrCircuitOpen: the breaker is open after repeated failures; no request was made.
	ErrCircuitOpen = errors.New("crm: circuit open")
	// ErrCrossHostRedirect: the CRM redirected the lookup to another host,
	// port or scheme and Config.AllowCrossHostRedirects is off. It comes
	// wrapped in ErrUnavailable.
	ErrCrossHostRedirect = errors.New("crm: redirect to another host refused")
	// ErrBadCallerID: the caller id is not a phone number (anonymous, empty,
	// too long), so it was not looked up. It wraps ErrNotFound.
	ErrBadCallerID = fmt.Errorf("%w: caller id not looked up", ErrNotFound)
)

// Result is a validated CRM answer.
type Result struct {
	Extension string // matches the extension pattern; safe for a dial string
	Name      string // optional, free of control characters
	Account   string // optional, free of control characters
	Cached    bool   // served from the cache
}

// Fields returns the result for ${crm.<field>} templates.
func (r Result) Fields() map[string]string {
	return map[string]string{"extension": r.Extension, "name": r.Name, "account": r.Account}
}

// Client looks caller ids up in the CRM. It is safe for concurrent use and
// holds no goroutines between lookups.
type Client struct {
	cfg     settings
	http    *http.Client
	log     *slog.Logger
	cache   *cache
	breaker *breaker
	metrics *metrics

	mu      sync.Mutex
	flights map[string]*flight // in-progress requests by caller id
}

// flight is one HTTP request shared by every concurrent Lookup of a caller id.
type flight struct {
	done    chan struct{}
	result  Result
	err     error
	waiters int // Lookups still waiting; when it drops to 0 the request is cancelled
	cancel  context.CancelFunc
}

// New checks cfg and returns a Client. httpClient nil means a client using
// NewTransport(); logger nil discards logs.
func New(cfg Config, httpClient *http.Client, logger *slog.Logger) (*Client, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Transport: NewTransport()}
	}
	if !cfg.AllowCrossHostRedirects {
		httpClient = sameHostRedirects(httpClient)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:     s,
		http:    httpClient,
		log:     logger.With("component", "crm"),
		cache:   newCache(s.cacheSize, s.cacheTTL, s.now),
		breaker: newBreaker(s.failures, s.openFor, s.now),
		metrics: m,
		flights: make(map[string]*flight),
	}, nil
}

// idleConnsPerHost is how many keep-alive connections to the CRM are kept
// between lookups. Every call starts with a lookup, so at 100 calls/s a few
// dozen are in flight at once during a burst; http.DefaultTransport keeps
// 2 per host, and every other lookup then paid a new TCP (and TLS)
// handshake, which showed in ivrd's CPU profile under load.
const idleConnsPerHost = 64

// NewTransport returns the HTTP transport a Client should use: Go's default
// transport (proxy from the environment, dial and TLS timeouts, HTTP/2)
// keeping up to 64 idle connections to the CRM instead of 2.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, idleConnsPerHost)
	t.MaxIdleConnsPerHost = idleConnsPerHost
	return t
}

// sameHostRedirects returns a copy of hc that follows redirects only to the
// scheme and host:port of the original request.
func sameHostRedirects(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if first := via[0].URL; req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
			return fmt.Errorf("%w: %s://%s", ErrCrossHostRedirect, req.URL.Scheme, req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("crm: stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// BreakerState is "closed", "open" or "half-open" (open and due for a probe).
func (c *Client) BreakerState() string { return c.breaker.currentState() }

// Lookup returns the CRM's answer for callerID. It returns when the answer
// arrives, the configured timeout passes, or ctx ends, whichever is first;
// when ctx ends the error wraps ErrUnavailable and ctx.Err().
func (c *Client) Lookup(ctx context.Context, callerID string) (Result, error) {
	start := time.Now()
	r, err := c.lookup(ctx, callerID)
	c.metrics.observe(outcome(r, err), time.Since(start).Seconds())
	return r, err
}

func (c *Client) lookup(ctx context.Context, callerID string) (Result, error) {
	if !validCallerID(callerID) {
		return Result{}, fmt.Errorf("%w: %q", ErrBadCallerID, callerID)
	}
	if r, ok := c.cache.get(callerID); ok {
		r.Cached = true
		return r, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	c.mu.Lock()
	f, ok := c.flights[callerID]
	if !ok {
		// The request outlives any one caller (others may join it) but not
		// the timeout, and keeps ctx's values for tracing.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.timeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.flights[callerID] = f
		go c.run(fctx, callerID, f)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.result, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody wants the answer any more: stop the request rather than
			// leave a goroutine behind a hung-up call.
			f.cancel()
			if c.flights[callerID] == f {
				delete(c.flights, callerID)
			}
		}
		c.mu.Unlock()
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (c *Client) run(ctx context.Context, callerID string, f *flight) {
	defer f.cancel()
	f.result, f.err = c.fetch(ctx, callerID)
	if f.err == nil {
		c.cache.put(callerID, f.result)
	}
	c.mu.Lock()
	if c.flights[callerID] == f {
		delete(c.flights, callerID)
	}
	c.mu.Unlock()
	close(f.done)
}

// fetch makes one guarded HTTP request and classifies the answer.
func (c *Client) fetch(ctx context.Context, callerID string) (Result, error) {
	ok, probe, retryAt := c.breaker.allow()
	if !ok {
		if retryAt.IsZero() {
			return Result{}, fmt.Errorf("%w: half-open probe in flight", ErrCircuitOpen)
		}
		return Result{}, fmt.Errorf("%w until %s", ErrCircuitOpen, retryAt.Format(time.RFC3339))
	}
	r, err := c.request(ctx, callerID)
	v := healthy
	switch {
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid):
	case errors.Is(err, context.Canceled):
		v = unknown // every caller left; says nothing about the CRM
	default:
		v = unhealthy
	}
	if from, to := c.breaker.record(v, probe); to != "" {
		level := slog.LevelInfo
		if to == StateOpen {
			level = slog.LevelWarn
		}
		c.log.Log(ctx, level, "crm circuit breaker", "from", from, "to", to, "err", err)
	}
	return r, err
}

func (c *Client) request(ctx context.Context, callerID string) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.url(callerID), nil)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json, text/plain;q=0.9")
	req.Header.Set("User-Agent", "fsivr-crm")
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, redactQuery(err))
	}
	defer func() {
		// Drain a little so the connection can be reused, never a huge body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
	}()

	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent:
		return Result{}, fmt.Errorf("%w: caller %s: HTTP %d", ErrNotFound, callerID, resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return Result{}, fmt.Errorf("%w: caller %s: HTTP %d", ErrUnavailable, callerID, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.maxBody+1))
	if err != nil {
		return Result{}, fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)
	}
	if int64(len(body)) > c.cfg.maxBody {
		return Result{}, fmt.Errorf("%w: answer larger than %d bytes", ErrInvalid, c.cfg.maxBody)
	}
	a, err := parseAnswer(resp.Header.Get("Content-Type"), body, c.cfg.extension)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			c.log.Warn("crm answer rejected", "caller_id", callerID, "err", err)
		}
		return Result{}, fmt.Errorf("caller %s: %w", callerID, err)
	}
	if len(a.dropped) > 0 {
		c.log.Warn("crm answer fields dropped", "caller_id", callerID, "fields", strings.Join(a.dropped, ","))
	}
	return a.result, nil
}

// redactQuery blanks the query values of the URL in a transport error
// (*url.Error): a CRM's credential may be given there (?api_key=...), and
// the error reaches log lines. net/http already blanks a URL's password.
func redactQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		ue.URL = "(unparsable URL)"
		return err
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
		ue.URL = u.Redacted()
	}
	return err
}

func outcome(r Result, err error) string {
	switch {
	case err == nil && r.Cached:
		return OutcomeCached
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrBadCallerID):
		return OutcomeBadCallerID
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrInvalid):
		return OutcomeInvalid
	case errors.Is(err, ErrCircuitOpen):
		return OutcomeCircuitOpen
	default:
		return OutcomeUnavailable
	}
}
