package httpapi

import (
	"strings"
	"testing"
)

func TestNumberPolicy(t *testing.T) {
	p := NumberPolicy{AllowedRegions: []string{"US", "GB"}, DefaultRegion: "US", Deny: []string{"+14155550199", "+1212*"}}
	for _, c := range []struct {
		in   string
		want Reason
	}{
		{"+14155550100", ""},
		{"(415) 555-0101", ""},
		{"+442079460000", ""},
		{"+18765230123", ReasonCountry}, // Jamaica shares +1: its region decides
		{"+18092345678", ReasonCountry}, // Dominican Republic
		{"+12842291234", ReasonCountry}, // British Virgin Islands
		{"+33123456789", ReasonCountry},
		{"+19002345678", ReasonPremium},
		{"+449098765432", ReasonPremium},
		{"+447012345678", ReasonPersonal},
		{"911", ReasonEmergency},
		{"112", ReasonEmergency},
		{"999", ReasonEmergency},
		{"000", ReasonEmergency},
		{"110", ReasonEmergency},
		{"55555", ReasonShortCode},
		{"+14155550199", ReasonDenied},
		{"+12125550100", ReasonDenied},
		{"hello", ReasonInvalidNumber},
		{"+1415555\r\n0100", ReasonInvalidNumber},
		{"+1 415 555 0100,123", ReasonInvalidNumber},
		{"", ReasonInvalidNumber},
	} {
		_, _, ref := p.check(c.in)
		got := Reason("")
		if ref != nil {
			got = ref.reason
		}
		if got != c.want {
			t.Errorf("%q: refused %q (%v), want %q", c.in, got, ref, c.want)
		}
	}
}

// FuzzNumberPolicy: whatever the input, an accepted number is E.164 in an
// allowed region, safe for a dial string, and accepted again as itself.
func FuzzNumberPolicy(f *testing.F) {
	for _, s := range []string{"+14155550100", "911", "+18765230123", "(415) 555-0101", "+1900 234 5678", "\r\n", "+4420794600001234"} {
		f.Add(s)
	}
	p := NumberPolicy{AllowedRegions: []string{"US", "GB"}, DefaultRegion: "US"}
	f.Fuzz(func(t *testing.T, raw string) {
		e164, region, ref := p.check(raw)
		if ref != nil {
			if ref.reason == "" || ref.detail == "" {
				t.Fatalf("%q: refusal without reason: %+v", raw, ref)
			}
			return
		}
		if !strings.HasPrefix(e164, "+") || strings.Trim(e164[1:], "0123456789") != "" || len(e164) > 16 {
			t.Fatalf("%q accepted as %q", raw, e164)
		}
		if region != "US" && region != "GB" {
			t.Fatalf("%q accepted in region %q", raw, region)
		}
		if again, _, ref := p.check(e164); ref != nil || again != e164 {
			t.Fatalf("%q -> %q, then %q %v", raw, e164, again, ref)
		}
	})
}
