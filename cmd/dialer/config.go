package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/httpapi"
)

// Config is the dialer process's configuration (configs/dialer.yaml):
// where the store, Asterisk, the DNC list and the results go. The campaign
// itself is its own file (campaign.yaml, a dialer.Campaign).
type Config struct {
	// Store is "memory" (the embedded default: one process, state lost on
	// exit) or "redis" (resumable, shared by several dialers).
	Store string      `yaml:"store"`
	Redis RedisConfig `yaml:"redis"`
	AMI   AMIConfig   `yaml:"ami"`
	// Backend is how calls are placed: "ami" (Originate on the ami:
	// section, the default), "callfile" (Asterisk call files, the callfile:
	// section) or "freeswitch" (FreeSWITCH's inbound event socket, the
	// freeswitch: section).
	Backend    string           `yaml:"backend"`
	CallFile   CallFileConfig   `yaml:"callfile"`
	FreeSWITCH FreeSWITCHConfig `yaml:"freeswitch"`
	// DNCFile is a file of numbers never to call; DNCRedisKey a Redis set.
	DNCFile     string `yaml:"dnc_file"`
	DNCRedisKey string `yaml:"dnc_redis_key"`
	// SpoolDir holds the results' spool when Redis is down (or absent).
	SpoolDir string `yaml:"spool_dir"`
	// HTTP is the /metrics and /healthz listener of `dialer serve`.
	HTTP         string        `yaml:"http"`
	Lease        time.Duration `yaml:"lease"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Owner names this process in leases (default host-pid-random).
	Owner string `yaml:"owner"`
	// Progress is the interval of the plain progress lines (no terminal).
	Progress time.Duration `yaml:"progress"`
	LogLevel string        `yaml:"log_level"`
	// API is the HTTP API of `dialer serve` (package dialer/httpapi): it is
	// mounted under /v1/ when at least one token is configured.
	API httpapi.Config `yaml:"api"`
	// Dashboard is the live page at / (see DashboardConfig).
	Dashboard DashboardConfig `yaml:"dashboard"`
	// CallCentre names what the call-centre commands may use in the
	// dialplan (see CallCentreConfig).
	CallCentre CallCentreConfig `yaml:"callcentre"`
}

// CallCentreConfig is the dialplan side of the call-centre commands
// (callcenter.ServiceConfig; an empty field takes its default there). The
// lists are what a client may name: a caller id shown to agent and
// customer, a context a call is redirected into; anything else is refused.
type CallCentreConfig struct {
	AgentChannel     string        `yaml:"agent_channel"`     // dial string of an agent's phone, %s = agent (Local/%s@agent)
	OriginateContext string        `yaml:"originate_context"` // where the answered agent dials the number (c2c)
	CallerIDs        []string      `yaml:"caller_ids"`        // caller ids originate-call may name
	RingTimeout      time.Duration `yaml:"ring_timeout"`      // how long the agent's phone rings (30s)
	MemberInterface  string        `yaml:"member_interface"`  // queue-action add's Interface, %s = agent (Local/%s@agent/n)
	StateInterface   string        `yaml:"state_interface"`   // and its StateInterface ("" none)
	RedirectContext  string        `yaml:"redirect_context"`  // redirect-call's context when none is named (default)
	RedirectContexts []string      `yaml:"redirect_contexts"` // further contexts redirect-call may name
	Parkinglot       string        `yaml:"parkinglot"`        // park-and-announce's lot ("" = Asterisk's default)
	ParkTimeout      time.Duration `yaml:"park_timeout"`      // how long a call stays parked
}

// service returns the call-centre service's configuration.
func (c CallCentreConfig) service(base callcenter.ServiceConfig) callcenter.ServiceConfig {
	base.AgentChannel, base.OriginateContext, base.CallerIDs = c.AgentChannel, c.OriginateContext, c.CallerIDs
	base.RingTimeout, base.MemberInterface, base.StateInterface = c.RingTimeout, c.MemberInterface, c.StateInterface
	base.RedirectContext, base.RedirectContexts = c.RedirectContext, c.RedirectContexts
	base.Parkinglot, base.ParkTimeout = c.Parkinglot, c.ParkTimeout
	return base
}

// RedisConfig selects single Redis, Sentinel or Cluster (UniversalClient).
type RedisConfig struct {
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	Password   string   `yaml:"password"`
}

// AMIConfig is the Asterisk Manager connection.
type AMIConfig struct {
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	Secret   string `yaml:"secret"`
}

// CallFileConfig is backend callfile (package dialer/callfile).
type CallFileConfig struct {
	// SpoolDir is Asterisk's astspooldir (/var/spool/asterisk); TempDir,
	// on its filesystem, where files are written first (default
	// SpoolDir/tmp).
	SpoolDir string `yaml:"spool_dir"`
	TempDir  string `yaml:"temp_dir"`
	// Owner is "uid:gid" given to each file (empty: ours); Mode its octal
	// mode (default 0640).
	Owner string `yaml:"owner"`
	Mode  string `yaml:"mode"`
	// MaxSpool caps the files in outgoing/ (0: no cap beyond the ports).
	MaxSpool int `yaml:"max_spool"`
	// AMI uses the ami: section for the finer disposition of failed calls
	// (the failed extension's UserEvent, the hangup cause).
	AMI bool `yaml:"ami"`
}

// FreeSWITCHConfig is backend freeswitch (package dialer/esldial).
type FreeSWITCHConfig struct {
	// Addr and Password are the inbound event socket
	// (event_socket.conf.xml). The password is never logged.
	Addr     string `yaml:"addr"`
	Password string `yaml:"password"`
	// Context and Exten are where an answered call goes (default fsivr,
	// notify: the entry that hands the call to ivrd).
	Context string `yaml:"context"`
	Exten   string `yaml:"exten"`
}

func defaultConfig() Config {
	return Config{
		Store: "memory", Backend: "ami", SpoolDir: "spool/dialer", HTTP: "127.0.0.1:9185",
		Lease: 30 * time.Second, DrainTimeout: 60 * time.Second, Progress: 5 * time.Second, LogLevel: "warn",
		AMI: AMIConfig{Addr: "127.0.0.1:5038", Username: "dialer"},
	}
}

// envPrefix: FSIVR_ and the yaml path in upper case, "_" for the dots
// (ami.secret -> FSIVR_AMI_SECRET). Lists are comma-separated.
const envPrefix = "FSIVR_"

func decodeYAML(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		if err := decodeYAML(path, &cfg); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
	}
	if err := overrideFromEnv(reflect.ValueOf(&cfg).Elem(), envPrefix, getenv); err != nil {
		return cfg, err
	}
	switch cfg.Store {
	case "memory":
	case "redis":
		if len(cfg.Redis.Addrs) == 0 {
			return cfg, errors.New("config: store redis needs redis.addrs")
		}
	default:
		return cfg, fmt.Errorf("config: store %q: memory or redis", cfg.Store)
	}
	if err := checkBackend(cfg); err != nil {
		return cfg, err
	}
	if cfg.Lease < time.Second || cfg.DrainTimeout < 0 || cfg.Progress < 100*time.Millisecond {
		return cfg, errors.New("config: lease must be >= 1s, drain_timeout >= 0, progress >= 100ms")
	}
	return cfg, nil
}

// overrideFromEnv sets each leaf field whose variable is set.
func overrideFromEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	var errs []error
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + strings.ToUpper(name)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			errs = append(errs, overrideFromEnv(f, key+"_", getenv))
			continue
		}
		raw := getenv(key)
		if raw == "" {
			continue
		}
		var err error
		switch {
		case f.Type() == reflect.TypeFor[time.Duration]():
			var d time.Duration
			d, err = time.ParseDuration(raw)
			f.SetInt(int64(d))
		case f.Kind() == reflect.String:
			f.SetString(raw)
		case f.Kind() == reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(raw)
			f.SetBool(b)
		case f.Kind() == reflect.Int:
			var n int
			n, err = strconv.Atoi(raw)
			f.SetInt(int64(n))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			var list []string
			if raw != "-" {
				list = strings.Split(raw, ",")
			}
			f.Set(reflect.ValueOf(list))
		default:
			err = errors.New("unsupported type")
		}
		if err != nil {
			shown := raw
			if strings.Contains(strings.ToLower(key), "secret") || strings.Contains(strings.ToLower(key), "password") {
				shown = "(redacted)"
			}
			errs = append(errs, fmt.Errorf("config: %s=%q: %w", key, shown, err))
		}
	}
	return errors.Join(errs...)
}

// loadCampaign reads a campaign file (a dialer.Campaign in YAML).
func loadCampaign(path string) (dialer.Campaign, error) {
	var c dialer.Campaign
	if err := decodeYAML(path, &c); err != nil {
		return c, fmt.Errorf("campaign: %w", err)
	}
	if _, err := c.Check(); err != nil {
		return c, fmt.Errorf("campaign %s: %w", path, err)
	}
	return c, nil
}
