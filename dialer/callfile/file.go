package callfile

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// File is one Asterisk call file (seed 004, "Syntax of call files"). Encode
// validates every value and writes the directives in the documented order.
type File struct {
	// Channel is the channel to call, e.g. "PJSIP/18882223333@trunk".
	Channel string
	// CallerIDName and CallerIDNumber become `CallerID: "name" <number>`,
	// the one format the seed says works.
	CallerIDName, CallerIDNumber string
	// MaxRetries is Asterisk's own retries after the first attempt (0 = one
	// attempt, the dialer's default: the dialer's policy owns retries).
	MaxRetries int
	// RetryTime is the time between Asterisk's retries (whole seconds;
	// 0 = Asterisk's default, 300 s).
	RetryTime time.Duration
	// WaitTime is how long to ring (whole seconds, rounded up; 0 =
	// Asterisk's default, 45 s).
	WaitTime time.Duration
	// Account is the CDR account code.
	Account string
	// Context/Extension/Priority is where the answered call goes; or
	// Application/Data runs one application. At least one is required.
	Context, Extension, Priority string
	Application, Data            string
	// Set are the channel variables (or dialplan functions such as
	// CDR(userfield)), written one `Set:` line each, in this order.
	Set [][2]string
	// AlwaysDelete and Archive are the yes/no directives; Archive: yes moves
	// the finished file to outgoing_done/ with its `Status:` line.
	AlwaysDelete, Archive bool
}

// ErrInvalid is wrapped by every error of Encode (and so of the Backend for
// a value it refuses). It wraps dialer.ErrInvalidValue.
var ErrInvalid = fmt.Errorf("callfile: invalid call file: %w", dialer.ErrInvalidValue)

// maxFileSize bounds an encoded file; Asterisk reads call files by line
// into fixed buffers and nothing legitimate comes close.
const maxFileSize = 16 << 10

// maxSets bounds the number of Set lines.
const maxSets = 64

// check is the value check of every directive: no control character (so no
// CR/LF can end the line and smuggle a second directive), no comma or pipe
// (application argument separators), bounded length. It is the dialer's own
// check so every backend refuses the same values.
//
// pbx_spool also strips comments before it reads a directive: the line
// ends at a ';' (unless escaped) and at a '#' that starts it or follows a
// blank. Such a value would reach Asterisk cut short, so it is refused.
func check(field, v string) error {
	if err := dialer.CheckValue(v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, field, err)
	}
	if strings.Contains(v, ";") || strings.HasPrefix(v, "#") || strings.Contains(v, " #") {
		return fmt.Errorf("%w: %s: %w: ';' or a '#' after a blank would start a call-file comment", ErrInvalid, field, dialer.ErrInvalidValue)
	}
	return nil
}

// Encode validates f and returns the call file's bytes.
func (f *File) Encode() ([]byte, error) {
	if f.Channel == "" {
		return nil, fmt.Errorf("%w: no Channel", ErrInvalid)
	}
	if f.Application == "" && f.Extension == "" {
		return nil, fmt.Errorf("%w: neither Application nor Extension (one is required)", ErrInvalid)
	}
	if f.Application == "" && f.Context == "" {
		return nil, fmt.Errorf("%w: Extension %q without Context", ErrInvalid, f.Extension)
	}
	if f.Data != "" && f.Application == "" {
		return nil, fmt.Errorf("%w: Data without Application", ErrInvalid)
	}
	if f.MaxRetries < 0 || f.MaxRetries > 100 {
		return nil, fmt.Errorf("%w: MaxRetries %d not in 0-100", ErrInvalid, f.MaxRetries)
	}
	if f.RetryTime < 0 || f.WaitTime < 0 {
		return nil, fmt.Errorf("%w: negative RetryTime or WaitTime", ErrInvalid)
	}
	if f.Priority != "" {
		if n, err := strconv.Atoi(f.Priority); (err != nil || n < 1) && !isLabel(f.Priority) {
			return nil, fmt.Errorf("%w: Priority %q", ErrInvalid, f.Priority)
		}
	}
	if err := checkCallerID(f.CallerIDName, f.CallerIDNumber); err != nil {
		return nil, err
	}
	for _, v := range []struct{ name, v string }{
		{"Channel", f.Channel}, {"Account", f.Account}, {"Context", f.Context}, {"Extension", f.Extension},
		{"Priority", f.Priority}, {"Application", f.Application}, {"Data", f.Data},
	} {
		if err := check(v.name, v.v); err != nil {
			return nil, err
		}
		if v.v != strings.TrimSpace(v.v) {
			// Asterisk trims values: a padded one would not be what we sent.
			return nil, fmt.Errorf("%w: %s %q has leading or trailing blanks", ErrInvalid, v.name, v.v)
		}
	}
	if len(f.Set) > maxSets {
		return nil, fmt.Errorf("%w: %d Set lines, at most %d", ErrInvalid, len(f.Set), maxSets)
	}
	for _, kv := range f.Set {
		if err := checkSetName(kv[0]); err != nil {
			return nil, err
		}
		if err := check("Set "+kv[0], kv[1]); err != nil {
			return nil, err
		}
	}

	var b bytes.Buffer
	line := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	line("Channel", f.Channel)
	if f.CallerIDNumber != "" || f.CallerIDName != "" {
		line("CallerID", `"`+f.CallerIDName+`" <`+f.CallerIDNumber+`>`)
	}
	line("MaxRetries", strconv.Itoa(f.MaxRetries))
	if f.RetryTime > 0 {
		line("RetryTime", strconv.Itoa(seconds(f.RetryTime)))
	}
	if f.WaitTime > 0 {
		line("WaitTime", strconv.Itoa(seconds(f.WaitTime)))
	}
	line("Account", f.Account)
	if f.Application != "" {
		line("Application", f.Application)
		line("Data", f.Data)
	}
	if f.Extension != "" {
		line("Context", f.Context)
		line("Extension", f.Extension)
		p := f.Priority
		if p == "" {
			p = "1"
		}
		line("Priority", p)
	}
	for _, kv := range f.Set {
		b.WriteString("Set: " + kv[0] + "=" + kv[1] + "\n")
	}
	if f.AlwaysDelete {
		line("AlwaysDelete", "yes")
	}
	if f.Archive {
		line("Archive", "yes")
	}
	if b.Len() > maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalid, b.Len(), maxFileSize)
	}
	return b.Bytes(), nil
}

