// Command ivrctl is the ops CLI of fsivr: validate, graph, simulate, tail and
// demo. Each subcommand lives in its own file.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fsivr/fsivr/flows"
)

func main() {
	root := &cobra.Command{
		Use:           "ivrctl",
		Short:         "fsivr ops CLI: validate, graph, simulate, tail, demo",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newValidateCmd(), newGraphCmd(), newTailCmd(), newSimulateCmd(), newDemoCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ivrctl:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the process exit status: 1 for a flow that does
// not validate (so CI can branch on it), 2 for anything else.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flows.ErrInvalid) {
		return 1
	}
	return 2
}
