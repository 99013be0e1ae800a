package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsivr/fsivr/flows"
)

// Issue 16 item 19: a flows_dir that is a symlink swapped to a new
// directory (the ConfigMap way) is noticed and reloaded.
func TestWatchFollowsASwappedSymlinkedFlowsDir(t *testing.T) {
	root, sounds := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(sounds, "a.wav"), "")
	writeFile(t, filepath.Join(sounds, "b.wav"), "")
	for dir, src := range map[string]string{"v1": flowV1, "v2": flowV2} {
		if err := os.Mkdir(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, dir, "t.yaml"), src)
	}
	link := filepath.Join(root, "flows")
	if err := os.Symlink("v1", link); err != nil {
		t.Fatal(err)
	}
	registry, err := flows.NewRegistry(link, flows.Options{SoundsDir: sounds})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := registry.Get("t")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); watchReloads(ctx, registry, link, slog.New(slog.DiscardHandler)) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // the watch is set up

	// Swap the link atomically: a new symlink renamed over the old one.
	tmp := filepath.Join(root, "flows.new")
	if err := os.Symlink("v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { f, _ := registry.Get("t"); return f.Version != v1.Version })

	// The watch now follows v2: an edit there is seen too.
	writeFile(t, filepath.Join(root, "v2", "t.yaml"), flowV1)
	waitFor(t, func() bool { f, _ := registry.Get("t"); return f.Version == v1.Version })
}
