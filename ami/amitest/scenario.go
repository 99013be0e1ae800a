package amitest

import (
	"bufio"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// The Originate event streams, generated from the single-call captures by
// scenarios/gen.py (values that vary per call are ${NAME} placeholders).
//
//go:embed scenarios/*.txt
var scenarioFiles embed.FS

// item is one step of a scenario: a message, a wait, the place of a sync
// reply, or a VarSet repeated per Originate variable.
type item struct {
	wait    string // "ring" or "talk" for a wait step
	reply   bool   // the next message is OriginateResponse
	vars    string // CHAN1, CHAN2 or FAILED: repeat this VarSet per variable
	headers []Header
}

// scenario is a captured call: its steps, and for a call that dials a
// second Local pair (click-to-call, 67_*) the name pattern of that pair.
type scenario struct {
	items []item
	legs  string // e.g. Local/${EXTEN}@customer; "" for one pair
}

var (
	loadOnce  sync.Once
	scenarios map[string]scenario
	orders    map[string][]Order
	loadErr   error
)

func loadScenarios() {
	scenarios = map[string]scenario{}
	orders = map[string][]Order{}
	ents, err := scenarioFiles.ReadDir("scenarios")
	if err != nil {
		loadErr = err
		return
	}
	for _, e := range ents {
		b, err := scenarioFiles.ReadFile("scenarios/" + e.Name())
		if err != nil {
			loadErr = err
			return
		}
		name := strings.TrimSuffix(e.Name(), ".txt")
		if name == "orders" {
			parseOrders(string(b))
			continue
		}
		sc, err := parseScenario(string(b))
		if err != nil {
			loadErr = fmt.Errorf("amitest: scenario %s: %w", name, err)
			return
		}
		scenarios[name] = sc
	}
}

func parseScenario(text string) (scenario, error) {
	var sc scenario
	var cur []Header
	var pendingVars string
	pendingReply := false
	flush := func() {
		if len(cur) > 0 {
			sc.items = append(sc.items, item{headers: cur, vars: pendingVars, reply: pendingReply})
			cur, pendingVars, pendingReply = nil, "", false
		}
	}
	sr := bufio.NewScanner(strings.NewReader(text))
	sr.Buffer(make([]byte, 64<<10), 1<<20)
	for sr.Scan() {
		line := sr.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			flush()
		case strings.HasPrefix(line, "@wait "):
			flush()
			sc.items = append(sc.items, item{wait: strings.TrimPrefix(line, "@wait ")})
		case strings.HasPrefix(line, "@legs "):
			sc.legs = strings.TrimPrefix(line, "@legs ")
		case line == "@reply":
			flush()
			pendingReply = true
		case strings.HasPrefix(line, "@vars "):
			flush()
			pendingVars = strings.TrimPrefix(line, "@vars ")
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				k, ok = strings.CutSuffix(line, ":")
				if !ok {
					return scenario{}, fmt.Errorf("bad line %q", line)
				}
			}
			cur = append(cur, Header{k, v})
		}
	}
	flush()
	return sc, sr.Err()
}

func parseOrders(text string) {
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		orders[f[0]] = append(orders[f[0]], ParseOrder(f[2]))
	}
}

func scenarioFor(out Outcome, app bool) (scenario, error) {
	loadOnce.Do(loadScenarios)
	if loadErr != nil {
		return scenario{}, loadErr
	}
	name := out.Kind.String()
	switch {
	case out.Script != "":
		name = out.Script
	case out.Kind == Answered && app:
		name = "answer-app"
	}
	sc, ok := scenarios[name]
	if !ok {
		return scenario{}, fmt.Errorf("amitest: no scenario for %s", name)
	}
	return sc, nil
}

func observedOrders(k OutcomeKind) []Order {
	loadOnce.Do(loadScenarios)
	var out []Order
	for _, o := range orders[k.String()] {
		out = append(out, append(Order(nil), o...))
	}
	return out
}
