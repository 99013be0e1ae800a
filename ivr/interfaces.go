package ivr

import (
	"context"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/flows"
)

// FlowSource hands out the current compiled version of a flow. A call keeps
// the *flows.Flow it started with; a reload only changes what later calls get.
// *flows.Registry satisfies it.
type FlowSource interface {
	Get(name string) (*flows.Flow, bool)
}

// CallLog receives the call's log entries. Append must return at once: the
// call goroutine never waits on Redis. *calllog.Writer satisfies it.
type CallLog interface {
	Append(e calllog.Entry)
}

// Prefetcher looks something up for a call (by caller id for the CRM) and
// returns the fields later nodes may use as ${<prefetch>.<field>}.
// *crm.Client satisfies it. An error with a NotFound() bool method that
// returns true (crm.ErrNotFound) means "the key is unknown" and is logged
// as not_found, not as a failure.
type Prefetcher interface {
	Prefetch(ctx context.Context, key string) (map[string]string, error)
}

// PrefetchFunc adapts a function to Prefetcher.
type PrefetchFunc func(ctx context.Context, key string) (map[string]string, error)

// Prefetch calls f.
func (f PrefetchFunc) Prefetch(ctx context.Context, key string) (map[string]string, error) {
	return f(ctx, key)
}

// OverrideStore reads the ops override of a time node. An empty value and a
// nil error mean "no override".
type OverrideStore interface {
	Override(ctx context.Context, key string) (string, error)
}

// MapOverrides is an in-memory OverrideStore for tests, simulate and the demo.
type MapOverrides map[string]string

// Override returns m[key].
func (m MapOverrides) Override(_ context.Context, key string) (string, error) {
	return m[key], nil
}

// discardLog is the CallLog used when none is configured.
type discardLog struct{}

func (discardLog) Append(calllog.Entry) {}

// defaultPrefetchTimeout bounds a prefetch whose flow declares no timeout.
const defaultPrefetchTimeout = 2 * time.Second

// defaultOverrideTimeout bounds the override read of a time node that
// declares none: a Redis that does not answer in time means "no override".
const defaultOverrideTimeout = 200 * time.Millisecond
