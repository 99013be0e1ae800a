package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsivr/fsivr/internal/backoff"
)

// checkWebhook accepts a URL only to a configured host, over https (or
// http when allowed), without credentials in it.
func (h *Handler) checkWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 {
		return errors.New("the webhook is not a URL")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && h.cfg.Webhooks.AllowHTTP) {
		return fmt.Errorf("webhook scheme %q is not allowed", u.Scheme)
	}
	if u.User != nil {
		return errors.New("the webhook URL carries credentials")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || !slices.Contains(h.cfg.Webhooks.AllowedHosts, host) {
		return fmt.Errorf("webhook host %q is not an allowed host", host)
	}
	return nil
}

// WebhookEvent is the body posted to a webhook.
type WebhookEvent struct {
	Event string   `json:"event"` // "call.ended"
	Call  CallView `json:"call"`
}

// Sign is the X-Fsivr-Signature of a webhook body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">". A receiver
// recomputes it with the shared secret and refuses old timestamps.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver posts the event, retrying a failed delivery with backoff up to
// Webhooks.Attempts times (until Close).
func (h *Handler) deliver(log *slog.Logger, target, event string, v CallView) {
	body, _ := json.Marshal(WebhookEvent{Event: event, Call: v})
	p := backoff.Policy{Min: h.cfg.Webhooks.RetryMin, Max: time.Minute}
	for attempt := 0; attempt < h.cfg.Webhooks.Attempts; attempt++ {
		if attempt > 0 {
			h.m.webhooks.WithLabelValues("retried").Inc()
			if err := p.Wait(h.ctx, attempt-1); err != nil {
				break
			}
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Fsivr-Event", event)
		req.Header.Set("X-Fsivr-Signature", Sign(h.cfg.Webhooks.Secret, time.Now(), body))
		resp, err := h.o.HTTPClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				h.m.webhooks.WithLabelValues("delivered").Inc()
				log.Info("httpapi: webhook delivered", "attempt", attempt+1)
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		log.Warn("httpapi: webhook delivery failed", "attempt", attempt+1, "err", err)
	}
	h.m.webhooks.WithLabelValues("failed").Inc()
	log.Error("httpapi: webhook given up", "attempts", h.cfg.Webhooks.Attempts)
}
