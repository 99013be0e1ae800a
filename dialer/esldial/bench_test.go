package esldial_test

import (
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/esldial"
)

// BenchmarkCommand: validating and building one originate line.
func BenchmarkCommand(b *testing.B) {
	be := esldial.New(esldial.Config{})
	c := dialer.Call{AttemptID: "0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90", Campaign: "reminders", ContactID: "c000123",
		Channel: "sofia/gateway/carrier/+12125550100", CallerID: `"Clinic" <+12125550000>`, Timeout: 30 * time.Second,
		Vars: map[string]string{"name": "Ann Lee", "appointment": "2026-12-03T09:30"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Command(c); err != nil {
			b.Fatal(err)
		}
	}
}
