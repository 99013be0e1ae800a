// Package callfile is the dialer's Asterisk call-file backend (seed 004):
// each attempt is one `.call` file moved into the spool's outgoing/, and its
// outcome is read back from outgoing_done/.
//
// Three layers: File (file.go) validates and encodes every directive of the
// seed (Channel, CallerID `"name" <number>`, MaxRetries, RetryTime,
// WaitTime, Account, Context/Extension/Priority, Set, Application/Data,
// AlwaysDelete, Archive); no value may hold a control character, so no
// newline can smuggle a second directive, and over-long values are refused.
// Spool (spool.go) writes a file the way the seed insists: into a temporary
// directory on the spool's filesystem (a temp dir on another device is
// refused at start, since rename would then be a copy that Asterisk can
// read half-written), fsynced, owner and mode set when configured (Asterisk
// must be able to utime it), mtime set (a future mtime schedules the call),
// then renamed into outgoing/ under the attempt id, a name used once.
// Backend (backend.go) is the dialer.Backend: files are moved in paced
// (MoveInterval) and only while outgoing/ holds fewer than MaxSpool files
// (pbx_spool keeps a file there while it calls, so that count is the files
// waiting plus the calls in progress); every file says `Archive: yes`, and
// fsnotify on outgoing_done/ (plus a rescan, for shared directories) picks
// up its `Status: Completed | Expired | Failed`.
//
// Completed is Answered. Expired only says that every attempt failed; with a
// manager session (Config.AMI) the `failed` extension's UserEvent
// (`UserEvent(DialerFailed,Reason: ${REASON},CallID: ${CALLID})`, as in
// the captures) refines it: Reason 5 busy, 3 no answer, 8 congestion, and a
// hangup cause of a channel carrying the id (manager channelvars) 21
// rejected, 1/3/28 invalid number, 42 throttled. Without them Expired is
// Failed.
//
// Retries belong to the dialer's policy: MaxRetries is 0 unless a campaign
// opts into Asterisk's own (Config.MaxRetries/RetryTime). A remote Asterisk
// needs the spool directory shared with the dialer.
//
// After a crash Reconcile reads the spool: archived = ended, in outgoing/ =
// live, nowhere = never started (files are always archived; keep
// outgoing_done/ longer than a dialer lease).
package callfile
