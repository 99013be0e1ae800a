package flows

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
)

// builtinFS holds the flow files shipped with fsivr, so the demo and the
// simulator run on a fresh machine from any directory.
//
//go:embed *.yaml
var builtinFS embed.FS

// Builtin compiles the flows shipped with fsivr (flows/*.yaml as built into
// the binary). Prompt files are not checked: the sounds may not be beside
// the binary.
func Builtin() (map[string]*Flow, error) {
	names, err := fs.Glob(builtinFS, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Flow, len(names))
	for _, n := range names {
		src, err := builtinFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, err := Parse(path.Join("flows", n), src, Options{SkipPromptCheck: true})
		if err != nil {
			return nil, fmt.Errorf("builtin flow %s: %w", n, err)
		}
		out[f.Name] = f
	}
	return out, nil
}
