package ivr

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/esl"
)

// Metrics are the Prometheus collectors of the IVR. A nil *Metrics records
// nothing, so tests and the simulator need none.
type Metrics struct {
	active     *prometheus.GaugeVec
	calls      *prometheus.CounterVec
	steps      *prometheus.CounterVec
	appLat     *prometheus.HistogramVec
	prefetchLt *prometheus.HistogramVec
	eslErrors  prometheus.Counter
	eslEvents  prometheus.Counter
	reactions  prometheus.Histogram

	// Children resolved once per label set: a labelled observation would
	// otherwise hash its label values and take the vector's lock.
	flows   sync.Map // flow name -> *flowMetrics
	appObs  sync.Map // app -> prometheus.Observer
	prefObs sync.Map // prefetchKey -> prometheus.Observer
}

// flowMetrics are the children of one flow's label value.
type flowMetrics struct {
	m      *Metrics
	flow   string
	active prometheus.Gauge
	ended  sync.Map // outcome label -> prometheus.Counter
	steps  sync.Map // stepKey -> prometheus.Counter
}

type stepKey struct{ node, outcome string }

type prefetchKey struct {
	name string
	ok   bool
}

// forFlow returns the children of flow's label value (nil for a nil m).
func (m *Metrics) forFlow(flow string) *flowMetrics {
	if m == nil {
		return nil
	}
	if v, ok := m.flows.Load(flow); ok {
		return v.(*flowMetrics)
	}
	v, _ := m.flows.LoadOrStore(flow, &flowMetrics{m: m, flow: flow, active: m.active.WithLabelValues(flow)})
	return v.(*flowMetrics)
}

// child returns cache[key], resolving it with make on first use.
func child[K comparable, C any](cache *sync.Map, key K, make func() C) C {
	if v, ok := cache.Load(key); ok {
		return v.(C)
	}
	v, _ := cache.LoadOrStore(key, make())
	return v.(C)
}

// NewMetrics creates the collectors and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fsivr_calls_active", Help: "Calls in progress, by flow.",
		}, []string{"flow"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_calls_total", Help: "Calls ended, by flow and outcome.",
		}, []string{"flow", "outcome"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_node_outcomes_total", Help: "Node outcomes fired, by flow, node and outcome.",
		}, []string{"flow", "node", "outcome"}),
		appLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fsivr_app_duration_seconds",
			Help:    "From sendmsg to the matching CHANNEL_EXECUTE_COMPLETE, by application.",
			Buckets: []float64{.01, .05, .1, .5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"app"}),
		prefetchLt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fsivr_prefetch_duration_seconds",
			Help:    "Prefetch (CRM) latency, by prefetch and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"prefetch", "outcome"}),
		eslErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsivr_esl_errors_total", Help: "ESL errors seen by sessions (failed sendmsg, no flow).",
		}),
		eslEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsivr_esl_events_total",
			Help: "Events read from FreeSWITCH's outbound sockets, added when each connection ends (CPU seconds / this = CPU per event).",
		}),
		reactions: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fsivr_event_reaction_seconds",
			Help: "From the ESL reader queuing a call's events to the session sending the command that answers them " +
				"(the first command after a batch of events; the socket write itself not included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.active, m.calls, m.steps, m.appLat, m.prefetchLt, m.eslErrors, m.eslEvents, m.reactions)
	}
	return m
}

func (fm *flowMetrics) callStarted() {
	if fm != nil {
		fm.active.Inc()
	}
}

func (fm *flowMetrics) callEnded(outcome string) {
	if fm != nil {
		fm.active.Dec()
		o := outcomeLabel(outcome)
		child(&fm.ended, o, func() prometheus.Counter { return fm.m.calls.WithLabelValues(fm.flow, o) }).Inc()
	}
}

// outcomeLabel keeps the label set small: "transfer:fifo_hst" -> "transfer".
func outcomeLabel(o string) string {
	for i := 0; i < len(o); i++ {
		if o[i] == ':' {
			return o[:i]
		}
	}
	return o
}

func (fm *flowMetrics) nodeDone(node, outcome string) {
	if fm != nil {
		child(&fm.steps, stepKey{node, outcome}, func() prometheus.Counter {
			return fm.m.steps.WithLabelValues(fm.flow, node, outcome)
		}).Inc()
	}
}

// reaction records how long a session took to answer events (see the
// fsivr_event_reaction_seconds help).
func (m *Metrics) reaction(d time.Duration) {
	if m != nil {
		m.reactions.Observe(d.Seconds())
	}
}

func (m *Metrics) appLatency(app string, d time.Duration) {
	if m != nil {
		child(&m.appObs, app, func() prometheus.Observer { return m.appLat.WithLabelValues(app) }).Observe(d.Seconds())
	}
}

func (m *Metrics) prefetch(name string, err error, d time.Duration) {
	if m != nil {
		k := prefetchKey{name, err == nil}
		child(&m.prefObs, k, func() prometheus.Observer {
			o := "ok"
			if !k.ok {
				o = "error"
			}
			return m.prefetchLt.WithLabelValues(name, o)
		}).Observe(d.Seconds())
	}
}

// connEnded counts the events one connection read (those handed to a
// waiter, queued for the session, or dropped as another channel's).
func (m *Metrics) connEnded(st esl.Stats) {
	if m != nil {
		m.eslEvents.Add(float64(st.EventsClaimed + st.EventsQueued + st.EventsDropped))
	}
}

func (m *Metrics) eslError() {
	if m != nil {
		m.eslErrors.Inc()
	}
}
