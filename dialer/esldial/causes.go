package esldial

import "github.com/fsivr/fsivr/dialer"

// causeDispositions maps FreeSWITCH hangup causes (switch_channel_cause2str
// names, as in BACKGROUND_JOB's `-ERR <CAUSE>` and CHANNEL_HANGUP_COMPLETE's
// Hangup-Cause) of a call that was never answered to the dialer's
// dispositions.
var causeDispositions = map[string]dialer.Disposition{
	"USER_BUSY":                 dialer.Busy,
	"NO_ANSWER":                 dialer.NoAnswer, // originate_timeout ran out while ringing
	"NO_USER_RESPONSE":          dialer.NoAnswer, // the far end never answered the setup (SIP 408/480)
	"ALLOTTED_TIMEOUT":          dialer.NoAnswer,
	"CALL_REJECTED":             dialer.Rejected,
	"USER_NOT_REGISTERED":       dialer.InvalidNumber, // captured: bridge user/1001
	"UNALLOCATED_NUMBER":        dialer.InvalidNumber,
	"NO_ROUTE_DESTINATION":      dialer.InvalidNumber, // captured: loopback/nosuchext
	"INVALID_NUMBER_FORMAT":     dialer.InvalidNumber,
	"NUMBER_CHANGED":            dialer.InvalidNumber,
	"NO_ROUTE_TRANSIT_NET":      dialer.InvalidNumber,
	"INCOMPATIBLE_DESTINATION":  dialer.Failed,
	"NORMAL_TEMPORARY_FAILURE":  dialer.Failed,
	"RECOVERY_ON_TIMER_EXPIRE":  dialer.Failed,
	"NETWORK_OUT_OF_ORDER":      dialer.Failed,
	"NORMAL_CIRCUIT_CONGESTION": dialer.Congestion,
	"SWITCH_CONGESTION":         dialer.Congestion,
	// FreeSWITCH's own sessions-per-second throttle refuses an originate
	// with DESTINATION_OUT_OF_ORDER (captured load run: `Throttle Error!`),
	// and so does a trunk that is down: load, not the called party.
	"DESTINATION_OUT_OF_ORDER": dialer.Throttled,
	"SERVICE_UNAVAILABLE":      dialer.Throttled,
	"GATEWAY_DOWN":             dialer.Throttled,
	// We hung it up (uuid_kill while ringing, a cancelled campaign).
	"ORIGINATOR_CANCEL": dialer.Cancelled,
	"MANAGER_REQUEST":   dialer.Cancelled,
}

// causeDisposition is the disposition of an unanswered call that ended with
// cause; an unlisted cause is Failed (may be temporary).
func causeDisposition(cause string) dialer.Disposition {
	if d, ok := causeDispositions[cause]; ok {
		return d
	}
	return dialer.Failed
}
