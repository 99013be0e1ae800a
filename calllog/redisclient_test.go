package calllog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

func TestNewRedisClientPlainServerStaysPlain(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	ctx := context.Background()
	client, err := calllog.NewRedisClient(ctx, &redis.UniversalOptions{Addrs: []string{srv.Addr}, DB: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	plain, ok := client.(*redis.Client)
	if !ok {
		t.Fatalf("a plain server gave a %T", client)
	}
	if plain.Options().DB != 3 {
		t.Fatalf("db %d, want 3", plain.Options().DB)
	}
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Unreachable: a plain client, no error (the writer spools meanwhile).
	down, err := calllog.NewRedisClient(ctx, &redis.UniversalOptions{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if _, ok := down.(*redis.Client); !ok {
		t.Fatalf("an unreachable address gave a %T", down)
	}
}

func TestRedisLoggerWritesSlogRecords(t *testing.T) {
	var out logbuf.Buffer
	l := calllog.RedisLogger(slogTo(&out))
	l.Printf(context.Background(), "redis: %s:%d: connection pool: failed to dial\n", "pool.go", 770)
	got := out.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "component=go-redis") ||
		!strings.Contains(got, `msg="redis: pool.go:770: connection pool: failed to dial"`) {
		t.Fatalf("log record: %s", got)
	}
}
