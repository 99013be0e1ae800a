package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newValidateCmd is a placeholder until the validate subcommand lands.
func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "validate (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("validate: not built yet")
		},
	}
}
