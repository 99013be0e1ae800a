package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Place one simulated call through the sales flow (no FreeSWITCH, no Redis needed)",
		Long: `demo starts the IVR's real code (ivr engine + ESL outbound server) on a
loopback port and places one call from a fake FreeSWITCH through the built-in
sales flow: a Wednesday 10:00 call from a caller the CRM knows, who presses 2
for their account manager; the bridge to extension 1001 is busy, so the
caller gets the fallback menu and presses 1 for the cellphone. It prints the
commands the IVR sent, the call-log entries (which wait in a spool: no Redis)
and the path the caller took.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at, _ := time.Parse(time.RFC3339, "2026-11-25T10:00:00-05:00")
			sim := simulation{
				Flow:    "sales",
				Caller:  "5551001",
				At:      at,
				Digits:  []string{"2", "1"},
				CRM:     "1001",
				Bridges: []string{"USER_BUSY"},
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, "fsivr demo: one simulated call through flows/sales.yaml")
			entries, err := sim.run(cmd.Context(), w)
			if err != nil {
				return err
			}
			printPath(w, entries)
			fmt.Fprintf(w, "%d call-log entries written (to the spool: no Redis configured)\n", len(entries))
			return nil
		},
	}
}
