// Package dialer is fsivr's campaign engine: it places outbound calls for a
// campaign (contacts + what runs on answer + limits) through a Backend, with
// its state in a Store, so that a dialer killed at any instant and restarted
// dials nobody twice and several dialer processes share one campaign under
// one global line limit.
//
// # Pieces
//
//   - Campaign: trunks (ports = calls in flight, CPS = starts per second,
//     paced with golang.org/x/time/rate at burst 1 and a one-second window
//     guard), the answer action, caller id, ring timeout, the lifetime
//     attempt cap (MaxAttempts), retries by Disposition, calling Hours.
//   - Contacts: from CSV (ImportCSV streams it, with a validation report by
//     row and column) or the API; numbers normalised to E.164 with
//     nyaruka/phonenumbers; a time zone given or derived from the number.
//     A number that maps to several zones is called only when the hours hold
//     in every one; an unknown zone is never dialed.
//   - Disposition: the one typed set of outcomes. Busy, NoAnswer,
//     Congestion, Failed and Throttled may be retried (Campaign.Retries);
//     Answered and final causes never are. Throttled (the trunk's 503/480,
//     CHANUNAVAIL bursts) halves the trunk's pacing instead of counting as
//     busy.
//   - Backend: one blocking Originate per attempt; its return frees the
//     port. Optional Reconciler (after a crash, what became of an attempt
//     whose record exists) and Pinger (preflight).
//   - Store: MemStore (in-process, the embedded default) and RedisStore
//     (go-redis UniversalClient, one hash tag per campaign). Contacts are
//     claimed with a lease counted against the campaign's global limit; the
//     attempt record is written (Begin) before the originate; Finish stores
//     the outcome and the contact's next step.
//   - Engine: the event-driven loop. It sleeps until a contact is due, a
//     port frees (an outcome arrives) or pacing allows; it checks calling
//     hours and DNC immediately before each originate; it renews the leases
//     of live calls and takes over expired ones of dead dialers.
//   - Recorder: one record per attempt and per contact (CallLogRecorder
//     writes them through calllog, so a Redis outage spools them to disk).
//
// dialer/dialertest is a scripted fake Backend; dialer/amidial places calls
// over Asterisk AMI.
package dialer
