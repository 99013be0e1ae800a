package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTailCmd is a placeholder until the tail subcommand lands.
func newTailCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tail",
		Short: "tail (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("tail: not built yet")
		},
	}
}
