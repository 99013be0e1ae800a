// Package httpapi is the dialer's HTTP API, safe to put on a network:
// click-to-call (POST /v1/calls, GET /v1/calls/{id}) and the campaign API
// (create with a CSV upload, list, progress, pause, resume, cancel,
// attempts), described by the OpenAPI document served at /v1/openapi.yaml.
//
// Seed 003 dials whatever number a web page hands it; that is toll fraud
// waiting to happen. Here every request passes the guards first:
//
//   - a bearer token from the config, stored as its SHA-256 only
//     (callcenter.Token, callcenter.HashToken), with scopes (calls:create,
//     campaigns:read, campaigns:write, events:read, metrics:read for what
//     Guard wraps), a rate limit
//     (golang.org/x/time/rate), a cap on its calls in flight and one on its
//     requests served at once;
//   - body size limits (JSON and the CSV upload);
//   - the number policy (NumberPolicy): E.164 through nyaruka/phonenumbers,
//     countries allowed by the number's region (so +1 876 is Jamaica, not
//     the US), premium-rate, shared-cost, personal, emergency and short
//     numbers refused, a deny list, and a per-destination daily cap;
//   - the originate never carries a value from the request but the
//     validated number: the trunk, its dial string, the caller id (one of
//     the trunk's), the message (a name mapped by the config to a prompt),
//     the flow (a name from the config) and the agent-first context are
//     the operator's. For the agent-first shape the agent's channel is
//     originated and the customer's number is the extension of a fixed
//     context, which the PBX runs only once the agent answered;
//   - webhooks only to configured hosts, signed with HMAC-SHA256 and
//     retried with backoff.
//
// Every refusal is an application/problem+json answer (RFC 9457) whose
// "reason" member says why, a log line naming the token (never its secret)
// and a count in fsivr_dialer_api_refusals_total{reason}.
//
// A call not placed within Config.QueueTimeout (the trunk unreachable) is
// given up rather than dialed late.
//
// Each call is a one-contact campaign run by a dialer.Engine on the shared
// Store, so it has the engine's limits, records and reconciliation.
package httpapi
