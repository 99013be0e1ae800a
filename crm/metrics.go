package crm

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Lookup outcomes, the values of the "outcome" label of fsivr_crm_lookups_total.
const (
	OutcomeOK          = "ok"
	OutcomeCached      = "cached"
	OutcomeNotFound    = "not_found"
	OutcomeInvalid     = "invalid"
	OutcomeUnavailable = "unavailable"
	OutcomeCircuitOpen = "circuit_open"
	OutcomeBadCallerID = "bad_caller_id"
)

// metrics is nil when no Registerer was configured; its methods accept that.
type metrics struct {
	latency  prometheus.Histogram
	outcomes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "fsivr",
			Subsystem: "crm",
			Name:      "lookup_duration_seconds",
			Help:      "Time a Lookup call took, cache hits included.",
			Buckets:   []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fsivr",
			Subsystem: "crm",
			Name:      "lookups_total",
			Help:      "CRM lookups by outcome (ok, cached, not_found, invalid, unavailable, circuit_open, bad_caller_id).",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.latency, m.outcomes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("crm metrics: %w", err)
		}
	}
	// Pre-create every outcome so dashboards see zeros, not gaps.
	for _, o := range []string{OutcomeOK, OutcomeCached, OutcomeNotFound, OutcomeInvalid, OutcomeUnavailable, OutcomeCircuitOpen, OutcomeBadCallerID} {
		m.outcomes.WithLabelValues(o)
	}
	return m, nil
}

func (m *metrics) observe(outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.latency.Observe(seconds)
	m.outcomes.WithLabelValues(outcome).Inc()
}
