// Package ami speaks the Asterisk Manager Interface (TCP port 5038): log
// in, send actions, receive events, and follow originated calls to one
// outcome each. It is esl's sibling: the same three layers, the same file,
// type and sentinel error names.
//
// # Three layers
//
// Framing (Reader, Message; reader.go, message.go, encode.go): the banner
// line `Asterisk Call Manager/x.y.z`, then blocks of `Key: Value` lines
// ended by an empty line. Lines are split on LF and a trailing CR is
// dropped, so CRLF, LF-only input and the bare LFs Asterisk 22 puts inside
// some CRLF replies (`Message: Park successful\n\r\n\r\n`; an Agents item
// with `CallStarted: …\nLoggedInTime: …`) all frame right; empty messages
// are skipped; `Key:Value` reads like `Key: Value`. A Message copies its
// bytes once and indexes its lines by offset in the same allocation (about
// one allocation per message, the struct coming from a small slab); Get
// matches names case-insensitively (Uniqueid and UniqueID), Values keeps
// every value of a repeated header in order (Command Output, ChanVariable),
// Var reads `ChanVariable(<channel>): NAME=value` too, and Kind says event,
// response or action: an Event header wins (OriginateResponse also carries
// Response and ActionID). The old `Response: Follows … --END COMMAND--`
// Command reply is framed to its end marker, blank lines included. A
// message past the maximum size (ErrFrameTooLarge) or a line without a
// name (ErrMalformed) ends that connection, never the process. Values are
// checked before anything is written: CR or LF (ErrInvalidValue), a colon
// in a header name, a comma in an Originate variable (Asterisk splits
// Variable headers on commas), a line longer than MaxLineLength (Asterisk
// drops it).
//
// Connection (conn.go): one reader goroutine per socket that only frames
// and dispatches, never waiting on a consumer (Asterisk cuts a session that
// leaves about 4 MB unread). Every action gets our ActionID, a
// per-connection random prefix plus a counter, and its reply is matched by
// it, so any number of goroutines share one connection. A reply whose
// `EventList: start` opens a list collects the items carrying our ActionID
// up to the ...Complete event into one Response (the items of a list whose
// caller gave up go to the subscriptions like any event). OriginateResponse, which
// Asterisk broadcasts to every session with the originator's ActionID, is
// an event, never a reply; replies nobody waits for (a late one, another
// client's, a stray Goodbye) are counted and dropped, never blocking. Writes
// are serialized. Every pending action has a deadline (the context's, or
// Config.ActionTimeout) and is removed on every path. A peer that stops in
// the middle of a message for longer than Config.StallTimeout ends the
// connection (ErrStalled); an idle one is never cut. Events go to
// Subscriptions: ordered, unbounded mailboxes read with Notify and Drain,
// filtered by event name. After Login a keepalive Ping runs (Config.Keepalive);
// an unanswered one ends the connection with ErrTimeout.
//
// API (client.go, reconnector.go, originate.go; settings in config.go):
// one configuration style, esl's: a Config struct embedded by Dialer
// (credentials, login mode) and Reconnector. Dial(ctx, addr, user, secret)
// is the short form; Dialer.Dial logs in (plain, or the MD5 challenge
// with Dialer.MD5); a wrong secret is ErrAuth, and secrets never reach
// logs or errors. Action sends any action; `Response: Error` is a
// *ResponseError matching ErrAction. Typed helpers cover what fsivr uses: Originate, Redirect, Hangup, Getvar/Setvar, Command (Output lines
// of Asterisk ≥ 14 and the older Follows form), Status, CoreShowChannels,
// QueueStatus/QueueSummary, QueueAdd/QueueRemove/QueuePause/QueuePenalty,
// ExtensionStateList/DeviceStateList, Park, Events (the event mask) and
// AddFilter (IncludeEvents builds one `name(X)` filter per event: Asterisk
// accepts `name(A|B)` but it matches nothing, so Filter.Validate refuses
// it). A Reconnector keeps one connection up with capped, jittered backoff,
// sends nothing before Login succeeds, re-applies the event mask and
// filters, waits for FullyBooted and hands each new connection to its
// owner to rebuild state.
//
// # Originate tracking
//
// Tracker is pure (no I/O, no clock): Place gives an Originate with
// pre-assigned ChannelId/OtherChannelId and a correlation variable; the
// owner sends it, reports the result with Sent, feeds every event with
// Feed and calls Tick now and then. Each call ends in exactly one Outcome
// (disposition, Reason, hangup cause from the ;2 leg of a Local channel,
// answer and end times, talk time) whatever the order of OriginateResponse,
// Hangup and Cdr. After a connection drop, Disconnected then Resync with
// CoreShowChannels after the reconnect: calls whose channel is still up
// resume, the others end (Unknown when Asterisk had not decided them).
package ami
