package calllog_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/calllog"
)

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWriter(t, calllog.Config{Registerer: reg}, nil)
	w.Append(calllog.Entry{Call: "c", Kind: calllog.KindNode})
	closeWriter(t, w)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for _, name := range []string{"fsivr_calllog_entries_appended_total", "fsivr_calllog_entries_spooled_total",
		"fsivr_calllog_entries_lost_total", "fsivr_calllog_spool_errors_total", "fsivr_calllog_queue_length"} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s not registered (have %v)", name, got)
		}
	}
	if got["fsivr_calllog_entries_appended_total"] != 1 || got["fsivr_calllog_entries_spooled_total"] != 1 {
		t.Errorf("metric values %v", got)
	}
	// A second writer for another stream registers beside it (label "stream").
	w2 := newWriter(t, calllog.Config{Registerer: reg, Stream: "attempts", NoSummary: true}, nil)
	closeWriter(t, w2)
}
