package flows

import (
	"errors"
	"slices"
	"testing"
)

func TestTemplate(t *testing.T) {
	vars := map[string]string{"crm.extension": "601", "caller_id": "5551234", "empty": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		in, out string
		vars    []string
	}{
		{"", "", nil},
		{"plain", "plain", nil},
		{"user/${crm.extension}", "user/601", []string{"crm.extension"}},
		{"new_sales/8${crm.extension}.wav", "new_sales/8601.wav", []string{"crm.extension"}},
		{"${caller_id}${crm.extension}", "5551234601", []string{"caller_id", "crm.extension"}},
		{"a${empty}b", "ab", []string{"empty"}},
		{"$5 and $x", "$5 and $x", nil},
	}
	for _, tt := range tests {
		tp, err := ParseTemplate(tt.in)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.in, err)
			continue
		}
		if got := tp.Vars(); !slices.Equal(got, tt.vars) {
			t.Errorf("%q Vars = %v, want %v", tt.in, got, tt.vars)
		}
		if tp.IsStatic() != (len(tt.vars) == 0) {
			t.Errorf("%q IsStatic = %v", tt.in, tp.IsStatic())
		}
		got, err := tp.Render(lookup)
		if err != nil || got != tt.out {
			t.Errorf("%q Render = %q, %v; want %q", tt.in, got, err, tt.out)
		}
	}
	for _, bad := range []string{"${", "a${b", "${}", "${a b}", "${a;b}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
	tp, _ := ParseTemplate("user/${nope}")
	if _, err := tp.Render(lookup); !errors.Is(err, ErrUnknownVar) {
		t.Errorf("unknown var: %v, want ErrUnknownVar", err)
	}
	var zero Template
	if got, err := zero.Render(lookup); got != "" || err != nil {
		t.Errorf("zero Template renders %q, %v", got, err)
	}
}

func TestMenuArgs(t *testing.T) {
	m := &Menu{Min: 1, Max: 1, Tries: 3, Timeout: DefaultMenuTimeout, Terminators: "#", Var: "menu_number", Regex: "[1-5]"}
	if got := m.Args("new_sales/1001.wav", "new_sales/9004.wav"); got != "1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]" {
		t.Errorf("Args = %q", got)
	}
	m.Terminators = ""
	if got := m.Args("p.wav", ""); got != "1 1 3 5000 none p.wav "+SilencePrompt+" menu_number [1-5]" {
		t.Errorf("Args without invalid/terminators = %q", got)
	}
}
