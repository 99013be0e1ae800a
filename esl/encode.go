package esl

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// longArgThreshold is the app argument length above which sendmsg carries
// the argument as a text/plain body instead of an execute-app-arg header.
const longArgThreshold = 1024

// ValidateValue reports whether s can be put into an ESL header or command
// line: a CR or LF would end the line and let the rest be read as further
// headers or commands, and FreeSWITCH keeps them as C strings, so a NUL
// would cut the value short; such values give ErrInvalidValue.
func ValidateValue(s string) error {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w: CR/LF or NUL in %.60q", ErrInvalidValue, s)
	}
	return nil
}

func validateAll(vals ...string) error {
	for _, v := range vals {
		if err := ValidateValue(v); err != nil {
			return err
		}
	}
	return nil
}

// appendSendmsg encodes an execute sendmsg. Callers validate first.
func appendSendmsg(dst []byte, app, arg, eventUUID string, lock bool) []byte {
	dst = append(dst, "sendmsg\ncall-command: execute\nexecute-app-name: "...)
	dst = append(dst, app...)
	long := len(arg) > longArgThreshold
	if arg != "" && !long {
		dst = append(dst, "\nexecute-app-arg: "...)
		dst = append(dst, arg...)
	}
	if lock {
		dst = append(dst, "\nevent-lock: true"...)
	}
	dst = append(dst, "\nEvent-UUID: "...)
	dst = append(dst, eventUUID...)
	if long {
		dst = append(dst, "\ncontent-type: text/plain\ncontent-length: "...)
		dst = strconv.AppendInt(dst, int64(len(arg)), 10)
		dst = append(dst, "\n\n"...)
		return append(dst, arg...)
	}
	return append(dst, "\n\n"...)
}

// appendCommand encodes a command line with optional headers (name, value
// pairs). Callers validate first.
func appendCommand(dst []byte, cmd string, headers ...string) []byte {
	dst = append(dst, cmd...)
	for i := 0; i+1 < len(headers); i += 2 {
		dst = append(dst, '\n')
		dst = append(dst, headers[i]...)
		dst = append(dst, ": "...)
		dst = append(dst, headers[i+1]...)
	}
	return append(dst, "\n\n"...)
}

// NewUUID returns a random (version 4) UUID in canonical text form, as used
// for Event-UUID and Job-UUID.
func NewUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (it panics instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
