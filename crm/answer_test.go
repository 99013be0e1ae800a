package crm

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestBreakerHalfOpenAbandonedProbe(t *testing.T) {
	now := time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)
	b := newBreaker(2, time.Minute, func() time.Time { return now })
	for range 2 {
		if ok, _, _ := b.allow(); !ok {
			t.Fatal("closed breaker refused")
		}
		b.record(unhealthy, false)
	}
	if ok, _, until := b.allow(); ok || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("open breaker: ok=%v until=%v", ok, until)
	}
	now = now.Add(time.Minute)
	ok, probe, _ := b.allow()
	if !ok || !probe {
		t.Fatalf("half-open: ok=%v probe=%v, want a probe", ok, probe)
	}
	if ok, _, _ := b.allow(); ok {
		t.Fatal("second request let through while the probe is in flight")
	}
	// The probe was abandoned (every caller hung up): the next request probes.
	if from, to := b.record(unknown, true); from != "" || to != "" {
		t.Fatalf("abandoned probe changed state %s -> %s", from, to)
	}
	ok, probe, _ = b.allow()
	if !ok || !probe {
		t.Fatalf("after an abandoned probe: ok=%v probe=%v", ok, probe)
	}
	if from, to := b.record(healthy, true); from != StateHalfOpen || to != StateClosed {
		t.Fatalf("good probe: %s -> %s", from, to)
	}
}

func TestBreakerSuccessResetsCount(t *testing.T) {
	now := time.Now()
	b := newBreaker(2, time.Minute, func() time.Time { return now })
	b.record(unhealthy, false)
	b.record(healthy, false)
	b.record(unhealthy, false)
	if got := b.currentState(); got != StateClosed {
		t.Fatalf("failures were not consecutive, state %s", got)
	}
}

func TestValidCallerID(t *testing.T) {
	for id, want := range map[string]bool{
		"1001": true, "+15550100": true, "0": true, "": false, "+": false, "anonymous": false,
		"1 2": false, "+1+2": false, "١٢٣": false, "12345678901234567890123456789012": true,
		"123456789012345678901234567890123": false,
	} {
		if got := validCallerID(id); got != want {
			t.Errorf("validCallerID(%q) = %v, want %v", id, got, want)
		}
	}
}

// FuzzParseAnswer: whatever a CRM sends, parsing never panics, and anything
// accepted is safe to put in a dial string.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		"1001", "1001\n", "1001, sofia/gateway/x/1900", "1001|x", `{"extension":"1001","name":"Ann"}`,
		`{"extn":1001}`, `{"extension":"1001\n"}`, `null`, `[]`, `{"extension":{}}`, "\xff", "",
	} {
		f.Add("application/json", seed)
		f.Add("text/plain", seed)
	}
	permissive := regexp.MustCompile(`^(?:.*)$`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		a, err := parseAnswer(contentType, []byte(body), permissive)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if a.result.Extension == "" || len(a.result.Extension) > maxExtensionLength {
			t.Fatalf("accepted extension %q", a.result.Extension)
		}
		for _, r := range a.result.Extension {
			if !extensionRune(r) {
				t.Fatalf("accepted extension %q with %q", a.result.Extension, r)
			}
		}
		if !validText(a.result.Name) || !validText(a.result.Account) {
			t.Fatalf("accepted unsafe name/account %q %q", a.result.Name, a.result.Account)
		}
	})
}

// Issue 16 item 20: one rule for keys that differ only in case.
func TestJSONKeyCaseRule(t *testing.T) {
	for body, want := range map[string]string{
		`{"EXTENSION": "601", "extension": "602", "Extension": "603"}`: "602", // lower case wins
		`{"Extension": "603"}`: "603", // one other spelling is taken
	} {
		for range 20 { // map order must not matter
			r, err := jsonFields([]byte(body))
			if err != nil || r.Extension != want {
				t.Fatalf("%s: %q, %v; want %s", body, r.Extension, err, want)
			}
		}
	}
	if _, err := jsonFields([]byte(`{"EXTENSION": "601", "Extension": "603"}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two spellings and no lower-case one: %v, want ErrInvalid", err)
	}
}
