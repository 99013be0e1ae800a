package main

import (
	"errors"
	"fmt"

	"github.com/fsivr/fsivr/flows"
	"github.com/spf13/cobra"
)

// newGraphCmd builds `ivrctl graph <flow.yaml> [--format mermaid|dot]`.
func newGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph <flow.yaml>",
		Short: "print a flow as a Mermaid flowchart or a Graphviz digraph",
		Long: `graph prints the nodes of a flow and its outcome edges (done, failed,
choice:1, rule:Workday, ...), as Mermaid (default; paste into a Markdown
file) or Graphviz DOT (ivrctl graph flows/sales.yaml --format dot | dot -Tsvg).
Hangup edges (from every node) are left out. Prompt files are not checked.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "mermaid" && format != "dot" {
				return fmt.Errorf("--format must be mermaid or dot, not %q", format)
			}
			f, err := flows.Load(args[0], flows.Options{SkipPromptCheck: true})
			var inv *flows.InvalidError
			if errors.As(err, &inv) {
				for _, p := range inv.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), p.Error())
				}
				return &invalidFlowsError{problems: len(inv.Problems)}
			}
			if err != nil {
				return err
			}
			if format == "dot" {
				fmt.Fprint(cmd.OutOrStdout(), f.DOT())
			} else {
				fmt.Fprint(cmd.OutOrStdout(), f.Mermaid())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "output format: mermaid or dot")
	return cmd
}
