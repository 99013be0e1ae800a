package ivr

import (
	"errors"
	"fmt"
)

// ErrUnsafeValue is returned when a value taken from the caller, the CRM or
// an ops override would reach a sendmsg argument or a dial string and holds
// something that could change its meaning there.
var ErrUnsafeValue = errors.New("ivr: unsafe value")

// maxValueLen bounds any single substituted value.
const maxValueLen = 128

// checkArgValue accepts the characters a phone number, an extension, a user
// name or a queue name needs, and nothing that the FreeSWITCH argument and
// dial-string syntax gives a meaning to: no white space (apps split their
// arguments on spaces), no ',' or '|' (parallel and fail-over dialing), no
// '{' '}' '[' ']' (channel variables), no '/' or ':' (a different endpoint
// or gateway), no '$' (variable expansion), no control characters.
func checkArgValue(name, v string) error {
	if len(v) > maxValueLen {
		return fmt.Errorf("%w: ${%s} is %d bytes long (max %d)", ErrUnsafeValue, name, len(v), maxValueLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '_', c == '-', c == '.', c == '+', c == '*', c == '#', c == '@', c == '=':
		default:
			return fmt.Errorf("%w: ${%s} holds %q", ErrUnsafeValue, name, c)
		}
	}
	return nil
}
