package dialer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps campaigns in Redis (single, Sentinel or Cluster through
// a go-redis UniversalClient), so a restarted dialer resumes and several
// dialers share a campaign. Every key of a campaign carries the hash tag
// "{camp:<id>}" and so lives in one Cluster slot:
//
//	{camp:<id>}:meta          hash: state, limit, counters (contacts, started,
//	                          retrying, d:<disposition>, f:<final status>)
//	{camp:<id>}:due           sorted set: contact id by next-due time (ms)
//	{camp:<id>}:leases        sorted set: contact id by lease expiry (ms);
//	                          its size is the global semaphore
//	{camp:<id>}:c:<contact>   hash: j (contact JSON), st, own, att, cur, n:<disposition>
//	{camp:<id>}:h:<contact>   list: the contact's attempt ids in order
//	{camp:<id>}:a:<attempt>   hash: contact, number, trunk, owner, seq, start,
//	                          answer, end (ms), disp, reason, cause
//
// Each state change is one Lua script, so a claim, the attempt record and
// an outcome are atomic.
type RedisStore struct {
	c redis.UniversalClient
}

// NewRedisStore returns a store on client.
func NewRedisStore(client redis.UniversalClient) *RedisStore { return &RedisStore{c: client} }

func prefix(campaign string) string { return "{camp:" + campaign + "}:" }

func keyMeta(campaign string) string   { return prefix(campaign) + "meta" }
func keyDue(campaign string) string    { return prefix(campaign) + "due" }
func keyLeases(campaign string) string { return prefix(campaign) + "leases" }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// mapErr turns the scripts' error codes into the package's sentinels.
func mapErr(campaign string, err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if errors.As(err, &re) {
		// Redis prefixes a bare code with "ERR " (version-dependent).
		msg := strings.TrimPrefix(re.Error(), "ERR ")
		code, _, _ := strings.Cut(msg, " ")
		switch code {
		case "NOCAMPAIGN":
			return fmt.Errorf("%w: %q", ErrNoCampaign, campaign)
		case "PAUSED":
			return ErrPaused
		case "CANCELLED":
			return ErrCancelled
		case "LEASELOST":
			return fmt.Errorf("%w: %s", ErrLeaseLost, msg)
		}
	}
	return fmt.Errorf("dialer: redis store %s: %w", campaign, err)
}

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, campaign string, limit int) error {
	return mapErr(campaign, scriptCreate.Run(ctx, s.c, []string{keyMeta(campaign)}, prefix(campaign), limit).Err())
}

// Add implements Store.
func (s *RedisStore) Add(ctx context.Context, campaign string, contacts []Contact, due []time.Time) (int, error) {
	if len(due) != len(contacts) {
		return 0, fmt.Errorf("dialer: %d contacts, %d due times", len(contacts), len(due))
	}
	added := 0
	const chunk = 500
	for i := 0; i < len(contacts); i += chunk {
		end := min(i+chunk, len(contacts))
		args := []any{prefix(campaign)}
		for j := i; j < end; j++ {
			b, err := json.Marshal(contacts[j])
			if err != nil {
				return added, fmt.Errorf("dialer: encode contact %q: %w", contacts[j].ID, err)
			}
			args = append(args, contacts[j].ID, b, ms(due[j]))
		}
		n, err := scriptAdd.Run(ctx, s.c, []string{keyMeta(campaign), keyDue(campaign)}, args...).Int()
		if err != nil {
			return added, mapErr(campaign, err)
		}
		added += n
	}
	return added, nil
}

func pairs(v any) map[string]string {
	arr, _ := v.([]any)
	m := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m
}

func leaseFrom(owner string, h map[string]string, exp int64) (Lease, error) {
	var c Contact
	if err := json.Unmarshal([]byte(h["j"]), &c); err != nil {
		return Lease{}, fmt.Errorf("dialer: decode contact: %w", err)
	}
	att, _ := strconv.Atoi(h["att"])
	counts := map[Disposition]int{}
	for k, v := range h {
		if d, ok := strings.CutPrefix(k, "n:"); ok {
			n, _ := strconv.Atoi(v)
			counts[Disposition(d)] = n
		}
	}
	return Lease{Contact: c, Owner: owner, Expires: time.UnixMilli(exp), Status: ContactStatus(h["st"]),
		Attempts: att, Counts: counts}, nil
}

