package flows

import (
	"os"
	"testing"
	"time"
)

func BenchmarkLoadCompileSales(b *testing.B) {
	src, err := os.ReadFile("sales.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse("sales.yaml", src, Options{SkipPromptCheck: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTimeRoute(b *testing.B) {
	f, err := Load("sales.yaml", Options{SkipPromptCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	tn := f.Nodes["office_hours"].Time
	at := time.Date(2026, 3, 4, 21, 0, 0, 0, tn.Zone)
	b.ReportAllocs()
	for b.Loop() {
		tn.Route(at)
	}
}
