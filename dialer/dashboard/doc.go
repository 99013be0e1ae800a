// Package dashboard is the supervisors' live page served by `dialer serve`
// at /: agents and queues from the call-centre stream (callcenter's
// /v1/events, read by the page itself), campaign progress with
// pause/resume/cancel, what the IVR is doing now (read from the call-log
// stream in Redis with the dashboard's own consumer group) and each flow
// drawn as an SVG graph with live counts.
//
// Everything the page needs is embedded (assets/, no CDN, no npm): the
// machines that run it often have no internet. Charts are plain SVG.
//
// Layers:
//   - Campaigns (campaigns.go): polls dialer.Store.Progress for the
//     configured campaigns and keeps a short history for the chart.
//   - IVR (ivr.go): a consumer of the call-log stream (XREADGROUP, group
//     "dashboard" by default) that keeps calls in progress by flow and
//     node, calls per minute, outcomes and edge traversals of the last hour.
//   - Handler (handler.go): the page, GET /dash/api/me (what the token may
//     see), GET /dash/api/flows (the graphs, laid out), POST
//     /dash/api/campaigns/{id}/{pause|resume|cancel} and GET /dash/events,
//     an SSE stream of snapshots (each one complete, so a client that
//     reconnects with Last-Event-ID gets the current snapshot unless it
//     already has it).
//
// A token (bearer, stored hashed like callcenter's) sees only its agents,
// queues and campaigns; only a token with Control sees and may use the
// campaign buttons.
package dashboard
