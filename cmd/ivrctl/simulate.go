package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newSimulateCmd() *cobra.Command {
	var (
		sim     simulation
		at      string
		digits  string
		bridges string
	)
	cmd := &cobra.Command{
		Use:   "simulate [flow files or dirs]",
		Short: "Run one scripted call through a flow and print the transcript",
		Long: `simulate runs the real ivr engine on a loopback ESL listener and places one
call with the fake FreeSWITCH (esl/esltest): a caller id, a clock time,
scripted DTMF, a CRM answer and bridge outcomes. It prints every command the
IVR sent and every call-log entry, then the path the caller took.
Without arguments it uses the flows built into ivrctl.`,
		Example: `  ivrctl simulate --caller 5551001 --crm 1001 --digits 2,1 --bridge USER_BUSY
  ivrctl simulate flows/ --at 2026-11-28T21:15:00-05:00 --digits 1
  ivrctl simulate --override "transfer fifo_hst XML new_sales"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--at: %w", err)
			}
			sim.At = t
			sim.FlowFiles = args
			sim.Digits = splitScript(digits)
			sim.Bridges = splitScript(bridges)
			entries, err := sim.run(cmd.Context(), cmd.OutOrStdout())
			if err != nil {
				return err
			}
			printPath(cmd.OutOrStdout(), entries)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sim.Flow, "flow", "sales", "flow to run (ivr_flow)")
	f.StringVar(&sim.SoundsDir, "sounds", "sounds", "prompt directory checked when loading flow files")
	f.StringVar(&sim.Caller, "caller", "5551001", "caller id number")
	f.StringVar(&at, "at", "2026-11-25T10:00:00-05:00", "clock time of the call (RFC 3339)")
	f.StringVar(&digits, "digits", "2,1", "DTMF per play_and_get_digits try, comma-separated; an empty item is silence")
	f.StringVar(&sim.CRM, "crm", "1001", `extension the CRM returns for the caller; "" = unknown caller, "down" = CRM down`)
	f.StringVar(&bridges, "bridge", "USER_BUSY", `outcome per bridge: "answer" or a failure cause, comma-separated`)
	f.StringVar(&sim.Override, "override", "", "ops override value for the flow's time node")
	f.StringVar(&sim.HangupAt, "hangup-at", "", "caller hangs up during the n-th run of an app: app[:n], e.g. playback:1")
	f.BoolVar(&sim.Verbose, "verbose", false, "print the ivr's own log lines on stderr")
	return cmd
}

func splitScript(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
