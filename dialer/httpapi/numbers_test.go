package httpapi

import "testing"

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
