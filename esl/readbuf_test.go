package esl

import (
	"net"
	"testing"
	"time"
)

// TestIdleReaderHoldsNoBuffer: on a TCP connection the Reader gives its
// buffer back between messages and waits for the next one without it; a
// message that arrives in pieces still arms the stall deadline, and the
// idle wait after it is not cut by that deadline.
func TestIdleReaderHoldsNoBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

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
