package callfile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer/callfile"
)

func benchFile() callfile.File {
	return callfile.File{Channel: "PJSIP/+12125550100@carrier", CallerIDName: "Clinic", CallerIDNumber: "+12125550000",
		WaitTime: 30 * time.Second, Context: "notify", Extension: "s", Priority: "1",
		Set: [][2]string{{"CALLID", "0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90"}, {"FSIVR_CAMPAIGN", "reminders"},
			{"FSIVR_CONTACT", "c000123"}, {"name", "Ann Lee"}, {"appointment", "2026-12-03T09:30"}}, Archive: true}
}

// BenchmarkEncode: validating and encoding one call file.
func BenchmarkEncode(b *testing.B) {
	f := benchFile()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmit: one call file written, fsynced, chmoded, mtime set and
// renamed into outgoing/ (plus the directory fsync): the most files per
// second one dialer can hand pbx_spool on this disk.
func BenchmarkSubmit(b *testing.B) {
	sp, err := callfile.OpenSpool(b.TempDir(), "", nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	f := benchFile()
	content, err := f.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := sp.Submit(fmt.Sprintf("a%08d.call", i), content, time.Time{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
