// Package callcenter keeps the state of a call centre's agents and queues
// from one AMI connection and serves it, digested, to many clients over
// Server-Sent Events — the pbxis library, feature for feature, in Go.
//
// Layers, bottom up:
//   - Model (model.go, rebuild.go): a pure state machine fed with AMI
//     events (anything with Get(key) string, such as ami.Message). It never
//     polls: Apply takes one live event, Rebuild the items of the list
//     actions sent once after each (re)connect (RebuildActions). Both return
//     only the digested events that differ from what was told before.
//   - Event (event.go): pbxis's digested types — agentName,
//     extensionStatus, queueMemberStatus, phoneNumber, queueCount,
//     agentComplete, originateFailed — plus stale and resynced. Each type
//     has fixed scope properties (agent, queue).
//   - Subscription and Hub (filter.go, hub.go): the pbxis filter rule (an
//     event reaches a subscription iff every scope property it has is in
//     the subscription's lists), delivered by index, with ids, a retention
//     window for Last-Event-ID resume, snapshots, bounded per-client
//     buffers and heartbeats.
//   - Handler (http.go, sse.go): GET /v1/events (SSE) and the JSON
//     command endpoints (Paths), bearer tokens stored hashed, each allowed
//     a set of agents and queues. An HTTP/1.1 stream is hijacked from
//     net/http, so an idle subscriber costs one small goroutine and its
//     socket.
//   - Service (service.go): the one shared AMI connection with its
//     server-side filter, the rebuild on every (re)connect, and the
//     commands (originate-call, redirect-call, park-and-announce,
//     queue-action).
//
// Agents are named by extension: a hint's Exten, or the extension in a
// member's Interface (Local/510@agent/n is agent 510; ModelConfig.AgentOf
// changes that).
package callcenter
