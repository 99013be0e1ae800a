package httpapi

import (
	"encoding/json"
	"net/http"
)

// Reason is why a request was refused: the "reason" member of its problem
// document and the label of the refusals metric.
type Reason string

// The reasons.
const (
	ReasonNoToken           Reason = "missing_token"
	ReasonBadToken          Reason = "unknown_token"
	ReasonScope             Reason = "scope_missing"
	ReasonRate              Reason = "rate_limited"
	ReasonConcurrency       Reason = "too_many_calls"
	ReasonRequests          Reason = "too_many_requests"
	ReasonBodyTooLarge      Reason = "body_too_large"
	ReasonBadRequest        Reason = "bad_request"
	ReasonInvalidNumber     Reason = "invalid_number"
	ReasonCountry           Reason = "country_not_allowed"
	ReasonPremium           Reason = "premium_rate"
	ReasonSharedCost        Reason = "shared_cost"
	ReasonPersonal          Reason = "personal_number"
	ReasonEmergency         Reason = "emergency_number"
	ReasonShortCode         Reason = "short_code"
	ReasonDenied            Reason = "number_denied"
	ReasonDailyCap          Reason = "daily_cap"
	ReasonWebhookHost       Reason = "webhook_host_not_allowed"
	ReasonIdempotencyReused Reason = "idempotency_key_reused"
	ReasonNotFound          Reason = "not_found"
	ReasonConflict          Reason = "conflict"
	ReasonUnavailable       Reason = "unavailable"
)

// Problem is an RFC 9457 problem document with the refusal's reason.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Reason Reason `json:"reason"`
}

// problemType is the type URI of a reason.
func problemType(r Reason) string { return "urn:fsivr:problem:" + string(r) }

func writeProblem(w http.ResponseWriter, status int, r Reason, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(Problem{Type: problemType(r), Title: http.StatusText(status), Status: status, Detail: detail, Reason: r})
	_, _ = w.Write(append(b, '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
