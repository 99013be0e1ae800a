package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSimulateCmd is a placeholder until the simulate subcommand lands.
func newSimulateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "simulate",
		Short: "simulate (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("simulate: not built yet")
		},
	}
}