func attemptFrom(id string, h map[string]string) Attempt {
	seq, _ := strconv.Atoi(h["seq"])
	return Attempt{
		ID: id, Contact: h["contact"], Number: h["number"], Trunk: h["trunk"], Owner: h["owner"], Seq: seq,
		Started: fromMs(h["start"]), Answered: fromMs(h["answer"]), Ended: fromMs(h["end"]),
		Disposition: Disposition(h["disp"]), Reason: h["reason"], Cause: h["cause"],
	}
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// Claim implements Store.
func (s *RedisStore) Claim(ctx context.Context, campaign string, r ClaimRequest) ([]Lease, error) {
	res, err := scriptClaim.Run(ctx, s.c, []string{keyMeta(campaign), keyDue(campaign), keyLeases(campaign)},
		prefix(campaign), ms(r.Now), r.Max, r.Lease.Milliseconds(), r.Owner).Slice()
	if err != nil {
		return nil, mapErr(campaign, err)
	}
	out := make([]Lease, 0, len(res))
	for _, item := range res {
		row, _ := item.([]any)
		if len(row) != 3 {
			return out, fmt.Errorf("dialer: redis store %s: malformed claim reply", campaign)
		}
		l, err := leaseFrom(r.Owner, pairs(row[1]), toInt64(row[2]))
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Begin implements Store.
func (s *RedisStore) Begin(ctx context.Context, campaign string, a Attempt) error {
	return mapErr(campaign, scriptBegin.Run(ctx, s.c, []string{keyMeta(campaign), keyLeases(campaign)},
		prefix(campaign), a.Owner, a.Contact, a.ID, a.Number, a.Trunk, ms(a.Started)).Err())
}

// Renew implements Store.
func (s *RedisStore) Renew(ctx context.Context, campaign, owner string, ids []string, until time.Time) ([]string, error) {
	args := make([]any, 0, 3+len(ids))
	args = append(args, prefix(campaign), owner, ms(until))
	for _, id := range ids {
		args = append(args, id)
	}
	lost, err := scriptRenew.Run(ctx, s.c, []string{keyLeases(campaign)}, args...).StringSlice()
	return lost, mapErr(campaign, err)
}

// Finish implements Store.
func (s *RedisStore) Finish(ctx context.Context, campaign, owner string, r Result) error {
	a := r.Attempt
	err := scriptFinish.Run(ctx, s.c, []string{keyMeta(campaign), keyLeases(campaign), keyDue(campaign)},
		prefix(campaign), owner, a.ID, string(a.Disposition), a.Reason, a.Cause, ms(a.Answered), ms(a.Ended),
		ms(r.Next.Due), string(r.Next.Final)).Err()
	var re redis.Error
	if errors.As(err, &re) && strings.HasPrefix(strings.TrimPrefix(re.Error(), "ERR "), "NOATTEMPT") {
		return fmt.Errorf("dialer: finish: no attempt %q", a.ID)
	}
	return mapErr(campaign, err)
}

// Release implements Store.
func (s *RedisStore) Release(ctx context.Context, campaign, owner, id string, next Next) error {
	return mapErr(campaign, scriptRelease.Run(ctx, s.c, []string{keyMeta(campaign), keyLeases(campaign), keyDue(campaign)},
		prefix(campaign), owner, id, ms(next.Due), string(next.Final)).Err())
}

// Takeover implements Store.
func (s *RedisStore) Takeover(ctx context.Context, campaign, owner string, now time.Time, lease time.Duration, max int) ([]Lease, error) {
	res, err := scriptTakeover.Run(ctx, s.c, []string{keyLeases(campaign)},
		prefix(campaign), owner, ms(now), lease.Milliseconds(), max).Slice()
	if err != nil {
		return nil, mapErr(campaign, err)
	}
	out := make([]Lease, 0, len(res))
	for _, item := range res {
		row, _ := item.([]any)
		if len(row) != 5 {
			return out, fmt.Errorf("dialer: redis store %s: malformed takeover reply", campaign)
		}
		l, err := leaseFrom(owner, pairs(row[1]), toInt64(row[2]))
		if err != nil {
			return out, err
		}
		if cur, _ := row[3].(string); cur != "" {
			a := attemptFrom(cur, pairs(row[4]))
			l.Attempt = &a
		}
		out = append(out, l)
	}
	return out, nil
}

// NextDue implements Store.
func (s *RedisStore) NextDue(ctx context.Context, campaign string) (time.Time, bool, error) {
	zs, err := s.c.ZRangeWithScores(ctx, keyDue(campaign), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, mapErr(campaign, err)
	}
	if len(zs) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(zs[0].Score)), true, nil
}

// SetState implements Store.
func (s *RedisStore) SetState(ctx context.Context, campaign string, st RunState) error {
	return mapErr(campaign, scriptSetState.Run(ctx, s.c, []string{keyMeta(campaign)}, string(st)).Err())
}

// Progress implements Store.
func (s *RedisStore) Progress(ctx context.Context, campaign string) (Progress, error) {
	pipe := s.c.Pipeline()
	meta := pipe.HGetAll(ctx, keyMeta(campaign))
	due := pipe.ZCard(ctx, keyDue(campaign))
	leases := pipe.ZCard(ctx, keyLeases(campaign))
	if _, err := pipe.Exec(ctx); err != nil {
		return Progress{}, mapErr(campaign, err)
	}
	m := meta.Val()
	if len(m) == 0 {
		return Progress{}, fmt.Errorf("%w: %q", ErrNoCampaign, campaign)
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	p := Progress{
		State: RunState(m["state"]), Contacts: atoi("contacts"), Due: int(due.Val()), InFlight: int(leases.Val()),
		Retrying: atoi("retrying"), Attempts: atoi("started"),
		ByDisposition: map[Disposition]int{}, Final: map[ContactStatus]int{},
	}
	for k, v := range m {
		n, _ := strconv.Atoi(v)
		if d, ok := strings.CutPrefix(k, "d:"); ok {
			p.ByDisposition[Disposition(d)] = n
		} else if f, ok := strings.CutPrefix(k, "f:"); ok {
			p.Final[ContactStatus(f)] = n
		}
	}
	return p, nil
}

// Contact implements Store.
func (s *RedisStore) Contact(ctx context.Context, campaign, id string) (ContactStatus, []Attempt, error) {
	p := prefix(campaign)
	st, err := s.c.HGet(ctx, p+"c:"+id, "st").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil, fmt.Errorf("dialer: no contact %q in %q", id, campaign)
	}
	if err != nil {
		return "", nil, mapErr(campaign, err)
	}
	ids, err := s.c.LRange(ctx, p+"h:"+id, 0, -1).Result()
	if err != nil {
		return "", nil, mapErr(campaign, err)
	}
	pipe := s.c.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, aid := range ids {
		cmds[i] = pipe.HGetAll(ctx, p+"a:"+aid)
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return "", nil, mapErr(campaign, err)
		}
	}
	out := make([]Attempt, len(ids))
	for i, aid := range ids {
		out[i] = attemptFrom(aid, cmds[i].Val())
	}
	return ContactStatus(st), out, nil
}

var _ Store = (*RedisStore)(nil)
