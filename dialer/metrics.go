package dialer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics; one set per process, shared
// by every campaign it runs (create them once, pass them to every engine).
type Metrics struct {
	Originates      *prometheus.CounterVec // by trunk, disposition
	InFlight        *prometheus.GaugeVec   // by campaign
	PacingRate      *prometheus.GaugeVec   // by trunk: current calls/s after throttling back-off
	Claims          *prometheus.CounterVec // by campaign
	Reconciliations *prometheus.CounterVec // by state
	StoreErrors     *prometheus.CounterVec // by operation
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Originates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_dialer_originates_total", Help: "Attempts finished, by trunk and disposition.",
		}, []string{"trunk", "disposition"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fsivr_dialer_in_flight", Help: "Calls in flight from this process.",
		}, []string{"campaign"}),
		PacingRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fsivr_dialer_pacing_cps", Help: "Current pacing of a trunk in calls per second (lowered while the trunk throttles).",
		}, []string{"trunk"}),
		Claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_dialer_claims_total", Help: "Contacts claimed from the store.",
		}, []string{"campaign"}),
		Reconciliations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_dialer_reconciliations_total", Help: "Taken-over attempts reconciled, by state found.",
		}, []string{"state"}),
		StoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsivr_dialer_store_errors_total", Help: "Store operations that failed (retried), by operation.",
		}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Originates, m.InFlight, m.PacingRate, m.Claims, m.Reconciliations, m.StoreErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dialer: register metrics: %w", err)
		}
	}
	return m, nil
}
