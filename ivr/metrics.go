package ivr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	}
	if reg != nil {
		reg.MustRegister(m.active, m.calls, m.steps, m.appLat, m.prefetchLt, m.eslErrors)
	}
	return m
}

func (m *Metrics) callStarted(flow string) {
	if m != nil {
		m.active.WithLabelValues(flow).Inc()
	}
}

func (m *Metrics) callEnded(flow, outcome string) {
	if m != nil {
		m.active.WithLabelValues(flow).Dec()
		m.calls.WithLabelValues(flow, outcomeLabel(outcome)).Inc()
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

func (m *Metrics) nodeDone(flow, node, outcome string) {
	if m != nil {
		m.steps.WithLabelValues(flow, node, outcome).Inc()
	}
}

func (m *Metrics) appLatency(app string, d time.Duration) {
	if m != nil {
		m.appLat.WithLabelValues(app).Observe(d.Seconds())
	}
}

func (m *Metrics) prefetch(name string, err error, d time.Duration) {
	if m != nil {
		o := "ok"
		if err != nil {
			o = "error"
		}
		m.prefetchLt.WithLabelValues(name, o).Observe(d.Seconds())
	}
}

func (m *Metrics) eslError() {
	if m != nil {
		m.eslErrors.Inc()
	}
}
