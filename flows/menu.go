package flows

import (
	"strconv"
	"strings"
)

// SilencePrompt is what Menu.Args puts in place of an empty invalid prompt:
// play_and_get_digits takes its arguments by position, so every slot needs a
// value.
const SilencePrompt = "silence_stream://250"

// Args builds the play_and_get_digits argument string from the rendered
// prompt and invalid prompt:
//
//	<min> <max> <tries> <timeout_ms> <terminators> <file> <invalid_file> <var_name> <regexp>
//
// e.g. "1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]".
// The caller validates the rendered prompts (no spaces, no newlines): the
// arguments are split on spaces by FreeSWITCH.
func (m *Menu) Args(prompt, invalid string) string {
	if invalid == "" {
		invalid = SilencePrompt
	}
	term := m.Terminators
	if term == "" {
		term = "none"
	}
	var b strings.Builder
	b.Grow(64 + len(prompt) + len(invalid) + len(m.Var) + len(m.Regex))
	b.WriteString(strconv.Itoa(m.Min))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(m.Max))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(m.Tries))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(m.Timeout.Milliseconds(), 10))
	b.WriteByte(' ')
	b.WriteString(term)
	b.WriteByte(' ')
	b.WriteString(prompt)
	b.WriteByte(' ')
	b.WriteString(invalid)
	b.WriteByte(' ')
	b.WriteString(m.Var)
	b.WriteByte(' ')
	b.WriteString(m.Regex)
	return b.String()
}
