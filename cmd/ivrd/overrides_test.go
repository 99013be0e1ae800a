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
	store := redisOverrides{client: client}
	if v, err := store.Override(ctx, "fsivr:override:sales"); err != nil || v != "" {
		t.Fatalf("unset key: %q, %v", v, err)
	}
	if err := client.Set(ctx, "fsivr:override:sales", "transfer fifo_hst XML new_sales", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Override(ctx, "fsivr:override:sales"); err != nil || v != "transfer fifo_hst XML new_sales" {
		t.Fatalf("set key: %q, %v", v, err)
	}
	// A Redis that is gone answers with an error (the session then routes by
	// time), within the caller's bound.
	srv.Kill()
	bctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := store.Override(bctx, "fsivr:override:sales"); err == nil {
		t.Fatal("no error from a dead Redis")
	}
}
