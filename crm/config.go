package crm

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultURLTemplate      = "{base}/voip/cdrs?caller_id={caller}"
	DefaultTimeout          = 3 * time.Second
	DefaultCacheSize        = 1024
	DefaultCacheTTL         = 5 * time.Minute
	DefaultBreakerFailures  = 5
	DefaultBreakerOpen      = 30 * time.Second
	DefaultExtensionPattern = `^[0-9]{2,6}$`
	DefaultMaxBody          = 4096

	// MaxCallerIDLength bounds the caller ids that are looked up at all.
	MaxCallerIDLength = 32
	// MaxFieldLength bounds name and account (in runes); longer values are dropped.
	MaxFieldLength = 128
	// maxExtensionLength is a hard bound applied whatever the pattern says.
	maxExtensionLength = 64
)

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// BaseURL is substituted for {base} in URLTemplate, e.g. "https://crm.example.com".
	BaseURL string `yaml:"base_url"`
	// URLTemplate builds the request URL: {base} is BaseURL without a trailing
	// slash, {caller} the query-escaped caller id. It must contain {caller}.
	URLTemplate string `yaml:"url_template"`
	// Timeout bounds one HTTP lookup (connect, headers and body).
	Timeout time.Duration `yaml:"timeout"`
	// CacheSize is the number of answers kept (least recently used evicted);
	// negative disables the cache.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long a successful answer is reused.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// BreakerFailures is the number of consecutive failures (connection errors,
	// timeouts, 5xx) that opens the circuit; negative disables the breaker.
	BreakerFailures int `yaml:"breaker_failures"`
	// BreakerOpen is how long the circuit stays open before one probe is let through.
	BreakerOpen time.Duration `yaml:"breaker_open"`
	// ExtensionPattern is a regexp an extension must match as a whole (it is
	// anchored even if written without ^ and $).
	ExtensionPattern string `yaml:"extension_pattern"`
	// AllowCrossHostRedirects lets a lookup follow a redirect to another
	// host (or port or scheme). Off by default: a CRM answer that sends the
	// caller id elsewhere is refused (ErrCrossHostRedirect).
	AllowCrossHostRedirects bool `yaml:"allow_cross_host_redirects"`
	// MaxBody is the largest answer body accepted, in bytes; larger is ErrInvalid.
	MaxBody int64 `yaml:"max_body"`
	// Registerer, if set, receives the client's prometheus metrics.
	Registerer prometheus.Registerer `yaml:"-"`
	// Now is the clock for cache expiry and the breaker; nil means time.Now.
	// Tests set it to step time without sleeping.
	Now func() time.Time `yaml:"-"`
}

// settings is a Config with defaults applied and everything parsed.
type settings struct {
	urlTemplate string
	base        string
	timeout     time.Duration
	cacheSize   int
	cacheTTL    time.Duration
	failures    int
	openFor     time.Duration
	extension   *regexp.Regexp
	maxBody     int64
	now         func() time.Time
}

func (cfg Config) settings() (settings, error) {
	s := settings{
		urlTemplate: cfg.URLTemplate,
		base:        strings.TrimRight(cfg.BaseURL, "/"),
		timeout:     cfg.Timeout,
		cacheSize:   cfg.CacheSize,
		cacheTTL:    cfg.CacheTTL,
		failures:    cfg.BreakerFailures,
		openFor:     cfg.BreakerOpen,
		maxBody:     cfg.MaxBody,
		now:         cfg.Now,
	}
	if s.urlTemplate == "" {
		s.urlTemplate = DefaultURLTemplate
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.cacheSize == 0 {
		s.cacheSize = DefaultCacheSize
	}
	if s.cacheTTL == 0 {
		s.cacheTTL = DefaultCacheTTL
	}
	if s.failures == 0 {
		s.failures = DefaultBreakerFailures
	}
	if s.openFor == 0 {
		s.openFor = DefaultBreakerOpen
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.now == nil {
		s.now = time.Now
	}
	var errs []error
	if s.timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", s.timeout))
	}
	if s.cacheTTL < 0 {
		errs = append(errs, fmt.Errorf("cache TTL %s is negative", s.cacheTTL))
	}
	if s.openFor < 0 {
		errs = append(errs, fmt.Errorf("breaker open duration %s is negative", s.openFor))
	}
	if s.maxBody < 0 {
		errs = append(errs, fmt.Errorf("max body %d is negative", s.maxBody))
	}
	if !strings.Contains(s.urlTemplate, "{caller}") {
		errs = append(errs, fmt.Errorf("URL template %q has no {caller}", s.urlTemplate))
	}
	if strings.Contains(s.urlTemplate, "{base}") && s.base == "" {
		errs = append(errs, fmt.Errorf("URL template %q uses {base} but the base URL is empty", s.urlTemplate))
	}
	if len(errs) == 0 {
		// Check the template with a sample caller so a typo fails at startup,
		// not on the first call.
		sample := s.url("+15550100")
		u, err := url.Parse(sample)
		if err == nil {
			sample = u.Redacted() // never a password in an error
		}
		switch {
		case err != nil:
			errs = append(errs, errors.New("URL template with the base URL gives an unparsable URL"))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("URL %q: scheme must be http or https", sample))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("URL %q has no host", sample))
		}
	}
	pattern := cfg.ExtensionPattern
	if pattern == "" {
		pattern = DefaultExtensionPattern
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		errs = append(errs, fmt.Errorf("extension pattern %q: %w", pattern, err))
	}
	s.extension = re
	if len(errs) > 0 {
		return settings{}, fmt.Errorf("crm config: %w", errors.Join(errs...))
	}
	return s, nil
}

// url builds the request URL for an already validated caller id.
func (s settings) url(callerID string) string {
	return strings.NewReplacer("{base}", s.base, "{caller}", url.QueryEscape(callerID)).Replace(s.urlTemplate)
}
