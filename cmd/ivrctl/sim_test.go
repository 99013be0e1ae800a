package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runIvrctl(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	var cmd = newDemoCmd()
	switch args[0] {
	case "simulate":
		cmd = newSimulateCmd()
	case "demo":
	default:
		t.Fatalf("unknown subcommand %s", args[0])
	}
	cmd.SetArgs(args[1:])
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("ivrctl %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestDemoPrintsThePath(t *testing.T) {
	out := runIvrctl(t, "demo")
	for _, want := range []string{
		"execute playback new_sales/1000.wav",
		"execute play_and_get_digits 1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]",
		"execute bridge user/1001",
		"execute transfer Playcell_1001 XML new_sales",
		"path:    welcome → office_hours → main_menu → wait_crm → set_cc_from_crm → bridge_cc → cc_failure → cc_menu → transfer_playcell",
		"outcome: transfer:Playcell_1001",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
}

func TestSimulateScripts(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--at", "2026-11-25T21:00:00-05:00"}, []string{"execute transfer fifo_hst XML new_sales", "outcome: transfer:fifo_hst"}},
		{[]string{"--digits", "3", "--crm", ""}, []string{"execute transfer fifo_sales XML new_sales", "crm        welcome          not_found"}},
		{[]string{"--digits", ",9,0"}, []string{"execute playback new_sales/9003.wav", "execute hangup NORMAL_CLEARING", "outcome: hangup"}},
		{[]string{"--override", "transfer fifo_hst XML new_sales"}, []string{"time_rule  office_hours     override"}},
		{[]string{"--hangup-at", "playback:1"}, []string{"path:    welcome\n", "outcome: caller_hangup"}},
		{[]string{"../../flows", "--sounds", "../../sounds", "--flow", "notify", "--digits", "1"}, []string{"execute set notify_result=confirmed", "outcome: hangup"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := runIvrctl(t, append([]string{"simulate"}, tc.args...)...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q\n%s", w, out)
				}
			}
		})
	}
}
