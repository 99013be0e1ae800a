package flows

import "testing"

func TestBuiltinFlowsCompile(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sales", "notify"} {
		f, ok := all[name]
		if !ok {
			t.Fatalf("builtin flow %q missing; have %v", name, all)
		}
		if f.Name != name || len(f.Edges()) == 0 {
			t.Fatalf("builtin %s: name %q, %d edges", name, f.Name, len(f.Edges()))
		}
	}
}
