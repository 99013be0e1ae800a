package crm

import (
	"container/list"
	"sync"
	"time"
)

// cache is a bounded LRU of successful answers with a TTL, safe for
// concurrent use. Failures are never stored: a CRM that was down a moment ago
// must be asked again on the next call.
type cache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front = most recently used; values are *cacheEntry
	items map[string]*list.Element
}

type cacheEntry struct {
	key     string
	result  Result
	expires time.Time
}

// newCache returns nil (no caching) when size is negative.
func newCache(size int, ttl time.Duration, now func() time.Time) *cache {
	if size < 0 {
		return nil
	}
	return &cache{size: size, ttl: ttl, now: now, order: list.New(), items: make(map[string]*list.Element, size)}
}

func (c *cache) get(key string) (Result, bool) {
	if c == nil {
		return Result{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

func (c *cache) put(key string, r Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	expires := c.now().Add(c.ttl)
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		e.result, e.expires = r, expires
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, result: r, expires: expires})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
}
