package httpapi

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// NumberPolicy decides which numbers may be called.
type NumberPolicy struct {
	// AllowedRegions are ISO 3166 regions ("US", "GB"); a number is allowed
	// when phonenumbers places it in one of them by its full number, not
	// its country code: +1 876 is JM, refused when only US is allowed.
	// Empty: no number is allowed (an operator must choose).
	AllowedRegions []string `yaml:"allowed_regions"`
	// DefaultRegion parses numbers written without "+".
	DefaultRegion string `yaml:"default_region"`
	// Deny lists numbers never called: an E.164 number, or a prefix
	// ending in "*" ("+1900*").
	Deny []string `yaml:"deny"`
	// DailyCap is the most calls a day (UTC) to one number through the
	// click-to-call endpoint; 0 = 3.
	DailyCap int `yaml:"daily_cap"`
}

// emergencyDigits are refused whatever the region's metadata says (the
// common emergency numbers of the world), so a number such as 112 is never
// dialed even from a region whose metadata lacks it.
var emergencyDigits = map[string]bool{"911": true, "112": true, "999": true, "000": true, "110": true,
	"119": true, "999999": true, "100": true, "101": true, "102": true, "103": true, "108": true, "118": true, "911911": true}

// refusal is a number policy decision.
type refusal struct {
	reason Reason
	detail string
}

func (r *refusal) Error() string { return r.detail }

// check returns the number in E.164 and its region, or why it is refused.
func (p *NumberPolicy) check(raw string) (e164, region string, ref *refusal) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 32 || strings.Trim(raw, "+0123456789 ()-.") != "" {
		return "", "", &refusal{ReasonInvalidNumber, "number must be digits with an optional leading +, at most 32 characters"}
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, raw)
	if emergencyDigits[digits] {
		return "", "", &refusal{ReasonEmergency, fmt.Sprintf("%s is an emergency number", digits)}
	}
	for _, reg := range append([]string{p.DefaultRegion}, p.AllowedRegions...) {
		if reg != "" && phonenumbers.IsEmergencyNumber(digits, reg) {
			return "", "", &refusal{ReasonEmergency, fmt.Sprintf("%s is an emergency number in %s", digits, reg)}
		}
	}
	num, err := phonenumbers.Parse(raw, p.DefaultRegion)
	if err != nil {
		return "", "", &refusal{ReasonInvalidNumber, "not a phone number: " + err.Error()}
	}
	if !phonenumbers.IsValidNumber(num) {
		if phonenumbers.IsValidShortNumber(num) || len(digits) <= 6 {
			return "", "", &refusal{ReasonShortCode, "short codes are not called"}
		}
		return "", "", &refusal{ReasonInvalidNumber, "not a valid number"}
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	region = phonenumbers.GetRegionCodeForNumber(num)
	allowed := false
	for _, r := range p.AllowedRegions {
		if strings.EqualFold(r, region) {
			allowed = true
		}
	}
	if !allowed {
		return "", region, &refusal{ReasonCountry, fmt.Sprintf("the number is in region %q, not an allowed one", region)}
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE:
		return "", region, &refusal{ReasonPremium, "premium-rate numbers are not called"}
	case phonenumbers.SHARED_COST:
		return "", region, &refusal{ReasonSharedCost, "shared-cost numbers are not called"}
	case phonenumbers.PERSONAL_NUMBER, phonenumbers.UAN, phonenumbers.PAGER:
		return "", region, &refusal{ReasonPersonal, "personal, pager and universal access numbers are not called"}
	}
	for _, d := range p.Deny {
		if pre, ok := strings.CutSuffix(d, "*"); ok && strings.HasPrefix(e164, pre) || d == e164 {
			return "", region, &refusal{ReasonDenied, "the number is on the deny list"}
		}
	}
	return e164, region, nil
}

// dailyCaps counts calls per destination and UTC day (in this process).
type dailyCaps struct {
	mu    sync.Mutex
	day   string
	count map[string]int
}

// take counts one call to e164 today, or refuses it when cap is reached.
func (d *dailyCaps) take(e164 string, limit int, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if day := now.UTC().Format("2006-01-02"); day != d.day {
		d.day, d.count = day, map[string]int{}
	}
	if d.count[e164] >= limit {
		return false
	}
	d.count[e164]++
	return true
}

// give returns a call counted by take that was not placed after all.
func (d *dailyCaps) give(e164 string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.count[e164] > 0 {
		d.count[e164]--
	}
}
