package esl

import (
	"testing"
	"time"
)

// TestIdleReaderHoldsNoBuffer: on a TCP connection the Reader gives its
// buffer back between messages and waits for the next one without it; a
// message that arrives in pieces still arms the stall deadline, and the
// idle wait after it is not cut by that deadline.
func TestIdleReaderHoldsNoBuffer(t *testing.T) {
	peer, nc := tcpPair(t)

	const stall = 200 * time.Millisecond
	c := newConn(nc, newConnReader(nc, Config{StallTimeout: stall}.withDefaults()), Config{StallTimeout: stall}.withDefaults())
	rd := c.rd
	if rd.idle == nil {
		t.Fatal("a TCP connection's Reader has no idle source")
	}
	c.cfg.StallTimeout = stall
	c.start() // arms the stall guard; the reader goroutine reads
	defer c.Close()

	event := "Content-Length: 41\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\nUnique-ID: u1\nSeq: 1\n\n"
	event = fixLen(event)
	send := func(s string) {
		t.Helper()
		if _, err := peer.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(n int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for c.Stats().EventsQueued < uint64(n) {
			select {
			case <-c.Notify():
			case <-c.Done():
				t.Fatalf("connection ended: %v", c.Err())
			case <-deadline:
				t.Fatalf("%d events queued, want %d", c.Stats().EventsQueued, n)
			}
		}
	}
	send(event)
	wait(1)
	send(event[:20]) // a message in two pieces: the stall deadline is armed
	time.Sleep(20 * time.Millisecond)
	send(event[20:])
	wait(2)
	time.Sleep(2 * stall) // idle longer than the stall bound: not cut
	send(event)
	wait(3)
	if err := c.Err(); err != nil {
		t.Fatalf("connection ended: %v", err)
	}
	c.Close() // stops the reader; its fields are ours to read now
	if rd.buf != nil {
		t.Fatalf("idle Reader holds a %d-byte buffer", len(rd.buf))
	}
}

// TestIdleReaderTakesBurstInOneRead: events queued on the socket together
// (FreeSWITCH sends EXECUTE, ANSWER and EXECUTE_COMPLETE back to back) are
// taken by one read, not one read per event: after the first message the
// rest of the burst is already buffered.
func TestIdleReaderTakesBurstInOneRead(t *testing.T) {
	peer, nc := tcpPair(t)
	rd := newConnReader(nc, Config{}.withDefaults())
	if rd.idle == nil {
		t.Fatal("a TCP connection's Reader has no idle source")
	}
	// The first messages of a real session, as many as fit in a pooled
	// buffer: more than the old 4 KiB buffer held.
	var burst []byte
	var msgs []*Message
	for _, m := range readAll(t, readFixture(t, "s1_outbound_full.rx.bin")) {
		if len(burst)+len(m.Raw()) > idleReadBuf {
			break
		}
		burst = append(burst, m.Raw()...)
		msgs = append(msgs, m)
	}
	if len(burst) <= minReadBuf || len(msgs) < 3 {
		t.Fatalf("burst of %d bytes, %d messages: want over %d bytes", len(burst), len(msgs), minReadBuf)
	}
	if _, err := peer.Write(burst); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the whole burst reach the socket
	if _, err := rd.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if want := len(burst) - len(msgs[0].Raw()); rd.Buffered() != want {
		t.Fatalf("after the first message %d bytes buffered, want the rest of the burst (%d)", rd.Buffered(), want)
	}
}

// Taking a pooled read buffer and giving it back allocates nothing (a
// *[]byte in the pool cost an allocation per idle wait of every call).
func TestReadBufPoolDoesNotAllocate(t *testing.T) {
	putReadBuf(getReadBuf())
	if n := testing.AllocsPerRun(1000, func() { putReadBuf(getReadBuf()) }); n != 0 {
		t.Errorf("get+put of a pooled read buffer: %.1f allocations, want 0", n)
	}
}
