package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm"
)

// Config is configs/ivrd.yaml. The call log and CRM sections are the
// packages' own Config types, with their own yaml tags: no mirror to keep in
// step.
type Config struct {
	Listen       string        `yaml:"listen"`
	Allow        []string      `yaml:"allow"`
	HTTP         string        `yaml:"http"`
	FlowsDir     string        `yaml:"flows_dir"`
	SoundsDir    string        `yaml:"sounds_dir"`
	DefaultFlow  string        `yaml:"default_flow"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// DrainFallback is the transfer ("<dest> <dialplan> <context>") a call
	// still in its flow is handed to when drain_timeout is reached, unless
	// its flow names its own fallback; empty = just close the socket (the
	// dialplan's fallback then runs after the current app ends).
	DrainFallback string `yaml:"drain_fallback"`
	MaxFlowBytes  int64  `yaml:"max_flow_bytes"`
	LogLevel      string `yaml:"log_level"`
	// Pprof serves net/http/pprof under /debug/pprof/ on the http listener:
	// off by default, since a profile shows call data (caller numbers in
	// strings) to whoever reaches that port.
	Pprof bool `yaml:"pprof"`
	// GCPercent is GOGC (0: ivrd's default, 100; the GOGC environment
	// variable wins). MemoryLimit is GOMEMLIMIT: "off", bytes,
	// <n>KiB/MiB/GiB or a share of the cgroup memory limit ("80%"); empty:
	// 80% of the cgroup limit when there is one (GOMEMLIMIT wins). See
	// cmd/ivrd/runtime.go for why.
	GCPercent   int            `yaml:"gc_percent"`
	MemoryLimit string         `yaml:"memory_limit"`
	Redis       RedisConfig    `yaml:"redis"`
	CallLog     calllog.Config `yaml:"calllog"`
	CRM         crm.Config     `yaml:"crm"`
}

// RedisConfig selects a single Redis, Sentinel or Cluster (go-redis
// UniversalClient rules).
type RedisConfig struct {
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	Password   string   `yaml:"password"`
	DB         int      `yaml:"db"`
}

// envPrefix starts every environment override: FSIVR_ and the yaml path in
// upper case with "_" for the dots (calllog.spool_dir -> FSIVR_CALLLOG_SPOOL_DIR).
const envPrefix = "FSIVR_"

// defaultMaxFlowBytes caps a flow file (a runaway generator or a wrong file
// must not be parsed into memory).
const defaultMaxFlowBytes = 1 << 20

func defaultConfig() Config {
	return Config{
		Listen:       "127.0.0.1:8084",
		HTTP:         "127.0.0.1:9184",
		FlowsDir:     "flows",
		SoundsDir:    "sounds",
		DefaultFlow:  "sales",
		DrainTimeout: 60 * time.Second,
		MaxFlowBytes: defaultMaxFlowBytes,
		LogLevel:     "info",
		CallLog: calllog.Config{Namespace: "fsivr", Stream: "calls", Shards: 1, MaxLen: 1_000_000,
			SummaryTTL: 7 * 24 * time.Hour, SpoolDir: "spool"},
		CRM: crm.Config{URLTemplate: crm.DefaultURLTemplate, Timeout: 1500 * time.Millisecond},
	}
}

// loadConfig reads path (if not empty) over the defaults, applies the
// FSIVR_* environment overrides and checks the values.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, redactErr(err))
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	if err := cfg.check(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// envKeys lists every environment override, derived from the yaml tags of
// Config (the keys a config file may have), in field order.
func envKeys() []string {
	var keys []string
	walkConfig(reflect.ValueOf(&Config{}).Elem(), envPrefix, func(key string, _ reflect.Value) {
		keys = append(keys, key)
	})
	return keys
}

// walkConfig calls fn for every settable leaf of a config struct with its
// environment name. Fields tagged yaml:"-" (functions, registries) are no
// configuration.
func walkConfig(v reflect.Value, prefix string, fn func(key string, field reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		key := prefix + strings.ToUpper(name)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			walkConfig(fv, key+"_", fn)
			continue
		}
		fn(key, fv)
	}
}

// applyEnv sets every field whose FSIVR_* variable is set. Lists are
// comma-separated; "-" sets a list to empty (FSIVR_REDIS_ADDRS=- runs
// without Redis).
func applyEnv(cfg *Config, getenv func(string) string) error {
	var errs []error
	walkConfig(reflect.ValueOf(cfg).Elem(), envPrefix, func(key string, f reflect.Value) {
		v := getenv(key)
		if v == "" {
			return
		}
		if err := setField(f, v); err != nil {
			errs = append(errs, redactErr(fmt.Errorf("config: %s=%q: %w", key, redactValue(v), err)))
		}
	})
	return errors.Join(errs...)
}

func setField(f reflect.Value, v string) error {
	switch {
	case f.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(v)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		if v == "-" {
			f.Set(reflect.ValueOf([]string(nil)))
			return nil
		}
		f.Set(reflect.ValueOf(splitList(v)))
	default:
		return fmt.Errorf("no environment form for a %s", f.Type())
	}
	return nil
}

// ErrBadConfig is wrapped by every refused configuration value.
var ErrBadConfig = errors.New("bad config value")

// check refuses values that would only fail later, on a call.
func (c Config) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %w: %s", ErrBadConfig, fmt.Sprintf(format, args...)))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout %s is negative", c.DrainTimeout)
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		bad("redis.db %d: Redis has databases 0 to 15 by default", c.Redis.DB)
	}
	if c.Redis.DB != 0 && len(c.Redis.Addrs) > 1 && c.Redis.MasterName == "" {
		bad("redis.db %d: a Redis Cluster has only database 0", c.Redis.DB)
	}
	if c.Listen == "" {
		bad("listen is empty")
	}
	if c.DefaultFlow == "" {
		bad("default_flow is empty")
	}
	if c.MaxFlowBytes <= 0 {
		bad("max_flow_bytes %d must be positive", c.MaxFlowBytes)
	}
	if c.DrainFallback != "" && len(strings.Fields(c.DrainFallback)) != 3 {
		bad("drain_fallback %q: want \"<dest> <dialplan> <context>\"", c.DrainFallback)
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// redactValue hides the password of a URL-like value (scheme://user:pass@host).
func redactValue(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}

// redactedError is an error whose text has every URL userinfo hidden; it
// still unwraps to the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr hides userinfo (user:password@) of any URL in err's text, so
// a config error never prints the CRM or Redis password.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := redactURLs(msg)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

// redactURLs replaces "scheme://user:pass@" by "scheme://user:xxxxx@" in s.
func redactURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/ \t\n\"'?#")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			user, _, hasPass := strings.Cut(authority[:at], ":")
			if hasPass {
				b.WriteString(user + ":xxxxx")
			} else {
				b.WriteString(user)
			}
			b.WriteString(authority[at:])
		} else {
			b.WriteString(authority)
		}
		s = rest[end:]
	}
}
