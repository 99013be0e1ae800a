package esl

// Hot headers: the few event headers read from nearly every plain event
// (the connection layer routes by Unique-ID, Event-Name and
// Application-UUID; the flow engine reads Application and its Response;
// the inner body needs Content-Length). Indexing remembers the slot of the
// first occurrence of each, so looking one up costs a few compares instead
// of a scan over every header: Application-UUID is the last of the 86
// headers of a CHANNEL_EXECUTE_COMPLETE, and that one scan was 28 % of a
// parse.
const (
	hotContentLength = iota
	hotEventName
	hotEventSubclass
	hotUniqueID
	hotJobUUID
	hotApplication
	hotApplicationUUID
	hotApplicationData
	hotApplicationResponse
	hotHangupCause
	numHot
)

// hotNames are the canonical spellings, by hot index.
var hotNames = [numHot]string{
	hotContentLength:       "Content-Length",
	hotEventName:           "Event-Name",
	hotEventSubclass:       "Event-Subclass",
	hotUniqueID:            "Unique-ID",
	hotJobUUID:             "Job-UUID",
	hotApplication:         "Application",
	hotApplicationUUID:     "Application-UUID",
	hotApplicationData:     "Application-Data",
	hotApplicationResponse: "Application-Response",
	hotHangupCause:         "Hangup-Cause",
}

// Values of Message.hot entries other than slot+1.
const (
	hotAbsent   = 0      // no such header among the event headers
	hotOverflow = 0xFFFF // present at a slot too far for uint16: scan
)

// Lowercase first eight bytes of the hot names, as little-endian words
// (TestHotPrefixes checks them against hotNames): one switch per line
// tells whether a line may start a hot header (every hot name is at least
// eight bytes long).
const (
	prefixContent = 0x2d746e65746e6f63 // "content-"
	prefixEventNa = 0x616e2d746e657665 // "event-na"
	prefixEventSu = 0x75732d746e657665 // "event-su"
	prefixUniqueI = 0x692d657571696e75 // "unique-i"
	prefixJobUUID = 0x646975752d626f6a // "job-uuid"
	prefixApplica = 0x746163696c707061 // "applicat"
	prefixHangupC = 0x632d7075676e6168 // "hangup-c"
)

// foldWord ORs 0x20 into every byte: ASCII letters become lowercase (other
// bytes may change too, so a match is only a candidate, checked in full).
const foldWord = 0x2020202020202020

// hotPrefixes is the folded first word of each hot name.
var hotPrefixes = [numHot]uint64{
	hotContentLength:       prefixContent,
	hotEventName:           prefixEventNa,
	hotEventSubclass:       prefixEventSu,
	hotUniqueID:            prefixUniqueI,
	hotJobUUID:             prefixJobUUID,
	hotApplication:         prefixApplica,
	hotApplicationUUID:     prefixApplica,
	hotApplicationData:     prefixApplica,
	hotApplicationResponse: prefixApplica,
	hotHangupCause:         prefixHangupC,
}

// hotKey maps a looked-up name to its hot index (names match
// case-insensitively, as in every lookup), or -1.
func hotKey(name string) int {
	var k int
	switch len(name) {
	case 8:
		k = hotJobUUID
	case 9:
		k = hotUniqueID
	case 10:
		k = hotEventName
	case 11:
		k = hotApplication
	case 12:
		k = hotHangupCause
	case 14:
		k = hotContentLength
		if lowerASCII(name[0]) == 'e' {
			k = hotEventSubclass
		}
	case 16:
		k = hotApplicationUUID
		if lowerASCII(name[12]) == 'd' {
			k = hotApplicationData
		}
	case 20:
		k = hotApplicationResponse
	default:
		return -1
	}
	if c := hotNames[k]; name != c && !equalFoldStrings(name, c) {
		return -1
	}
	return k
}

// findHot answers a lookup of hot header k among the event headers of a
// plain event. ok is false when the index cannot tell (scan instead).
func (m *Message) findHot(k int) (vs, ve uint32, found, ok bool) {
	switch h := m.hot[k]; h {
	case hotAbsent:
		return 0, 0, false, true
	case hotOverflow:
		return 0, 0, false, false
	default:
		ls, le := m.slot(uint32(h) - 1)
		vs, ve := lineValue(m.buf, ls+uint32(len(hotNames[k])), le)
		return vs, ve, true, true
	}
}

func equalFoldStrings(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}
