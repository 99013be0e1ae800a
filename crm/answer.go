package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validCallerID reports whether id may be looked up: an optional leading '+'
// then 1..MaxCallerIDLength digits. Anything else ("anonymous", "", a SIP URI)
// is never sent to the CRM.
func validCallerID(id string) bool {
	digits := strings.TrimPrefix(id, "+")
	if digits == "" || len(digits) > MaxCallerIDLength {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// answer is what a CRM body said before validation; dropped lists the
// optional fields that failed their checks and were cleared.
type answer struct {
	result  Result
	dropped []string
}

// parseAnswer turns a 2xx body into a validated Result. JSON bodies (by
// Content-Type or a leading '{') are read for the extension, name and account
// under a few common key spellings; anything else is plain text whose trimmed
// content is the extension. Errors wrap ErrNotFound or ErrInvalid.
func parseAnswer(contentType string, body []byte, ext *regexp.Regexp) (answer, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return answer{}, fmt.Errorf("%w: empty answer", ErrNotFound)
	}
	var a answer
	if isJSON(contentType, trimmed) {
		fields, err := jsonFields(trimmed)
		if err != nil {
			return answer{}, err
		}
		a.result = fields
	} else {
		// Plain text: the whole trimmed body is the extension, as the seed's
		// CRM answers. Surrounding whitespace (a trailing newline) is allowed,
		// anything inside is judged by validExtension.
		a.result.Extension = string(trimmed)
	}
	if a.result.Extension == "" {
		return answer{}, fmt.Errorf("%w: answer has no extension", ErrNotFound)
	}
	if err := validExtension(a.result.Extension, ext); err != nil {
		return answer{}, err
	}
	if a.result.Name != "" && !validText(a.result.Name) {
		a.result.Name = ""
		a.dropped = append(a.dropped, "name")
	}
	if a.result.Account != "" && !validText(a.result.Account) {
		a.result.Account = ""
		a.dropped = append(a.dropped, "account")
	}
	return a, nil
}

func isJSON(contentType string, trimmed []byte) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			return true
		}
	}
	return trimmed[0] == '{'
}

// jsonFields reads an object's extension, name and account. Keys are matched
// case-insensitively; values may be strings or numbers (1001 and "1001" are
// the same extension). null counts as absent.
func jsonFields(body []byte) (Result, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Result{}, fmt.Errorf("%w: JSON answer: %w", ErrInvalid, err)
	}
	if dec.More() {
		return Result{}, fmt.Errorf("%w: JSON answer has trailing data", ErrInvalid)
	}
	if obj == nil {
		return Result{}, fmt.Errorf("%w: JSON answer is null", ErrNotFound)
	}
	lower := foldKeys(obj)
	var r Result
	var err error
	if r.Extension, err = pick(lower, "extension", "extension", "extn", "ext", "cc_extn", "agent_extension", "agent"); err != nil {
		return Result{}, err
	}
	if r.Name, err = pick(lower, "name", "name", "contact_name", "customer_name", "full_name"); err != nil {
		return Result{}, err
	}
	if r.Account, err = pick(lower, "account", "account", "account_id", "account_number", "customer_id"); err != nil {
		return Result{}, err
	}
	return r, nil
}

// ambiguous marks a folded key that came in several spellings, none of them
// the lower-case one.
type ambiguous []string

// foldKeys lower-cases the keys of obj by one rule, so the same answer always
// gives the same fields: the lower-case spelling ("extension") wins over any
// other ("Extension", "EXTENSION"); without it, one other spelling is taken;
// several other spellings and no lower-case one are ambiguous (ErrInvalid
// when that field is read).
func foldKeys(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	spellings := map[string][]string{}
	for k, v := range obj {
		lk := strings.ToLower(k)
		if k == lk {
			out[lk] = v
			continue
		}
		spellings[lk] = append(spellings[lk], k)
		if _, exact := obj[lk]; !exact {
			out[lk] = v
		}
	}
	for lk, ks := range spellings {
		if _, exact := obj[lk]; !exact && len(ks) > 1 {
			sort.Strings(ks)
			out[lk] = ambiguous(ks)
		}
	}
	return out
}

// pick returns the first key present with a scalar value.
func pick(obj map[string]any, field string, keys ...string) (string, error) {
	for _, k := range keys {
		v, ok := obj[k]
		if !ok || v == nil {
			continue
		}
		if a, ok := v.(ambiguous); ok {
			return "", fmt.Errorf("%w: JSON %s given as %s and no %q", ErrInvalid, field, strings.Join(a, ", "), k)
		}
		switch v := v.(type) {
		case string:
			return v, nil
		case json.Number:
			return v.String(), nil
		default:
			return "", fmt.Errorf("%w: JSON %s (key %q) is a %T, not a string or number", ErrInvalid, field, k, v)
		}
	}
	return "", nil
}

// validExtension decides whether ext may reach a dial string: it must be
// UTF-8 without control characters, at most maxExtensionLength bytes, made
// only of characters that mean nothing to FreeSWITCH's dial-string parser,
// and match the configured pattern. The character check holds even when ops
// configure a permissive pattern, so "1001,sofia/gateway/x/1900" or "1001|x"
// can never become a second bridge target.
func validExtension(ext string, pattern *regexp.Regexp) error {
	if len(ext) > maxExtensionLength {
		return fmt.Errorf("%w: extension is %d bytes, more than %d", ErrInvalid, len(ext), maxExtensionLength)
	}
	for _, r := range ext {
		if !extensionRune(r) {
			return fmt.Errorf("%w: extension %q contains %q", ErrInvalid, ext, r)
		}
	}
	if !pattern.MatchString(ext) {
		return fmt.Errorf("%w: extension %q does not match %s", ErrInvalid, ext, pattern)
	}
	return nil
}

func extensionRune(r rune) bool {
	switch {
	case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		return true
	}
	return r == '+' || r == '*' || r == '#' || r == '.' || r == '_' || r == '-'
}

// validText checks a name or account: valid UTF-8, at most MaxFieldLength
// runes, no control characters (newline, CR, tab, NUL, ...).
func validText(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxFieldLength {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
