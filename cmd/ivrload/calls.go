package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsivr/fsivr/esl/esltest"
)

// The caller ids the fake CRM knows: 5551000..5551999, each with extension
// 1000..1999. Other callers get a 404.
const (
	crmCallerBase = 5551000
	crmCallers    = 1000
)

func crmAnswers() map[string]string {
	m := make(map[string]string, crmCallers)
	for i := range crmCallers {
		m[strconv.Itoa(crmCallerBase+i)] = strconv.Itoa(1000 + i)
	}
	return m
}

// kinds of calls through the sales flow, each a caller behaviour.
var kindNames = []string{"hst", "crm", "busy", "extn", "queue", "invalid", "hangup"}

const kindHelp = `call kinds (through flows/sales.yaml, during opening hours):
  hst      menu 1: transfer to fifo_hst; the caller hangs up -talk later
  crm      CRM caller, menu 2: prompt, bridge to the CRM extension, answered for -talk
  busy     CRM caller, menu 2: bridge fails USER_BUSY, CC menu 2: voicemail transfer
  extn     menu 5, extension 601: bridge answered for -talk
  queue    caller unknown to the CRM, menu 3: transfer to fifo_sales
  invalid  silence, 9, 0: three failed tries, bad-input prompt, hangup by the IVR
  hangup   the caller hangs up in the middle of the main menu`

// mix is a weighted choice of call kinds.
type mix struct {
	kinds   []string
	cumul   []int
	total   int
	weights map[string]int
}

func parseMix(s string) (mix, error) {
	m := mix{weights: map[string]int{}}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		w, err := strconv.Atoi(v)
		if !ok || err != nil || w < 0 {
			return m, fmt.Errorf("mix %q: want kind=weight", part)
		}
		if !slices.Contains(kindNames, k) {
			return m, fmt.Errorf("mix: unknown call kind %q (known: %s)", k, strings.Join(kindNames, ", "))
		}
		if w == 0 {
			continue
		}
		m.total += w
		m.kinds = append(m.kinds, k)
		m.cumul = append(m.cumul, m.total)
		m.weights[k] = w
	}
	if m.total == 0 {
		return m, fmt.Errorf("mix %q: no call kind with a weight", s)
	}
	return m, nil
}

func (m mix) pick(r *rand.Rand) string {
	n := r.IntN(m.total)
	i, _ := slices.BinarySearch(m.cumul, n+1)
	return m.kinds[i]
}

// script builds the fake channel's behaviour for one call of kind k. Kinds
// that end in a transfer need no hangup here: after any transfer FreeSWITCH
// would carry the call on in the dialplan, so the driver's caller hangs up
// -talk later (driver.observe).
func script(k string, r *rand.Rand, playback, talk time.Duration) esltest.Script {
	crmCaller := strconv.Itoa(crmCallerBase + r.IntN(crmCallers))
	other := strconv.Itoa(5552000000 + r.IntN(1000000))
	s := esltest.Script{CallerIDNumber: other, DestinationNumber: "5000", PlaybackDuration: playback}
	switch k {
	case "hst":
		s.Digits = []string{"1"}
		return s
	case "crm":
		s.CallerIDNumber = crmCaller
		s.Digits = []string{"2"}
		s.Bridges = []esltest.BridgeOutcome{{Answer: true, TalkTime: talk}}
	case "busy":
		s.CallerIDNumber = crmCaller
		s.Digits = []string{"2", "2"}
		s.Bridges = []esltest.BridgeOutcome{{Cause: "USER_BUSY"}}
		return s
	case "extn":
		s.Digits = []string{"5", "601"}
		s.Bridges = []esltest.BridgeOutcome{{Answer: true, TalkTime: talk}}
	case "queue":
		s.Digits = []string{"3"}
		return s
	case "invalid":
		s.Digits = []string{"", "9", "0"}
	case "hangup":
		s.Digits = []string{"1"}
		s.HangupAt = &esltest.HangupPoint{App: "play_and_get_digits", Delay: playback / 2}
	}
	return s
}
