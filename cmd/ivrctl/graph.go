package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newGraphCmd is a placeholder until the graph subcommand lands.
func newGraphCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "graph",
		Short: "graph (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("graph: not built yet")
		},
	}
}
