// Package esldial is the dialer's FreeSWITCH backend: each attempt is one
// `bgapi originate` over esl's inbound Client, and the answered call runs a
// flow in ivrd, whose result comes back to the attempt.
//
//	bgapi originate {origination_uuid=<attempt id>,origination_caller_id_number=…,
//	  originate_timeout=…,ivr_flow=<flow>,fsivr_campaign=…,fsivr_contact=…,
//	  fsivr_attempt=<attempt id>,<contact vars>}<dial string> notify XML fsivr
//
// `notify XML fsivr` (Config.Exten/Dialplan/Context, or the campaign's
// answer exten/context) is the entry of configs/freeswitch/dialplan/fsivr.xml
// that hands the call to ivrd over the outbound socket; ivr_flow picks the
// flow (the campaign's answer flow, default notify).
//
// The attempt id is the channel's uuid, so every event is matched by
// Unique-ID; events of other channels are ignored. The call is registered
// before the bgapi is sent (a failing originate's HANGUP_COMPLETE may come
// before its BACKGROUND_JOB, as captured); esl's Client correlates the
// BACKGROUND_JOB by the Job-UUID it sends. `-ERR <CAUSE>` in the job, or
// CHANNEL_HANGUP_COMPLETE's Hangup-Cause for a call never answered, maps to
// a disposition (causes.go: USER_BUSY busy; NO_ANSWER, NO_USER_RESPONSE no
// answer; CALL_REJECTED rejected; UNALLOCATED_NUMBER, NO_ROUTE_DESTINATION
// invalid number; NORMAL_TEMPORARY_FAILURE failed; NORMAL_CIRCUIT_CONGESTION
// congestion; DESTINATION_OUT_OF_ORDER, which FreeSWITCH's
// sessions-per-second throttle answers, throttled). An answered call is
// Answered whatever its cause, with the flow's result variables
// (Config.ResultVars, default notify_result) from its HANGUP_COMPLETE in
// Outcome.Vars.
//
// Every value is checked before anything is sent: no control characters,
// commas (the variable separator), braces or brackets (they would close or
// nest the variable block), quotes; the dial string, exten and context
// carry no blank; a value with a blank is single-quoted.
//
// Reconciliation after a crash: a call whose HANGUP_COMPLETE this process
// saw although nobody here waited for it (another dialer's, tagged
// fsivr_attempt) ended so; one FreeSWITCH still has (`uuid_exists`) is live;
// otherwise FreeSWITCH keeps no trace and the attempt, which may have rung,
// is Unknown: never dialed twice.
package esldial
