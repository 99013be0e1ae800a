package flows

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func copyFlow(t *testing.T, dir, name string, mutate func(string) string) {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	if mutate != nil {
		s = mutate(s)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryReload(t *testing.T) {
	dir := t.TempDir()
	copyFlow(t, dir, "sales.yaml", nil)
	copyFlow(t, dir, "notify.yaml", nil)
	opts := Options{SkipPromptCheck: true}
	r, err := NewRegistry(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); !slices.Equal(got, []string{"notify", "sales"}) {
		t.Fatalf("Names = %v", got)
	}
	sales1, _ := r.Get("sales")
	notify1, _ := r.Get("notify")
	if _, ok := r.Get("nope"); ok {
		t.Error("Get of an unknown flow succeeded")
	}

	// A broken edit is refused and the running versions stay.
	copyFlow(t, dir, "notify.yaml", func(s string) string { return strings.Replace(s, "next: thanks", "next: thankz", 1) })
	err = r.Reload()
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `unknown target "thankz"`) {
		t.Fatalf("Reload of a broken flow: %v", err)
	}
	if n, _ := r.Get("notify"); n != notify1 {
		t.Error("a failed reload replaced the flow")
	}

	// A good edit swaps notify; the unchanged sales keeps its compiled version.
	copyFlow(t, dir, "notify.yaml", func(s string) string { return strings.Replace(s, "tries: 3", "tries: 2", 1) })
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	notify2, _ := r.Get("notify")
	if notify2 == notify1 || notify2.Version == notify1.Version || notify2.Nodes["message"].Menu.Tries != 2 {
		t.Error("good reload did not swap notify")
	}
	if s, _ := r.Get("sales"); s != sales1 {
		t.Error("unchanged sales was compiled again")
	}
	// The old version is untouched for calls still running on it.
	if notify1.Nodes["message"].Menu.Tries != 3 {
		t.Error("old version mutated")
	}
}

func TestRegistryConcurrentGet(t *testing.T) {
	dir := t.TempDir()
	copyFlow(t, dir, "notify.yaml", nil)
	r, err := NewRegistry(dir, Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if f, ok := r.Get("notify"); !ok || f.Name != "notify" {
					t.Error("Get failed during reload")
					return
				}
			}
		}()
	}
	for range 5 {
		if err := r.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func TestRegistryEmptyDir(t *testing.T) {
	if _, err := NewRegistry(t.TempDir(), Options{}); !errors.Is(err, ErrNoFlows) {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := NewRegistry(filepath.Join(t.TempDir(), "missing"), Options{}); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("missing dir: %v", err)
	}
}

// Issue 16 item 19: a file being written in place is not served half
// written; a file over the cap is refused.
func TestReloadSettledWaitsForTheWriter(t *testing.T) {
	dir := t.TempDir()
	copyFlow(t, dir, "notify.yaml", nil)
	r, err := NewRegistry(dir, Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Get("notify")
	src, err := os.ReadFile("sales.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A slow writer rewriting the file in place, chunk by chunk.
	path := filepath.Join(dir, "notify.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop := make(chan struct{})
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 0; i < len(src); i += 64 {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, _ = f.Write(src[i:min(i+64, len(src))])
		}
	}()
	if err := r.ReloadSettled(100 * time.Millisecond); !errors.Is(err, ErrUnsettled) {
		t.Fatalf("reload during the write: %v, want ErrUnsettled", err)
	}
	if cur, _ := r.Get("notify"); cur != before {
		t.Fatal("a half-written file replaced the flow")
	}
	close(stop)
	<-written
}

func TestFlowFileSizeCap(t *testing.T) {
	dir := t.TempDir()
	copyFlow(t, dir, "notify.yaml", func(s string) string { return s + "\n# " + strings.Repeat("x", 4096) + "\n" })
	if _, err := LoadDir(dir, Options{SkipPromptCheck: true, MaxFileBytes: 4096}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized flow file: %v, want ErrTooLarge", err)
	}
	if _, err := LoadDir(dir, Options{SkipPromptCheck: true}); err != nil {
		t.Fatalf("under the default cap: %v", err)
	}
}
