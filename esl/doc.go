// Package esl speaks FreeSWITCH's Event Socket protocol: the outbound mode
// (FreeSWITCH's dialplan `socket` application connects to our Server, one
// connection per call) and the inbound mode (we Dial FreeSWITCH's event
// socket for api, bgapi and event subscriptions).
//
// # Three layers, one file each
//
// Framing and parsing (reader.go: Reader; message.go and index.go:
// Message): a message is a header block of
// "Name: value\n" lines ended by a blank line, then exactly Content-Length
// bytes of body. The Reader handles partial reads, several messages per read,
// bodies split across reads, and a maximum frame size (ErrFrameTooLarge). A
// Message copies its frame once into its own buffer and indexes the header
// lines by offset; values are decoded only when asked for (Get), so reading a
// 3 KB CHANNEL_EXECUTE_COMPLETE costs two allocations. text/event-plain
// bodies are header lines with percent-encoded values (only %XX is decoded:
// "+" stays "+"; "_undef_" reads as ""), optionally followed by an inner
// body (BACKGROUND_JOB); text/event-json is one object whose "_body" is the
// body; text/event-xml is parsed on access. All three expose the same event
// API (Name, Get, Lookup, EventHeaders, Body). The outbound connect reply is one
// header block of percent-encoded channel headers with Content-Type near
// the end: OutboundConn.ChannelData exposes it as a Message whose Get reads
// those channel headers.
//
// Connection (conn.go: Conn, embedded by OutboundConn and Client; config.go:
// Config, embedded by Server, Dialer and Reconnector): one reader goroutine
// per socket only frames and dispatches.
// Replies (command/reply, api/response) are matched to commands strictly in
// order: a command is written and its reply slot queued under one lock. A
// caller whose context ends while waiting returns ctx.Err(); its slot stays
// queued and the reply is discarded, so later replies stay matched. Writes
// are serialized. Values that would reach a header or command line are
// checked for CR/LF first (ErrInvalidValue, nothing written). A read error,
// a malformed or oversized frame, an unknown Content-Type or a reply nobody
// waits for ends that connection (Done, Err) with one log line; other
// connections are unaffected. So does a message whose rest does not arrive
// within Config.StallTimeout of its first bytes (ErrStalled); an idle
// connection is never cut. The read buffer grows with the bytes received,
// never to an announced Content-Length up front.
//
// A hostile or broken peer ends only its own connection: an outbound
// connect reply without Unique-ID is refused (logged, closed, counted in
// ServerStats.Refused); events naming another channel's Unique-ID are
// dropped (FreeSWITCH never sends them after myevents), so they cannot end
// or steer a call; a failed Accept (EMFILE under a flood) is logged,
// counted (ServerStats.AcceptErrors) and retried, and only a closed
// listener ends Serve.
//
// API: Server (server.go) and OutboundConn (outboundconn.go) for calls;
// Client, Dial and Dialer (client.go) and Reconnector (reconnector.go) for
// inbound. Every one is configured by struct fields; the connection
// settings are the embedded Config.
//
// # Mailbox
//
// Events not claimed by a waiter go to an ordered mailbox
// (internal/mailbox, shared with package ami): the reader appends under a
// mutex and signals Notify (capacity 1); the owner calls Drain to take
// everything queued. The reader never blocks on the owner (FreeSWITCH drops
// listeners that leave events unread). Depth above Config.HighWater
// (default 1000) is counted in Stats and logged once per crossing; at
// Config.MaxQueue (default 100,000) the connection is closed with
// ErrQueueOverflow.
//
// # Execute correlation
//
// OutboundConn.Send writes sendmsg/execute with event-lock and an
// Event-UUID we generate; FreeSWITCH echoes it as Application-UUID on the
// app's CHANNEL_EXECUTE_COMPLETE. Execute registers a waiter for that UUID
// before writing and returns the matching completion (never matched by app
// name); that completion is given to the waiter only, not to the mailbox.
// Completions of Send-started apps go to the mailbox. When CHANNEL_HANGUP
// arrives, waiting Executes return ErrHangup at once (FreeSWITCH sends the
// hangup before the interrupted app's completion, and never completes an
// unknown app); completions arriving after the hangup go to the mailbox;
// Send and Execute after the hangup return ErrHangup without writing.
// BgAPI works the same way with our own Job-UUID and BACKGROUND_JOB.
//
// # Linger
//
// With Server.Linger (NewServer's default) FreeSWITCH keeps the socket open
// after hangup and delivers the final events (CHANNEL_HANGUP_COMPLETE with
// its variables) followed by a disconnect notice with Content-Disposition:
// linger; HungUp is closed by whichever of CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE or that notice comes first. When the handler
// returns, a hung-up connection gets "exit" (FreeSWITCH answers +OK bye,
// sends a disconnect notice and closes); a live channel's socket is just
// closed, and the dialplan continues after the socket action.
package esl
