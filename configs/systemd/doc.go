// Package systemd holds no code: it is the systemd unit that runs ivrd
// (ivrd.service). Its test checks the unit with systemd-analyze verify and
// that it keeps the settings ivrd depends on.
package systemd
