package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/fsivr/fsivr/flows"
	"github.com/spf13/cobra"
)

// invalidFlowsError reports that at least one flow file does not validate;
// Invalid makes ivrctl exit with status 1 (see exitCode).
type invalidFlowsError struct {
	problems int
}

func (e *invalidFlowsError) Error() string {
	if e.problems == 1 {
		return "1 problem in the flow files"
	}
	return fmt.Sprintf("%d problems in the flow files", e.problems)
}

// Is makes errors.Is(err, flows.ErrInvalid) true: the flows did not validate.
func (e *invalidFlowsError) Is(target error) bool { return target == flows.ErrInvalid }

// newValidateCmd builds `ivrctl validate [files or dirs...]`.
func newValidateCmd() *cobra.Command {
	var opts flows.Options
	cmd := &cobra.Command{
		Use:   "validate [files or dirs...]",
		Short: "check flow files (default: flows/); exit 1 with file:line messages if any is invalid",
		Long: `validate loads every given flow file (and every *.yaml of every given
directory, default flows/), checks it completely and prints one OK line per
valid flow. Problems are printed as file:line: node "id": message, all of
them, and the exit status is 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"flows"}
			}
			paths, err := expandFlowArgs(args)
			if err != nil {
				return err
			}
			return runValidate(cmd, paths, opts)
		},
	}
	cmd.Flags().StringVar(&opts.SoundsDir, "sounds", "", "prompt directory (default: sounds/ beside the flows directory)")
	cmd.Flags().BoolVar(&opts.SkipPromptCheck, "no-prompts", false, "do not check that prompt files exist")
	return cmd
}

// expandFlowArgs turns files and directories into the list of flow files.
func expandFlowArgs(args []string) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	add := func(p string) {
		if c := filepath.Clean(p); !seen[c] {
			seen[c] = true
			paths = append(paths, p)
		}
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(a)
			continue
		}
		found, err := filepath.Glob(filepath.Join(a, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml flow files", a)
		}
		sort.Strings(found)
		for _, p := range found {
			add(p)
		}
	}
	return paths, nil
}

func runValidate(cmd *cobra.Command, paths []string, opts flows.Options) error {
	loaded, err := flows.LoadFiles(paths, opts)
	valid := make([]*flows.Flow, 0, len(loaded))
	for _, f := range loaded {
		valid = append(valid, f)
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].File < valid[j].File })
	out := cmd.OutOrStdout()
	for _, f := range valid {
		fmt.Fprintf(out, "OK %s (%s, version %s, %d nodes)\n", f.Name, f.File, f.Version, len(f.Nodes))
		for _, w := range f.Warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.Error())
		}
	}
	if err == nil {
		return nil
	}
	var inv *flows.InvalidError
	if !errors.As(err, &inv) {
		return err // unreadable file: exit 2
	}
	for _, p := range inv.Problems {
		fmt.Fprintln(cmd.ErrOrStderr(), p.Error())
	}
	return &invalidFlowsError{problems: len(inv.Problems)}
}
