package flows

import (
	"strings"
)

// Bridge plays Prompt (optional), sets ringback/continue_on_fail/
// hangup_after_bridge on the channel, then bridges to Dial. The failure
// disposition is available to later nodes as ${bridge.disposition}.
type Bridge struct {
	Prompt            *Template
	Dial              Template
	Ringback          string
	ContinueOnFail    bool
	HangupAfterBridge bool
}

func (c *compiler) bridge(nf *fields, n *Node) {
	b := &Bridge{}
	n.Bridge = b
	if nf.has("prompt") {
		if t, ok := c.promptField(nf, "prompt", false); ok {
			b.Prompt = &t
		}
	}
	c.fallbackPrompt(nf, n)
	if t, ok := c.template(nf, "dial", true); ok {
		if strings.ContainsAny(t.Raw, " \t") {
			nf.errf(nf.lineOf("dial"), "dial %q must not contain spaces", t.Raw)
		}
		b.Dial = t
	}
	// ringback is a FreeSWITCH value (e.g. ${us-ring}, expanded by
	// FreeSWITCH), passed through verbatim: not one of our templates.
	b.Ringback = nf.str("ringback", false, "")
	if strings.ContainsAny(b.Ringback, " \t") {
		nf.errf(nf.lineOf("ringback"), "ringback %q must not contain spaces", b.Ringback)
	}
	b.ContinueOnFail = nf.boolean("continue_on_fail", true)
	b.HangupAfterBridge = nf.boolean("hangup_after_bridge", true)
	if nf.has("next") || !b.HangupAfterBridge {
		c.target(nf, n, "next", OutcomeDone, true)
	} else {
		// After a successful bridge the call hangs up (hangup_after_bridge).
		c.edge(n, nf.line, "next", OutcomeDone, StateEnd)
	}
	if b.ContinueOnFail {
		c.target(nf, n, "on_fail", OutcomeFailed, true)
	} else if nf.has("on_fail") {
		nf.errf(nf.lineOf("on_fail"), "on_fail is never taken with continue_on_fail: false (FreeSWITCH hangs up a failed bridge)")
	}
}

func bridgePrompts(n *Node) []Template {
	if n.Bridge.Prompt == nil {
		return nil
	}
	return []Template{*n.Bridge.Prompt}
}
