package freeswitch

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type include struct {
	Contexts []context `xml:"context"`
}

type context struct {
	Name       string      `xml:"name,attr"`
	Extensions []extension `xml:"extension"`
}

type extension struct {
	Name       string      `xml:"name,attr"`
	Conditions []condition `xml:"condition"`
}

type condition struct {
	Field       string   `xml:"field,attr"`
	Expression  string   `xml:"expression,attr"`
	Actions     []action `xml:"action"`
	AntiActions []action `xml:"anti-action"`
}

type action struct {
	App  string `xml:"application,attr"`
	Data string `xml:"data,attr"`
}

func loadDialplan(t *testing.T) map[string]context {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("dialplan", "fsivr.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var inc include
	if err := xml.Unmarshal(b, &inc); err != nil {
		t.Fatalf("fsivr.xml: %v", err)
	}
	byName := map[string]context{}
	for _, c := range inc.Contexts {
		byName[c.Name] = c
	}
	return byName
}

// route returns the extension of ctx whose first destination_number
// condition matches dest, as FreeSWITCH's hunt would pick it.
func route(t *testing.T, ctx context, dest string) (extension, bool) {
	t.Helper()
	for _, ext := range ctx.Extensions {
		if len(ext.Conditions) == 0 || ext.Conditions[0].Field != "destination_number" {
			continue
		}
		re, err := regexp.Compile(ext.Conditions[0].Expression)
		if err != nil {
			t.Fatalf("extension %s: expression %q: %v", ext.Name, ext.Conditions[0].Expression, err)
		}
		if re.MatchString(dest) {
			return ext, true
		}
	}
	return extension{}, false
}

// Every entry point sets ivr_flow to an existing flow, hands the call to
// ivrd's outbound socket in async full mode, and has a fallback after it.
func TestEntryExtensions(t *testing.T) {
	plan := loadDialplan(t)
	entry, ok := plan["fsivr"]
	if !ok {
		t.Fatal("no fsivr context")
	}
	flowsSeen := map[string]bool{}
	for _, ext := range entry.Extensions {
		actions := ext.Conditions[0].Actions
		socketAt, flow := -1, ""
		for i, a := range actions {
			switch {
			case a.App == "set" && strings.HasPrefix(a.Data, "ivr_flow="):
				flow = strings.TrimPrefix(a.Data, "ivr_flow=")
			case a.App == "socket":
				if socketAt >= 0 {
					t.Errorf("%s: two socket actions", ext.Name)
				}
				socketAt = i
				if flow == "" {
					t.Errorf("%s: socket before ivr_flow is set", ext.Name)
				}
				if a.Data != "127.0.0.1:8084 async full" {
					t.Errorf("%s: socket data %q, want 127.0.0.1:8084 async full", ext.Name, a.Data)
				}
			}
		}
		if socketAt < 0 {
			t.Errorf("%s: no socket action", ext.Name)
			continue
		}
		last := actions[len(actions)-1]
		if socketAt == len(actions)-1 || (last.App != "transfer" && last.App != "hangup") {
			t.Errorf("%s: no fallback transfer/hangup after the socket action", ext.Name)
		}
		if last.App == "transfer" {
			target := strings.Fields(last.Data)
			if len(target) != 3 || target[1] != "XML" {
				t.Errorf("%s: fallback %q is not '<dest> XML <context>'", ext.Name, last.Data)
			} else if _, ok := route(t, plan[target[2]], target[0]); !ok {
				t.Errorf("%s: fallback %q goes nowhere in this file", ext.Name, last.Data)
			}
		}
		if _, err := os.Stat(filepath.Join("..", "..", "flows", flow+".yaml")); err != nil {
			t.Errorf("%s: ivr_flow=%s: %v", ext.Name, flow, err)
		}
		flowsSeen[flow] = true
	}
	for _, f := range []string{"sales", "notify"} {
		if !flowsSeen[f] {
			t.Errorf("no entry extension for flow %s", f)
		}
	}
}

// Every transfer the sales flow makes lands on an extension of this dialplan.
func TestSalesTransfersHaveTargets(t *testing.T) {
	plan := loadDialplan(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "flows", "sales.yaml"))
	if err != nil {
		t.Skipf("flows/sales.yaml: %v", err)
	}
	var flow struct {
		Nodes map[string]map[string]any `yaml:"nodes"`
	}
	if err := yaml.Unmarshal(b, &flow); err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\$\{[^}]*\}`)
	transfers := 0
	for id, node := range flow.Nodes {
		if node["kind"] != "transfer" {
			continue
		}
		transfers++
		dest, _ := node["dest"].(string)
		ctxName, _ := node["context"].(string)
		dest = vars.ReplaceAllString(dest, "1001") // a demo extension
		ctx, ok := plan[ctxName]
		if !ok {
			t.Errorf("node %s: context %q is not in fsivr.xml", id, ctxName)
			continue
		}
		if ext, ok := route(t, ctx, dest); !ok {
			t.Errorf("node %s: %s XML %s matches no extension", id, dest, ctxName)
		} else {
			t.Logf("node %s: %s XML %s -> extension %s", id, dest, ctxName, ext.Name)
		}
	}
	if transfers == 0 {
		t.Fatal("sales flow has no transfer nodes; the test read it wrongly")
	}
}

// Prompts the dialplan itself plays exist under sounds/.
func TestDialplanPromptsExist(t *testing.T) {
	for name, ctx := range loadDialplan(t) {
		for _, ext := range ctx.Extensions {
			for _, c := range ext.Conditions {
				for _, a := range append(c.Actions, c.AntiActions...) {
					if a.App == "playback" && !strings.Contains(a.Data, "://") {
						if _, err := os.Stat(filepath.Join("..", "..", "sounds", a.Data)); err != nil {
							t.Errorf("%s/%s plays %s: %v", name, ext.Name, a.Data, err)
						}
					}
				}
			}
		}
	}
}

func TestEventSocketConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("autoload_configs", "event_socket.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, p := range cfg.Params {
		params[p.Name] = p.Value
	}
	if cfg.Name != "event_socket.conf" {
		t.Errorf("configuration name %q", cfg.Name)
	}
	if params["listen-ip"] != "127.0.0.1" || params["listen-port"] != "8021" {
		t.Errorf("listens on %s:%s, want 127.0.0.1:8021", params["listen-ip"], params["listen-port"])
	}
	if params["password"] == "" || params["password"] == "ClueCon" {
		t.Errorf("password %q: must be set and not the default", params["password"])
	}
	if params["apply-inbound-acl"] == "" {
		t.Error("no apply-inbound-acl")
	}
}
