package callcenter

import (
	"encoding/json"
	"strconv"
)

// Type is the type of a digested event; the values are pbxis's names plus
// the stream's own (stale, resynced, snapshot).
type Type string

// The digested event types.
const (
	// TypeAgentName: the full name of an agent. Scope agent; Name.
	TypeAgentName Type = "agentName"
	// TypeExtensionStatus: the state of the agent's phone. Scope agent; Status.
	TypeExtensionStatus Type = "extensionStatus"
	// TypeQueueMemberStatus: the agent in one queue. Scope agent and queue;
	// Status is loggedoff, paused or a device state; a paused member also
	// carries PausedReason and PausedSince.
	TypeQueueMemberStatus Type = "queueMemberStatus"
	// TypePhoneNumber: the party patched through to the agent. Scope agent;
	// Number ("" = no call, sent as null), Name, CallQueue.
	TypePhoneNumber Type = "phoneNumber"
	// TypeQueueCount: callers waiting in a queue. Scope queue; Count.
	TypeQueueCount Type = "queueCount"
	// TypeAgentComplete: summary of a finished queue call. Scope agent;
	// UniqueID, TalkTime, HoldTime (seconds), Recording.
	TypeAgentComplete Type = "agentComplete"
	// TypeOriginateFailed: an originate-call request failed. No scope (pbxis);
	// the hub delivers it only to the subscriptions of the token that asked.
	TypeOriginateFailed Type = "originateFailed"
	// TypeStale: the AMI link is down; the state shown may be out of date.
	TypeStale Type = "stale"
	// TypeResynced: the state was rebuilt after a (re)connect; the events
	// just before it were the differences.
	TypeResynced Type = "resynced"
)

// Member statuses beyond the device states.
const (
	StatusLoggedOff = "loggedoff"
	StatusPaused    = "paused"
)

// Event is one digested event. Which fields are meaningful depends on
// Type (see the constants); MarshalJSON writes exactly those.
type Event struct {
	Type  Type
	Agent string // scope: agent (for the types that have it)
	Queue string // scope: queue (queueMemberStatus, queueCount)

	Name         string // agentName, phoneNumber
	Status       string // extensionStatus, queueMemberStatus
	PausedReason string // queueMemberStatus when paused
	PausedSince  int64  // queueMemberStatus when paused: Unix seconds (LastPause)
	Number       string // phoneNumber; "" means no call
	CallQueue    string // phoneNumber: the queue the call came through, if any
	Count        int    // queueCount
	UniqueID     string // agentComplete
	TalkTime     int    // agentComplete, seconds
	HoldTime     int    // agentComplete, seconds
	Recording    string // agentComplete; "" when the call was not recorded
	ActionID     string // originateFailed
	Reason       string // originateFailed (Asterisk's reason), stale (why)

	// Owner is the token name an originateFailed belongs to; never sent.
	Owner string
}

// HasAgentScope reports whether the event's type is scoped by agent.
func (e *Event) HasAgentScope() bool {
	switch e.Type {
	case TypeAgentName, TypeExtensionStatus, TypeQueueMemberStatus, TypePhoneNumber, TypeAgentComplete:
		return true
	}
	return false
}

// HasQueueScope reports whether the event's type is scoped by queue.
// phoneNumber names a queue as a detail but is scoped by agent only.
func (e *Event) HasQueueScope() bool {
	return e.Type == TypeQueueMemberStatus || e.Type == TypeQueueCount
}

// MarshalJSON writes {"type":…, scope properties, detail fields}.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.appendJSON(make([]byte, 0, 128)), nil
}

func appendStrJSON(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	q, _ := json.Marshal(v) // cannot fail for a string
	return append(b, q...)
}

func appendInt(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendJSON encodes the event by hand: it runs once per event for every
// fan-out, and the field set differs by type.
func (e *Event) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, string(e.Type))
	str := appendStrJSON
	if e.HasAgentScope() {
		b = str(b, "agent", e.Agent)
	}
	if e.HasQueueScope() {
		b = str(b, "queue", e.Queue)
	}
	switch e.Type {
	case TypeAgentName:
		b = str(b, "name", e.Name)
	case TypeExtensionStatus:
		b = str(b, "status", e.Status)
	case TypeQueueMemberStatus:
		b = str(b, "status", e.Status)
		if e.Status == StatusPaused {
			b = str(b, "pausedReason", e.PausedReason)
			b = appendInt(b, "pausedSince", e.PausedSince)
		}
	case TypePhoneNumber:
		if e.Number == "" {
			b = append(b, `,"number":null`...)
		} else {
			b = str(b, "number", e.Number)
			if e.Name != "" {
				b = str(b, "name", e.Name)
			}
			if e.CallQueue != "" {
				b = str(b, "queue", e.CallQueue)
			}
		}
	case TypeQueueCount:
		b = appendInt(b, "count", int64(e.Count))
	case TypeAgentComplete:
		b = str(b, "uniqueId", e.UniqueID)
		b = appendInt(b, "talkTime", int64(e.TalkTime))
		b = appendInt(b, "holdTime", int64(e.HoldTime))
		if e.Recording != "" {
			b = str(b, "recording", e.Recording)
		}
	case TypeOriginateFailed:
		b = str(b, "actionId", e.ActionID)
		if e.Reason != "" {
			b = str(b, "reason", e.Reason)
		}
	case TypeStale:
		if e.Reason != "" {
			b = str(b, "reason", e.Reason)
		}
	}
	return append(b, '}')
}

// factKey identifies a stateful event: a newer event with the same key
// replaces the older one in a snapshot.
type factKey struct {
	typ   Type
	agent string
	queue string
}

func (e *Event) key() factKey {
	k := factKey{typ: e.Type}
	if e.HasAgentScope() {
		k.agent = e.Agent
	}
	if e.HasQueueScope() {
		k.queue = e.Queue
	}
	return k
}

// isFact reports whether the event describes state (and so belongs in a
// snapshot) rather than something that happened once.
func (e *Event) isFact() bool {
	switch e.Type {
	case TypeAgentName, TypeExtensionStatus, TypeQueueMemberStatus, TypePhoneNumber, TypeQueueCount:
		return true
	}
	return false
}

// isAbsence reports whether a fact event says the thing is gone (a member
// logged off, no call), so a snapshot leaves it out.
func (e *Event) isAbsence() bool {
	return (e.Type == TypeQueueMemberStatus && e.Status == StatusLoggedOff) ||
		(e.Type == TypePhoneNumber && e.Number == "")
}
