package esl

import (
	"context"
	"strings"
	"testing"
	"unsafe"
)

// TestCompactChannelData: the connect reply kept for the call's life is
// the variables and caller profile of the real reply, same values, at
// less than half its size; the bookkeeping headers read as absent.
func TestCompactChannelData(t *testing.T) {
	full := readAll(t, readFixture(t, "s1_outbound_full.rx.bin"))[0]
	full.format = FormatChannelData
	cd := compactChannelData(full)
	if cd == full {
		t.Fatal("connect reply not compacted")
	}
	if cd.Kind() != KindCommandReply || cd.Format() != FormatChannelData || cd.ReplyText() != full.ReplyText() {
		t.Fatalf("compact reply: kind %v format %v reply %q", cd.Kind(), cd.Format(), cd.ReplyText())
	}
	if len(cd.buf)*2 > len(full.buf) {
		t.Fatalf("compact channel data holds %d bytes, the reply %d: want under half", len(cd.buf), len(full.buf))
	}
	kept, dropped := 0, 0
	for name, v := range full.EventHeaders() {
		got, ok := cd.Lookup(name)
		switch keep := keepChannelHeader([]byte(name)); {
		case keep && (!ok || got != v):
			t.Errorf("%s = %q, %v; reply has %q", name, got, ok, v)
		case !keep && ok:
			t.Errorf("%s kept (%q)", name, got)
		case keep:
			kept++
		default:
			dropped++
		}
	}
	for _, name := range []string{"Unique-ID", "Channel-Name", "Caller-Caller-ID-Number", "Caller-Destination-Number",
		"Caller-Context", "Caller-Caller-ID-Name", "Channel-Destination-Number", "variable_ivr_flow"} {
		if !keepChannelHeader([]byte(name)) {
			t.Errorf("%s, which ivr reads, is dropped", name)
		}
	}
	if strings.Contains(string(cd.Raw()), "Event-Date-Local") || kept < 40 || dropped < 20 {
		t.Fatalf("kept %d, dropped %d headers", kept, dropped)
	}
	t.Logf("kept %d headers in %d bytes, dropped %d (the reply held %d bytes)", kept, len(cd.buf), dropped, len(full.buf))
}

// Issue 14 item 3: the call's id is a string of the compacted channel data,
// not of the whole connect reply, which it would otherwise pin for the
// call's life (it did: 9.6 KiB per held call).
func TestUUIDDoesNotPinConnectReply(t *testing.T) {
	rp := newReplayPeer(t, "s2_outbound_caller_hangup_linger")
	inside := make(chan bool, 1)
	srv := NewServer(func(ctx context.Context, c *OutboundConn) {
		buf := c.ChannelData().buf
		p := uintptr(unsafe.Pointer(unsafe.StringData(c.UUID())))
		start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		inside <- c.UUID() != "" && p >= start && p < start+uintptr(len(buf))
		_, _ = c.Execute(ctx, "answer", "")
	})
	runOutbound(t, srv, rp.serve)
	if !<-inside {
		t.Error("UUID() is not a string of the compacted channel data")
	}
}
