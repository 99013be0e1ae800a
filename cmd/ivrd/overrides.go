package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// redisOverrides is the ivr.OverrideStore of ivrd: the ops override of a
// time node is a plain Redis string, read with GET.
type redisOverrides struct {
	client redis.UniversalClient
}

// Override returns the value under key, "" when it is not set.
func (r redisOverrides) Override(ctx context.Context, key string) (string, error) {
	v, err := r.client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ivrd: read override %s: %w", key, err)
	}
	return v, nil
}
