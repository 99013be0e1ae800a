package callcenter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"go.uber.org/goleak"
)

// The service, the handler and their streams leave no goroutine behind:
// after a restart of Asterisk, a command, a client that went away and
// Close, every goroutine they started is gone.
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	fake := amitest.NewServer(fakeCallCentre())
	hub := NewHub(HubConfig{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub, Logger: log,
		MinDelay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(HandlerConfig{Hub: hub, Tokens: testTokens, Commands: svc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}

	wall, _ := subscribe(t, client, srv.URL+"/v1/events?agents=*&queues=*", "wall-secret", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	wall.until("resynced")
	fake.Restart(100 * time.Millisecond)
	wall.until("stale")
	wall.until("resynced")
	if code, body := post(t, srv.URL+"/v1/queue-action", "sup-secret", `{"action":"pause","agent":"500","queue":"support"}`); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	wall.close()

	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	h.Close()
	srv.Close()
	tr.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	fake.Close()
	goleak.VerifyNone(t, before)
}
