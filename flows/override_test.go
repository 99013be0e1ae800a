package flows

import (
	"errors"
	"strings"
	"testing"
)

func TestOverrideParse(t *testing.T) {
	o := &Override{
		Key:     "fsivr:override:sales",
		Actions: []string{"transfer", "hangup", "playback"},
		Nodes:   []string{"main_menu"},
	}
	ok := []struct {
		in   string
		want OverrideDecision
	}{
		{"transfer fifo_hst XML new_sales", OverrideDecision{Action: "transfer", Args: "fifo_hst XML new_sales"}},
		{"  transfer   fifo_hst  ", OverrideDecision{Action: "transfer", Args: "fifo_hst"}},
		{"goto main_menu", OverrideDecision{Goto: "main_menu"}},
		{"hangup", OverrideDecision{Action: "hangup"}},
		{"hangup USER_BUSY", OverrideDecision{Action: "hangup", Args: "USER_BUSY"}},
		{"playback new_sales/closed.wav", OverrideDecision{Action: "playback", Args: "new_sales/closed.wav"}},
	}
	for _, tt := range ok {
		got, err := o.Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	refused := []string{
		"",
		"   ",
		"bridge user/1000",     // action not allowed anywhere
		"goto nowhere",         // node not allowed
		"goto main_menu extra", // goto takes one node
		"transfer",             // no destination
		"transfer a b c d",     // too many words
		"transfer fifo_hst XML new_sales\nevil: 1", // header injection
		"transfer fifo_hst\rXML",
		"transfer fifo_hst\x00",
		"transfer ${evil}",
		"transfer a,b",
		"transfer a|b",
		"playback ../../etc/passwd",
		"playback a.wav b.wav",
		"hangup lunch",
		"hangup A B",
	}
	for _, in := range refused {
		got, err := o.Parse(in)
		if !errors.Is(err, ErrOverrideRefused) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrOverrideRefused", in, got, err)
		}
	}
	// A node that allows only goto refuses every action.
	gotoOnly := &Override{Nodes: []string{"main_menu"}}
	if _, err := gotoOnly.Parse("transfer fifo_hst XML new_sales"); !errors.Is(err, ErrOverrideRefused) {
		t.Errorf("goto-only override accepted a transfer: %v", err)
	}
}

func FuzzOverrideParse(f *testing.F) {
	f.Add("transfer fifo_hst XML new_sales")
	f.Add("goto main_menu")
	f.Add("hangup\n")
	o := &Override{Actions: []string{"transfer", "playback", "hangup"}, Nodes: []string{"main_menu"}}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := o.Parse(in)
		if err != nil {
			if !errors.Is(err, ErrOverrideRefused) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		for _, r := range d.Action + d.Args + d.Goto {
			if isControl(r) || r == ',' || r == '|' || r == '$' || r == '{' {
				t.Fatalf("accepted %q: decision %+v", in, d)
			}
		}
	})
}

// Issue 16 item 20: override values are capped and play only local prompts
// unless the flow allows more.
func TestOverrideCapsAndLocalPrompts(t *testing.T) {
	o := &Override{Actions: []string{"playback", "transfer"}}
	for _, v := range []string{
		"playback http://evil.example/x.wav",
		"playback /etc/shadow",
		"transfer " + strings.Repeat("9", MaxOverrideBytes),
	} {
		if _, err := o.Parse(v); !errors.Is(err, ErrOverrideRefused) {
			t.Errorf("%.60q accepted: %v", v, err)
		}
	}
	if d, err := o.Parse("playback new_sales/9003.wav"); err != nil || d.Args != "new_sales/9003.wav" {
		t.Errorf("local prompt refused: %+v, %v", d, err)
	}
	remote := &Override{Actions: []string{"playback"}, AllowRemotePrompts: true}
	if _, err := remote.Parse("playback http://media.example/closed.wav"); err != nil {
		t.Errorf("allowed remote prompt refused: %v", err)
	}
}
