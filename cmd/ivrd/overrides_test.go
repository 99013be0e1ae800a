package main

import (
	"context"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/redistest"
)

func TestRedisOverrides(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	store := newRedisOverrides(client)
	store.now = func() time.Time { return clock }
	get := func(want string) {
		t.Helper()
		if v, err := store.Override(ctx, "fsivr:override:sales"); err != nil || v != want {
			t.Fatalf("override %q, %v; want %q", v, err, want)
		}
	}
	get("") // unset key
	if err := client.Set(ctx, "fsivr:override:sales", "transfer fifo_hst XML new_sales", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Issue 14: a value read is kept for overrideTTL, so calls within it
	// cost no Redis round trip; after it the new value is read.
	clock = clock.Add(overrideTTL - time.Millisecond)
	get("")
	clock = clock.Add(time.Millisecond)
	get("transfer fifo_hst XML new_sales")
	// A Redis that is gone answers with an error (the session then routes by
	// time), within the caller's bound, once the kept value is too old.
	srv.Kill()
	get("transfer fifo_hst XML new_sales")
	clock = clock.Add(overrideTTL)
	bctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := store.Override(bctx, "fsivr:override:sales"); err == nil {
		t.Fatal("no error from a dead Redis")
	}
}
