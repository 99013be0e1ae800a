package flows

// Hangup hangs up with Cause (default NORMAL_CLEARING); -> StateEnd.
type Hangup struct {
	Cause string
}

func (c *compiler) hangup(nf *fields, n *Node) {
	n.Hangup = &Hangup{Cause: nf.str("cause", false, DefaultHangupCause)}
	if !isCause(n.Hangup.Cause) {
		nf.errf(nf.lineOf("cause"), "cause %q is not a FreeSWITCH hangup cause such as NORMAL_CLEARING", n.Hangup.Cause)
	}
	c.terminal(nf, n)
}
