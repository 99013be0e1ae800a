package esltest

import (
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// nextDigits consumes the next scripted DTMF entry ("" = silence).
func (s *session) nextDigits() string {
	if s.digitIdx >= len(s.script.Digits) {
		return ""
	}
	d := s.script.Digits[s.digitIdx]
	s.digitIdx++
	return d
}

// pressDuring reports digits pressed now (Call.SendDTMF, uuid_send_dtmf,
// Script.PlaybackDigits) and lets the running app take them.
func (s *session) pressDuring(digits string) {
	if s.hungUp {
		return
	}
	for _, r := range digits {
		s.dtmf(r)
		if s.cur != nil && s.cur.dtmf != nil {
			s.cur.dtmf(r)
		}
	}
	s.advance()
}

func (s *session) dtmf(digit rune) {
	s.ch.digits += string(digit)
	s.emitEvent("DTMF", siteDTMF,
		header{"DTMF-Digit", string(digit)}, header{"DTMF-Duration", "2000"}, header{"DTMF-Source", "RTP"})
}

// playAndGetDigits follows switch_play_and_get_digits: per try play the
// prompt, read digits (terminators end the entry), accept when the count is
// within min..max and the regexp matches (unanchored, like FS), otherwise play
// the invalid prompt and try again; after `tries` failures the variable is
// left unset and read_result is "timeout" (last try silent) or "failure".
func (s *session) playAndGetDigits(req execReq) {
	d := s.script.PlaybackDuration
	f := strings.Fields(req.arg)
	if len(f) < 8 {
		s.complete("")
		return
	}
	minDigits, _ := strconv.Atoi(f[0])
	maxDigits, _ := strconv.Atoi(f[1])
	tries, _ := strconv.Atoi(f[2])
	if tries < 1 {
		tries = 1
	}
	terminators, varName := f[4], f[7]
	var re *regexp.Regexp
	if len(f) >= 9 {
		var err error
		if re, err = regexp.Compile(f[8]); err != nil {
			slog.Debug("esltest: play_and_get_digits regexp not usable in Go", "re", f[8], "err", err)
		}
	}
	finish := func(value, result string) {
		s.setPlaybackVars(d)
		s.ch.vars.set("read_result", result)
		if value != "" {
			s.ch.vars.set(varName, value)
		} else {
			s.ch.vars.del(varName)
		}
		s.complete("")
	}
	s.cur.abort = func() { s.complete("") }
	s.cur.interrupt = func() {
		// switch_play_and_get_digits when the channel leaves CS_EXECUTE:
		// read_result failure, nothing read.
		s.setPlaybackVars(d)
		s.ch.vars.set("read_result", "failure")
		s.ch.vars.del(varName)
		s.complete("")
	}
	attempt := 0
	var try func()
	retry := func(result string) func() {
		return func() {
			if attempt < tries {
				try()
				return
			}
			finish("", result)
		}
	}
	try = func() {
		attempt++
		s.after(d, func() { // prompt played
			entry := s.nextDigits()
			if entry == "" {
				s.after(d, func() { s.after(d, retry("timeout")) }) // wait, then invalid prompt
				return
			}
			digits := entry
			for i, r := range entry {
				s.dtmf(r)
				if terminators != "none" && strings.ContainsRune(terminators, r) {
					digits = entry[:i]
					break
				}
			}
			if maxDigits > 0 && len(digits) > maxDigits {
				digits = digits[:maxDigits]
			}
			valid := len(digits) >= minDigits && digits != "" && (len(f) < 9 || (re != nil && re.MatchString(digits)))
			if valid {
				finish(digits, "success")
				return
			}
			s.after(d, retry("failure")) // invalid prompt
		})
	}
	try()
}