// seconds rounds d up to whole seconds (a 1.5 s ring is 2 s, never 1).
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func isLabel(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

// checkSetName accepts a variable name (with Asterisk's _ / __ inheritance
// prefixes) or a dialplan function such as CDR(userfield).
func checkSetName(k string) error {
	name := k
	if i := strings.IndexByte(k, '('); i > 0 && strings.HasSuffix(k, ")") {
		name = k[:i]
		if !isLabel(k[i+1:len(k)-1]) || strings.ToUpper(name) != name {
			return fmt.Errorf("%w: Set name %q", ErrInvalid, k)
		}
	}
	if err := dialer.CheckName(name); err != nil {
		return fmt.Errorf("%w: Set name %q: %w", ErrInvalid, k, err)
	}
	return nil
}

// checkCallerID refuses what would break `"name" <number>`.
func checkCallerID(name, number string) error {
	if err := check("CallerID name", name); err != nil {
		return err
	}
	if strings.ContainsAny(name, `"<>\`) {
		return fmt.Errorf("%w: CallerID name %q contains a quote, bracket or backslash", ErrInvalid, name)
	}
	if len(number) > 32 {
		return fmt.Errorf("%w: CallerID number %q longer than 32", ErrInvalid, number)
	}
	for _, r := range number {
		if !(r >= '0' && r <= '9' || r == '+' || r == '*' || r == '#') {
			return fmt.Errorf("%w: CallerID number %q: digits, +, * and # only", ErrInvalid, number)
		}
	}
	if name != "" && number == "" {
		return fmt.Errorf("%w: CallerID name without a number", ErrInvalid)
	}
	return nil
}

// ParseCallerID splits a campaign's caller id, `"name" <number>`, `name
// <number>` or a bare number, into its parts.
func ParseCallerID(s string) (name, number string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", nil
	}
	lt := strings.LastIndexByte(s, '<')
	if lt < 0 {
		return "", s, checkCallerID("", s)
	}
	if !strings.HasSuffix(s, ">") {
		return "", "", fmt.Errorf("%w: CallerID %q", ErrInvalid, s)
	}
	number = s[lt+1 : len(s)-1]
	name = strings.TrimSpace(s[:lt])
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = name[1 : len(name)-1]
	}
	return name, number, checkCallerID(name, number)
}

// Status is the `Status:` line pbx_spool appends to an archived file.
type Status string

// The statuses (captures: callfiles/*.outgoing_done).
const (
	// Completed: the call was answered.
	Completed Status = "Completed"
	// Expired: every attempt failed (busy, no answer, no such extension).
	Expired Status = "Expired"
	// Failed: the file was unreadable or invalid.
	Failed Status = "Failed"
)

// ErrNoStatus is returned by ReadStatus for a file without a Status line
// (still being written, or not archived by pbx_spool).
var ErrNoStatus = errors.New("callfile: no Status line")

// ReadStatus returns the last `Status:` of an archived call file and the
// number of attempts pbx_spool made (its StartRetry lines).
func ReadStatus(b []byte) (st Status, attempts int, err error) {
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "status":
			st = Status(strings.TrimSpace(v))
		case "startretry":
			attempts++
		}
	}
	switch st {
	case Completed, Expired, Failed:
		return st, attempts, nil
	case "":
		return "", attempts, ErrNoStatus
	}
	return st, attempts, fmt.Errorf("callfile: unknown Status %q", st)
}
