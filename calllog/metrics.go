package calllog

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the writer's counters since NewWriter. They are also exported as
// Prometheus metrics (fsivr_calllog_*) when Config.Registerer is set.
type Stats struct {
	Appended    uint64 // entries handed to Append
	Written     uint64 // entries newly written to Redis
	Duplicates  uint64 // replayed entries Redis already had (skipped by dedupe)
	Spooled     uint64 // entries written to the spool
	Replayed    uint64 // spooled entries later acknowledged by Redis (written or duplicate)
	Lost        uint64 // entries dropped: spool unwritable while Redis was down, spool file removed under the writer, or Append after Close
	Corrupt     uint64 // spool lines skipped: checksum mismatch or undecodable (torn write, flipped bit)
	Quarantined uint64 // unreadable spool segments moved to quarantine/
	Missing     uint64 // sequence gaps of earlier writers found in the spool at replay: entries a crashed process held only in memory (and entries it already reported lost or corrupt)
	Capped      uint64 // entries dropped because their call reached MaxEntriesPerCall
	Truncated   uint64 // values or field names cut to MaxValueBytes, or fields beyond MaxFields dropped
	SpoolErrors uint64 // spool I/O errors (write, sync, read, remove)
	RedisErrors uint64 // failed batch writes or probes
	TrimRefused uint64 // written batches whose XTRIM Redis refused (the stream grows past MaxLen)
	Queued      int    // entries in the in-memory queues now
	Segments    int    // spool segment files now
}

type counters struct {
	appended, written, duplicates, spooled, replayed, lost atomic.Uint64
	corrupt, quarantined, missing, capped, truncated       atomic.Uint64
	spoolErrors, redisErrors, trimRefused                  atomic.Uint64
}

// register exports the counters; queued and segments read the gauges.
func (c *counters) register(reg prometheus.Registerer, stream string, queued, segments func() float64) error {
	if reg == nil {
		return nil
	}
	labels := prometheus.Labels{"stream": stream}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "fsivr", Subsystem: "calllog", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "fsivr", Subsystem: "calllog", Name: name, Help: help, ConstLabels: labels,
		}, f)
	}
	for _, col := range []prometheus.Collector{
		counter("entries_appended_total", "Entries handed to Append.", &c.appended),
		counter("entries_written_total", "Entries newly written to Redis.", &c.written),
		counter("entries_duplicate_total", "Replayed entries Redis already had, skipped by dedupe.", &c.duplicates),
		counter("entries_spooled_total", "Entries written to the on-disk spool.", &c.spooled),
		counter("entries_replayed_total", "Spooled entries acknowledged by Redis.", &c.replayed),
		counter("entries_lost_total", "Entries dropped (spool unwritable while Redis down, spool file removed under the writer, or Append after Close).", &c.lost),
		counter("spool_corrupt_records_total", "Spool lines skipped: checksum mismatch or undecodable.", &c.corrupt),
		counter("spool_quarantined_segments_total", "Unreadable spool segments moved to quarantine/.", &c.quarantined),
		counter("entries_missing_total", "Sequence gaps of earlier writers found at replay (entries a crashed process held only in memory).", &c.missing),
		counter("entries_capped_total", "Entries dropped because their call reached MaxEntriesPerCall.", &c.capped),
		counter("values_truncated_total", "Values or field names cut to MaxValueBytes, or fields beyond MaxFields dropped.", &c.truncated),
		counter("spool_errors_total", "Spool I/O errors (write, sync, read, remove).", &c.spoolErrors),
		counter("redis_errors_total", "Failed batch writes or probes.", &c.redisErrors),
		counter("trim_refused_total", "Written batches whose XTRIM Redis refused (the user's ACL lacks it): the stream is not trimmed.", &c.trimRefused),
		gauge("queue_length", "Entries in the in-memory queues.", queued),
		gauge("spool_segments", "Spool segment files on disk.", segments),
	} {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("calllog: register metrics: %w", err)
		}
	}
	return nil
}
