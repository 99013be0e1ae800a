package dialer

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Clock is the engine's time source, injectable for tests (calling windows
// on a chosen date; with testing/synctest the waits cost no real time).
type Clock interface {
	Now() time.Time
	// After delivers on the channel once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// OffsetClock runs at the speed of the time package but starts at Base:
// inside a testing/synctest bubble (whose clock starts in 2000) it puts the
// test on a chosen date and time while the waits stay instantaneous.
type OffsetClock struct {
	offset time.Duration
}

// NewOffsetClock returns a clock that reads base now.
func NewOffsetClock(base time.Time) *OffsetClock {
	return &OffsetClock{offset: time.Until(base)}
}

// Now implements Clock.
func (c *OffsetClock) Now() time.Time { return time.Now().Add(c.offset) }

// After implements Clock.
func (c *OffsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewID returns a random RFC 4122 version 4 UUID: an attempt id that a
// backend can carry as AMI ChannelId or FreeSWITCH origination_uuid.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics on a broken OS source)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
