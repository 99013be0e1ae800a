package flows

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must return a flow or
// an *InvalidError, never panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	seeds = append(seeds, "sales.yaml", "notify.yaml")
	for _, p := range seeds {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		fl, err := Parse("fuzz.yaml", src, Options{SkipPromptCheck: true})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is not an *InvalidError: %v", err)
			}
			return
		}
		if fl.Nodes[fl.Start] == nil || len(fl.Edges()) == 0 {
			t.Fatalf("valid flow without start node or events: %+v", fl)
		}
	})
}
