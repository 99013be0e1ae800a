//go:build race

package ivr_test

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
