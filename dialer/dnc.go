package dialer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// DNC is a do-not-call list, checked at claim time immediately before the
// originate (a number added after its contact was queued is still never
// dialed).
type DNC interface {
	Contains(ctx context.Context, e164 string) (bool, error)
}

// DNCSet is an in-memory DNC list (from a file or the API); safe for
// concurrent use, and Add works while a campaign runs.
type DNCSet struct {
	mu  sync.RWMutex
	set map[string]struct{}
}

// NewDNCSet returns a list holding numbers (E.164).
func NewDNCSet(numbers ...string) *DNCSet {
	s := &DNCSet{set: map[string]struct{}{}}
	s.Add(numbers...)
	return s
}

// Add puts numbers on the list.
func (s *DNCSet) Add(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.set[n] = struct{}{}
	}
}

// Contains implements DNC.
func (s *DNCSet) Contains(_ context.Context, n string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.set[n]
	return ok, nil
}

// Len is the number of listed numbers.
func (s *DNCSet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.set)
}

// ReadDNC reads a DNC file: one number per line (any format the normalizer
// accepts; blank lines and lines starting with # are ignored). A line that
// is not a valid number is an error naming it: a DNC list must not be
// silently incomplete.
func ReadDNC(r io.Reader, n *Normalizer) (*DNCSet, error) {
	s := NewDNCSet()
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		raw := strings.TrimSpace(sc.Text())
		if raw == "" || strings.HasPrefix(raw, "#") {
			continue
		}
		e164, _, err := n.Number(raw)
		if err != nil {
			return nil, fmt.Errorf("dialer: DNC line %d %q: %w", line, raw, err)
		}
		s.Add(e164)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dialer: read DNC: %w", err)
	}
	return s, nil
}

// RedisDNC is a DNC list kept in a Redis set of E.164 numbers.
type RedisDNC struct {
	Client redis.UniversalClient
	Key    string // e.g. "{fsivr}:dnc"
}

// Contains implements DNC.
func (d RedisDNC) Contains(ctx context.Context, n string) (bool, error) {
	ok, err := d.Client.SIsMember(ctx, d.Key, n).Result()
	if err != nil {
		return false, fmt.Errorf("dialer: DNC %s: %w", d.Key, err)
	}
	return ok, nil
}
