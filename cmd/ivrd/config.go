package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is configs/ivrd.yaml.
type Config struct {
	Listen       string        `yaml:"listen"`
	Allow        []string      `yaml:"allow"`
	HTTP         string        `yaml:"http"`
	FlowsDir     string        `yaml:"flows_dir"`
	SoundsDir    string        `yaml:"sounds_dir"`
	DefaultFlow  string        `yaml:"default_flow"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	LogLevel     string        `yaml:"log_level"`
	Redis        RedisConfig   `yaml:"redis"`
	CallLog      CallLogConfig `yaml:"calllog"`
	CRM          CRMConfig     `yaml:"crm"`
}

// RedisConfig selects a single Redis, Sentinel or Cluster (go-redis
// UniversalClient rules).
type RedisConfig struct {
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	Password   string   `yaml:"password"`
	DB         int      `yaml:"db"`
}

// CallLogConfig configures the Redis call log.
type CallLogConfig struct {
	Namespace  string        `yaml:"namespace"`
	Stream     string        `yaml:"stream"`
	Shards     int           `yaml:"shards"`
	MaxLen     int64         `yaml:"maxlen"`
	SummaryTTL time.Duration `yaml:"summary_ttl"`
	SpoolDir   string        `yaml:"spool_dir"`
}

// CRMConfig configures the CRM lookup.
type CRMConfig struct {
	BaseURL          string        `yaml:"base_url"`
	URLTemplate      string        `yaml:"url_template"`
	Timeout          time.Duration `yaml:"timeout"`
	CacheSize        int           `yaml:"cache_size"`
	CacheTTL         time.Duration `yaml:"cache_ttl"`
	BreakerFailures  int           `yaml:"breaker_failures"`
	BreakerOpen      time.Duration `yaml:"breaker_open"`
	ExtensionPattern string        `yaml:"extension_pattern"`
}

func defaultConfig() Config {
	return Config{
		Listen:       "127.0.0.1:8084",
		HTTP:         "127.0.0.1:9184",
		FlowsDir:     "flows",
		SoundsDir:    "sounds",
		DefaultFlow:  "sales",
		DrainTimeout: 60 * time.Second,
		LogLevel:     "info",
		CallLog:      CallLogConfig{Namespace: "fsivr", Stream: "calls", Shards: 1, MaxLen: 1_000_000, SummaryTTL: 7 * 24 * time.Hour, SpoolDir: "spool"},
		CRM:          CRMConfig{URLTemplate: "{base}/voip/cdrs?caller_id={caller}", Timeout: 1500 * time.Millisecond},
	}
}

// loadConfig reads path (if not empty) over the defaults, then applies the
// FSIVR_* environment overrides.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	str := map[string]*string{
		"FSIVR_LISTEN":                &cfg.Listen,
		"FSIVR_HTTP":                  &cfg.HTTP,
		"FSIVR_FLOWS_DIR":             &cfg.FlowsDir,
		"FSIVR_SOUNDS_DIR":            &cfg.SoundsDir,
		"FSIVR_DEFAULT_FLOW":          &cfg.DefaultFlow,
		"FSIVR_LOG_LEVEL":             &cfg.LogLevel,
		"FSIVR_REDIS_MASTER_NAME":     &cfg.Redis.MasterName,
		"FSIVR_REDIS_PASSWORD":        &cfg.Redis.Password,
		"FSIVR_CALLLOG_STREAM":        &cfg.CallLog.Stream,
		"FSIVR_CALLLOG_SPOOL_DIR":     &cfg.CallLog.SpoolDir,
		"FSIVR_CRM_BASE_URL":          &cfg.CRM.BaseURL,
		"FSIVR_CRM_URL_TEMPLATE":      &cfg.CRM.URLTemplate,
		"FSIVR_CRM_EXTENSION_PATTERN": &cfg.CRM.ExtensionPattern,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	list := map[string]*[]string{
		"FSIVR_ALLOW":       &cfg.Allow,
		"FSIVR_REDIS_ADDRS": &cfg.Redis.Addrs,
	}
	for k, p := range list {
		if v, ok := lookupSet(getenv, k); ok {
			*p = splitList(v)
		}
	}
	durs := map[string]*time.Duration{
		"FSIVR_DRAIN_TIMEOUT": &cfg.DrainTimeout,
		"FSIVR_CRM_TIMEOUT":   &cfg.CRM.Timeout,
	}
	for k, p := range durs {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config: %s=%q: %w", k, v, err)
			}
			*p = d
		}
	}
	if v := getenv("FSIVR_REDIS_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("config: FSIVR_REDIS_DB=%q: %w", v, err)
		}
		cfg.Redis.DB = n
	}
	return nil
}

// lookupSet treats the value "-" as "set to empty" so an environment can
// turn a list off (FSIVR_REDIS_ADDRS=- runs without Redis).
func lookupSet(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	if v == "" {
		return "", false
	}
	if v == "-" {
		return "", true
	}
	return v, true
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
