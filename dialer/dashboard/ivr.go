package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
)

// window is how far back outcomes, edge counts and calls per minute look.
const window = time.Hour

// IVRView is what the IVR is doing now.
type IVRView struct {
	InProgress    int                       `json:"inProgress"`
	ByFlow        map[string]int            `json:"byFlow"`
	ByNode        map[string]map[string]int `json:"byNode"`      // flow -> node -> calls there now
	Edges         map[string]map[string]int `json:"edges"`       // flow -> "from>to" -> traversals in the last hour
	CallsPerMin   int                       `json:"callsPerMin"` // calls started in the last minute
	Outcomes      map[string]int            `json:"outcomes"`    // hangup outcomes in the last hour
	StreamHealthy bool                      `json:"streamHealthy"`
}

type ivrCall struct {
	flow, node string
}

type stamped struct {
	at   time.Time
	flow string
	key  string
}

// ivr follows the call-log stream through its own consumer group.
type ivr struct {
	client   redis.UniversalClient
	stream   string
	group    string
	consumer string
	log      *slog.Logger
	onChg    func()
	now      func() time.Time

	mu       sync.Mutex
	calls    map[string]*ivrCall
	starts   []time.Time
	outcomes []stamped
	edges    []stamped
	healthy  bool
}

func newIVR(client redis.UniversalClient, stream, group, consumer string, log *slog.Logger, onChg func()) *ivr {
	return &ivr{client: client, stream: stream, group: group, consumer: consumer, log: log, onChg: onChg,
		now: time.Now, calls: map[string]*ivrCall{}}
}

// run reads until ctx ends, retrying after Redis trouble.
func (v *ivr) run(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := v.session(ctx)
		if ctx.Err() != nil {
			return
		}
		v.setHealthy(false)
		v.log.Warn("dashboard: call-log stream", "stream", v.stream, "group", v.group, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func (v *ivr) setHealthy(ok bool) {
	v.mu.Lock()
	chg := v.healthy != ok
	v.healthy = ok
	v.mu.Unlock()
	if chg {
		v.onChg()
	}
}

func (v *ivr) session(ctx context.Context) error {
	err := v.client.XGroupCreateMkStream(ctx, v.stream, v.group, "$").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") { // the group exists
		return err
	}
	v.setHealthy(true)
	id := "0" // this consumer's pending entries first, then new ones
	for ctx.Err() == nil {
		res, err := v.client.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: v.group, Consumer: v.consumer, Streams: []string{v.stream, id}, Count: 500, Block: time.Second,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		n := 0
		for _, s := range res {
			ids := make([]string, 0, len(s.Messages))
			for _, m := range s.Messages {
				v.apply(m.Values)
				ids = append(ids, m.ID)
			}
			n += len(ids)
			if len(ids) > 0 {
				if err := v.client.XAck(ctx, v.stream, v.group, ids...).Err(); err != nil {
					return err
				}
			}
		}
		if n == 0 && id == "0" {
			id = ">"
		}
		if n > 0 {
			v.onChg()
		}
	}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// apply folds one stream entry into the state.
func (v *ivr) apply(f map[string]any) {
	call, flow, node := str(f, calllog.FieldCall), str(f, calllog.FieldFlow), str(f, calllog.FieldNode)
	if call == "" {
		return
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.calls[call]
	switch calllog.Kind(str(f, calllog.FieldKind)) {
	case calllog.KindCallStart:
		if c == nil {
			v.calls[call] = &ivrCall{flow: flow, node: node}
		}
		v.starts = append(v.starts, now)
	case calllog.KindNode:
		if c == nil {
			c = &ivrCall{flow: flow}
			v.calls[call] = c
		}
		if c.flow == "" {
			c.flow = flow
		}
		if c.node != "" && node != "" {
			v.edges = append(v.edges, stamped{at: now, flow: c.flow, key: c.node + ">" + node})
		}
		if node != "" {
			c.node = node
		}
	case calllog.KindHangup:
		out := str(f, "outcome")
		if out == "" {
			out = "unknown"
		}
		fl := flow
		if c != nil && c.flow != "" {
			fl = c.flow
		}
		v.outcomes = append(v.outcomes, stamped{at: now, flow: fl, key: out})
		delete(v.calls, call)
	}
}

func trim(s []stamped, since time.Time) []stamped {
	i := sort.Search(len(s), func(i int) bool { return !s[i].at.Before(since) })
	return s[i:]
}

// snapshot returns the current view (and drops what left the window).
func (v *ivr) snapshot() IVRView {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.outcomes = trim(v.outcomes, now.Add(-window))
	v.edges = trim(v.edges, now.Add(-window))
	i := sort.Search(len(v.starts), func(i int) bool { return !v.starts[i].Before(now.Add(-time.Minute)) })
	v.starts = v.starts[i:]
	out := IVRView{InProgress: len(v.calls), ByFlow: map[string]int{}, ByNode: map[string]map[string]int{},
		Edges: map[string]map[string]int{}, CallsPerMin: len(v.starts), Outcomes: map[string]int{}, StreamHealthy: v.healthy}
	for _, c := range v.calls {
		out.ByFlow[c.flow]++
		if out.ByNode[c.flow] == nil {
			out.ByNode[c.flow] = map[string]int{}
		}
		out.ByNode[c.flow][c.node]++
	}
	for _, e := range v.edges {
		if out.Edges[e.flow] == nil {
			out.Edges[e.flow] = map[string]int{}
		}
		out.Edges[e.flow][e.key]++
	}
	for _, o := range v.outcomes {
		out.Outcomes[o.key]++
	}
	return out
}
