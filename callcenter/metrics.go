package callcenter

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the call-centre stream's Prometheus metrics. A nil *Metrics
// counts nothing.
type Metrics struct {
	subscribers prometheus.Gauge
	events      *prometheus.CounterVec
	byType      map[Type]prometheus.Counter // events' children, looked up once
	dropped     prometheus.Counter
	refused     prometheus.Counter
	reconnects  prometheus.Counter
	rebuild     prometheus.Histogram
	amiEvents   prometheus.Counter
}

// NewMetrics registers the metrics with reg:
// fsivr_callcenter_subscribers, fsivr_callcenter_events_total{type},
// fsivr_callcenter_slow_clients_dropped_total,
// fsivr_callcenter_refused_total, fsivr_callcenter_ami_reconnects_total,
// fsivr_callcenter_rebuild_duration_seconds and
// fsivr_callcenter_ami_events_total.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "subscribers", Help: "SSE subscribers connected now."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "events_total", Help: "Digested events published, by type."}, []string{"type"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "slow_clients_dropped_total", Help: "Subscribers dropped because their buffer was full."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "refused_total", Help: "Requests refused (bad token or outside its scope)."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "ami_reconnects_total", Help: "AMI (re)connections after which the state was rebuilt."}),
		rebuild: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "rebuild_duration_seconds", Help: "Time the list actions of a rebuild took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		amiEvents: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fsivr", Subsystem: "callcenter",
			Name: "ami_events_total", Help: "AMI events received on the shared connection (after the server-side filter)."}),
	}
	for _, c := range []prometheus.Collector{m.subscribers, m.events, m.dropped, m.refused, m.reconnects, m.rebuild, m.amiEvents} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("callcenter metrics: %w", err)
		}
	}
	m.byType = map[Type]prometheus.Counter{}
	for _, t := range []Type{TypeAgentName, TypeExtensionStatus, TypeQueueMemberStatus, TypePhoneNumber, TypeQueueCount,
		TypeAgentComplete, TypeOriginateFailed, TypeStale, TypeResynced} {
		m.byType[t] = m.events.WithLabelValues(string(t))
	}
	return m, nil
}

func (m *Metrics) published(t Type) {
	if m == nil {
		return
	}
	if c, ok := m.byType[t]; ok {
		c.Inc()
		return
	}
	m.events.WithLabelValues(string(t)).Inc()
}

func (m *Metrics) subscriberAdded() {
	if m != nil {
		m.subscribers.Inc()
	}
}

func (m *Metrics) subscriberGone(slow bool) {
	if m == nil {
		return
	}
	m.subscribers.Dec()
	if slow {
		m.dropped.Inc()
	}
}

func (m *Metrics) refusal() {
	if m != nil {
		m.refused.Inc()
	}
}

func (m *Metrics) reconnected(seconds float64) {
	if m != nil {
		m.reconnects.Inc()
		m.rebuild.Observe(seconds)
	}
}

func (m *Metrics) amiEvent() {
	if m != nil {
		m.amiEvents.Inc()
	}
}
