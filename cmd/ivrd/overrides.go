package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// overrideTTL is how long ivrd keeps an override it read: every call
// reaches a time node, so at 2,000 calls/s that is one GET a second
// instead of 2,000 (each a Redis round trip on the call's path). An ops
// override therefore takes effect within a second.
const overrideTTL = time.Second

// redisOverrides is the ivr.OverrideStore of ivrd: the ops override of a
// time node is a plain Redis string, read with GET and kept overrideTTL.
// Failures are not kept: the next call asks Redis again.
type redisOverrides struct {
	client redis.UniversalClient
	now    func() time.Time // time.Now when nil (tests set it)

	mu   sync.Mutex
	read map[string]readOverride
}

type readOverride struct {
	value string
	at    time.Time
}

func newRedisOverrides(client redis.UniversalClient) *redisOverrides {
	return &redisOverrides{client: client}
}

// Override returns the value under key, "" when it is not set.
func (r *redisOverrides) Override(ctx context.Context, key string) (string, error) {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	t := now()
	r.mu.Lock()
	c, ok := r.read[key]
	r.mu.Unlock()
	if ok && t.Sub(c.at) < overrideTTL && !t.Before(c.at) {
		return c.value, nil
	}
	v, err := r.client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		v, err = "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ivrd: read override %s: %w", key, err)
	}
	r.mu.Lock()
	if r.read == nil {
		r.read = map[string]readOverride{}
	}
	r.read[key] = readOverride{value: v, at: t}
	r.mu.Unlock()
	return v, nil
}
