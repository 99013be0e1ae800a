package callcenter

import (
	"strconv"
	"strings"
)

// DeviceState is the state of a phone device as pbxis names it. Asterisk
// reports it three ways (a hint's ExtensionStatus bit mask, a queue
// member's numeric Status, a DeviceStateChange's text); each is mapped to
// this one type so the model compares like with like.
type DeviceState uint8

// The device states. Their String is the pbxis status word.
const (
	DeviceUnknown DeviceState = iota
	DeviceNotInUse
	DeviceInUse
	DeviceBusy
	DeviceUnavailable
	DeviceRinging
	DeviceRingInUse
	DeviceOnHold
)

var deviceStateWords = [...]string{
	DeviceUnknown:     "unknown",
	DeviceNotInUse:    "not_inuse",
	DeviceInUse:       "inuse",
	DeviceBusy:        "busy",
	DeviceUnavailable: "unavailable",
	DeviceRinging:     "ringing",
	DeviceRingInUse:   "ringinuse",
	DeviceOnHold:      "onhold",
}

// String returns the pbxis word: not_inuse, inuse, busy, unavailable,
// ringing, ringinuse, onhold or unknown.
func (s DeviceState) String() string {
	if int(s) < len(deviceStateWords) {
		return deviceStateWords[s]
	}
	return "unknown"
}

// ExtensionStatus maps the Status of an ExtensionStatus event (a hint's
// aggregated state). Asterisk sends a bit mask (60_hints_extensionstatus):
// 0 Idle, 1 InUse, 2 Busy, 4 Unavailable, 8 Ringing, 9 InUse&Ringing,
// 16 Hold, and -1 Unknown for a missing extension or context. Combinations
// the capture does not show (17 InUse&Hold) take the strongest bit.
func ExtensionStatus(status string) DeviceState {
	n, err := strconv.Atoi(strings.TrimSpace(status))
	if err != nil || n < 0 {
		return DeviceUnknown
	}
	switch {
	case n == 0:
		return DeviceNotInUse
	case n&4 != 0:
		return DeviceUnavailable
	case n&2 != 0:
		return DeviceBusy
	case n&8 != 0 && n&1 != 0:
		return DeviceRingInUse
	case n&8 != 0:
		return DeviceRinging
	case n&16 != 0:
		return DeviceOnHold
	case n&1 != 0:
		return DeviceInUse
	}
	return DeviceUnknown
}

// MemberStatus maps the numeric Status of a queue member (QueueMember list
// items and every QueueMember* event; 61_queue_members_pause_add_remove
// drives a Custom StateInterface through each state): 0 UNKNOWN,
// 1 NOT_INUSE, 2 INUSE, 3 BUSY, 4 INVALID, 5 UNAVAILABLE, 6 RINGING,
// 7 RINGINUSE, 8 ONHOLD. INVALID is reported as unavailable: Asterisk never
// rings such a member (70_agent_pool_login_queue_call, `Agent/1001`).
func MemberStatus(status string) DeviceState {
	switch strings.TrimSpace(status) {
	case "1":
		return DeviceNotInUse
	case "2":
		return DeviceInUse
	case "3":
		return DeviceBusy
	case "4", "5":
		return DeviceUnavailable
	case "6":
		return DeviceRinging
	case "7":
		return DeviceRingInUse
	case "8":
		return DeviceOnHold
	}
	return DeviceUnknown
}

// DeviceStateText maps the State of a DeviceStateChange event and of the
// DeviceStateList items (60_hints_extensionstatus): NOT_INUSE, INUSE, BUSY,
// INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD (UNKNOWN otherwise).
func DeviceStateText(state string) DeviceState {
	switch strings.ToUpper(strings.TrimSpace(state)) {
	case "NOT_INUSE":
		return DeviceNotInUse
	case "INUSE":
		return DeviceInUse
	case "BUSY":
		return DeviceBusy
	case "INVALID", "UNAVAILABLE":
		return DeviceUnavailable
	case "RINGING":
		return DeviceRinging
	case "RINGINUSE":
		return DeviceRingInUse
	case "ONHOLD":
		return DeviceOnHold
	}
	return DeviceUnknown
}

// AgentOfInterface is the default way to name the agent behind a queue
// member's Interface or StateInterface: the extension between the
// technology and the context. `Local/510@agent/n` and `SIP/510` are agent
// 510; an app_agent_pool member `Local/1001@agentrequest/n` with
// `StateInterface: Agent:1001` (70) is agent 1001, and so is `Agent:1001`.
// It returns "" for what it cannot read.
func AgentOfInterface(iface string) string {
	s := iface
	if i := strings.IndexAny(s, "/:"); i >= 0 {
		s = s[i+1:]
	} else {
		return ""
	}
	if i := strings.IndexAny(s, "@/"); i >= 0 {
		s = s[:i]
	}
	return s
}

// deviceOfInterface is the device whose state a member's StateInterface
// follows: `Custom:agent500` is itself, `Local/510@agent/n` is
// `Local/510@agent` (the /n option is no part of the device).
func deviceOfInterface(iface string) string {
	return strings.TrimSuffix(iface, "/n")
}

// FollowedDevicePrefixes are the devices whose DeviceStateChange the model
// reads (and the server-side filter lets through): Custom: devices and
// app_agent_pool's Agent: devices, the StateInterfaces that say nothing
// through QueueMemberStatus during a call (71) and that no hint may cover.
// A real phone's state comes from its hint (ExtensionStatus) and from the
// QueueMemberStatus of the members following it.
var FollowedDevicePrefixes = []string{"Custom:", "Agent:"}

// FollowedDevice reports whether dev is one of FollowedDevicePrefixes.
func FollowedDevice(dev string) bool {
	for _, p := range FollowedDevicePrefixes {
		if strings.HasPrefix(dev, p) {
			return true
		}
	}
	return false
}
