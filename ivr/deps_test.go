package ivr

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/redistest"
)

func TestCheckArgValue(t *testing.T) {
	ok := []string{"1001", "+15551234567", "fifo_sales", "Playcell_1001", "user.name", "a@b", "*72#", "x=y", ""}
	for _, v := range ok {
		if err := checkArgValue("v", v); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	bad := []string{
		"1001, sofia/gateway/x/1900", "1001|1002", "1001\n", "a\rb", "1001 XML", "{x=y}1001",
		"[x=y]1001", "sofia/gw/1900", "a:b", "${danger}", string(make([]byte, maxValueLen+1)),
	}
	for _, v := range bad {
		if err := checkArgValue("v", v); !errors.Is(err, ErrUnsafeValue) {
			t.Errorf("%q accepted (err %v)", v, err)
		}
	}
}

func TestRedisOverrides(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	store := RedisOverrides{Client: client}
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
