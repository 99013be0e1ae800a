package main

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsivr/fsivr/crm"
)

// yamlLeaves lists the dotted paths of every scalar or list in a YAML mapping.
func yamlLeaves(n *yaml.Node, prefix string, out *[]string) {
	if n.Kind == yaml.DocumentNode {
		yamlLeaves(n.Content[0], prefix, out)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			yamlLeaves(v, prefix+k+".", out)
			continue
		}
		*out = append(*out, prefix+k)
	}
}

func envName(path string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// Every key of the shipped config has an environment override, and every
// override changes its field (the list is derived, so it cannot drift).
func TestEveryConfigKeyHasAnEnvOverride(t *testing.T) {
	src, err := os.ReadFile("../../configs/ivrd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	yamlLeaves(&doc, "", &paths)
	keys := envKeys()
	if len(paths) < 20 {
		t.Fatalf("only %d keys found in configs/ivrd.yaml: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !slices.Contains(keys, envName(p)) {
			t.Errorf("config key %s has no override %s (derived: %v)", p, envName(p), keys)
		}
	}
	samples := map[reflect.Type]string{
		reflect.TypeFor[string]():        "sample",
		reflect.TypeFor[time.Duration](): "7s",
		reflect.TypeFor[int]():           "7",
		reflect.TypeFor[int64]():         "7",
		reflect.TypeFor[bool]():          "true",
		reflect.TypeFor[[]string]():      "a, b",
	}
	for _, key := range keys {
		cfg := defaultConfig()
		var before any
		var typ reflect.Type
		walkConfig(reflect.ValueOf(&cfg).Elem(), envPrefix, func(k string, f reflect.Value) {
			if k == key {
				before, typ = f.Interface(), f.Type()
			}
		})
		sample, ok := samples[typ]
		if !ok {
			t.Errorf("%s: no sample for %s", key, typ)
			continue
		}
		if err := applyEnv(&cfg, func(k string) string {
			if k == key {
				return sample
			}
			return ""
		}); err != nil {
			t.Errorf("%s=%s: %v", key, sample, err)
			continue
		}
		var after any
		walkConfig(reflect.ValueOf(&cfg).Elem(), envPrefix, func(k string, f reflect.Value) {
			if k == key {
				after = f.Interface()
			}
		})
		if reflect.DeepEqual(before, after) {
			t.Errorf("%s=%s did not change the field (%v)", key, sample, after)
		}
	}
}

// Every FSIVR_* variable the README's ivrd sections name exists (other
// sections are other daemons').
func TestREADMEEnvOverridesExist(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var ivrd strings.Builder
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.Contains(line, "ivrd")
		}
		if in {
			ivrd.WriteString(line + "\n")
		}
	}
	names := regexp.MustCompile(`FSIVR_[A-Z][A-Z0-9_]*`).FindAllString(ivrd.String(), -1)
	if len(names) == 0 {
		t.Fatal("the README names no FSIVR_ variable")
	}
	keys := envKeys()
	for _, n := range names {
		if !slices.Contains(keys, n) {
			t.Errorf("README names %s, which is no override (have %v)", n, keys)
		}
	}
}

func TestBadConfigValuesRefusedAtStart(t *testing.T) {
	for key, val := range map[string]string{
		"FSIVR_LOG_LEVEL":      "verbose",
		"FSIVR_DRAIN_TIMEOUT":  "-5s",
		"FSIVR_REDIS_DB":       "99",
		"FSIVR_DRAIN_FALLBACK": "fifo_sales",
	} {
		_, err := loadConfig("../../configs/ivrd.yaml", func(k string) string {
			if k == key {
				return val
			}
			return ""
		})
		if !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s=%s accepted: %v", key, val, err)
		}
	}
	if _, err := loadConfig("../../configs/ivrd.yaml", func(string) string { return "" }); err != nil {
		t.Fatalf("shipped config refused: %v", err)
	}
}

// A password in a URL never reaches an error message.
func TestConfigErrorsRedactUserinfo(t *testing.T) {
	_, err := loadConfig("", func(k string) string {
		if k == "FSIVR_REDIS_DB" {
			return "http://ops:s3cret@crm.example/x"
		}
		return ""
	})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("env error shows the password: %v", err)
	}
	_, err = crm.New(crm.Config{BaseURL: "ftp://ops:s3cret@crm.example"}, nil, nil)
	if err == nil {
		t.Fatal("ftp base URL accepted")
	}
	if got := redactErr(err); strings.Contains(got.Error(), "s3cret") || !errors.Is(got, err) {
		t.Errorf("redacted error %q (unwraps: %v)", got, errors.Is(got, err))
	}
	if got := redactURLs(`dial "redis://u:pw@h:6379/0" and http://a@b/c`); got != `dial "redis://u:xxxxx@h:6379/0" and http://a@b/c` {
		t.Errorf("redactURLs = %q", got)
	}
}
