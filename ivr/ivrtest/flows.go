package ivrtest

import "github.com/fsivr/fsivr/flows"

// Flows is an ivr.FlowSource over a fixed set of compiled flows, by name.
type Flows map[string]*flows.Flow

// Get returns the named flow.
func (m Flows) Get(name string) (*flows.Flow, bool) {
	f, ok := m[name]
	return f, ok
}
