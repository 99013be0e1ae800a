package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

var repoFlows = filepath.Join("..", "..", "flows")

func TestValidateShippedFlows(t *testing.T) {
	out, stderr, err := runCmd(t, newValidateCmd(), "--no-prompts", repoFlows)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, stderr)
	}
	for _, name := range []string{"OK notify (", "OK sales ("} {
		if !strings.Contains(out, name) {
			t.Errorf("output lacks %q:\n%s", name, out)
		}
	}
}

func TestValidateInvalidExitsOne(t *testing.T) {
	broken := filepath.Join(repoFlows, "testdata", "broken", "multi.yaml")
	out, stderr, err := runCmd(t, newValidateCmd(), "--no-prompts", broken, filepath.Join(repoFlows, "notify.yaml"))
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err = %v (exit %d), want an invalid-flow error (exit 1)", err, exitCode(err))
	}
	if !strings.Contains(out, "OK notify") {
		t.Errorf("valid flow not reported OK:\n%s", out)
	}
	for _, want := range []string{
		broken + `:12: node "menu1": unknown target "nowhere"`,
		broken + `:14: node "menu1": unknown field "colour"`,
		broken + `:17: node "bye": cause "lunch"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if err.Error() != "3 problems in the flow files" {
		t.Errorf("error = %q", err)
	}
}

func TestValidateMissingFileExitsTwo(t *testing.T) {
	_, _, err := runCmd(t, newValidateCmd(), filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || exitCode(err) != 2 {
		t.Errorf("err = %v (exit %d), want exit 2", err, exitCode(err))
	}
}

func TestGraph(t *testing.T) {
	sales := filepath.Join(repoFlows, "sales.yaml")
	out, _, err := runCmd(t, newGraphCmd(), sales)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flowchart TD", `n_main_menu -->|"choice:1"| n_transfer_hst`, `n_office_hours -->|"override"| n_end`} {
		if !strings.Contains(out, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCmd(t, newGraphCmd(), "--format", "dot", sales)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`digraph "sales" {`, `"main_menu" -> "wait_crm" [label="choice:2"];`, `"bridge_cc" -> "cc_failure" [label="failed"];`} {
		if !strings.Contains(out, want) {
			t.Errorf("dot lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCmd(t, newGraphCmd(), "--format", "png", sales); err == nil || exitCode(err) != 2 {
		t.Errorf("bad format: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nstart: x\nnodes:\n  x:\n    kind: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCmd(t, newGraphCmd(), bad)
	if exitCode(err) != 1 || !strings.Contains(stderr, `bad.yaml:5: node "x": unknown node kind "nope"`) {
		t.Errorf("invalid flow: err %v, stderr %q", err, stderr)
	}
}
