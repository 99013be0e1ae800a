// Package ivrtest holds what tests of the ivr engine share, in the manner of
// net/http/httptest: an in-memory Channel (the test plays FreeSWITCH and
// orders the events itself, no socket), an in-memory CallLog, a fixed
// FlowSource, and Server, the real engine on a loopback ESL listener
// (NewServer returns it started with its Addr; Close drains it).
package ivrtest
