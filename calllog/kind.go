package calllog

// Kind is the kind of a call-log entry (the stream's "kind" field). The IVR
// runtime writes only the kinds declared below, so a name taken from a flow
// file (a prefetch called "hangup") can never become an entry kind and change
// what the summary records. Consumers must accept kinds they do not know
// (skip them): new kinds are added without a schema version bump.
type Kind string

// Entry kinds written by the IVR runtime.
const (
	KindCallStart Kind = "call_start" // the call reached the IVR (caller, called, channel)
	KindAnswer    Kind = "answer"     // CHANNEL_ANSWER
	KindNode      Kind = "node"       // a node was entered (value: its log label)
	KindDTMF      Kind = "dtmf"       // one DTMF digit (value: the digit)
	KindMenu      Kind = "menu"       // a menu or collect completed (value: the digits)
	KindCRM       Kind = "crm"        // a crm prefetch answered, failed or came late
	KindTimeRule  Kind = "time_rule"  // a time node routed (value: rule, default or override)
	KindBridge    Kind = "bridge"     // a bridge was tried, bridged, completed or failed
	KindTransfer  Kind = "transfer"   // the call was transferred (by the flow or an override)
	KindFIFO      Kind = "fifo"       // a mod_fifo event about the call
	KindHangup    Kind = "hangup"     // the call ended: cause, path, outcome (once per call)
	KindError     Kind = "error"      // an internal error or a refused value
)

// Kinds lists every declared kind, in the order of the declarations.
func Kinds() []Kind {
	return []Kind{
		KindCallStart, KindAnswer, KindNode, KindDTMF, KindMenu, KindCRM,
		KindTimeRule, KindBridge, KindTransfer, KindFIFO, KindHangup, KindError,
	}
}

// Declared reports whether k is one of the kinds declared by this package.
func (k Kind) Declared() bool {
	switch k {
	case KindCallStart, KindAnswer, KindNode, KindDTMF, KindMenu, KindCRM,
		KindTimeRule, KindBridge, KindTransfer, KindFIFO, KindHangup, KindError:
		return true
	}
	return false
}
