package crmtest

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestServerAnswers(t *testing.T) {
	s := NewServer(map[string]Answer{
		"+15550100": {Extension: "1001", Name: "Ann"},
		"5550101":   {Extension: "1002", Plain: true},
		"5550102":   {Status: 503, Body: "down"},
	})
	defer s.Close()

	cases := []struct {
		path, ctype, body string
		status            int
	}{
		{"/voip/cdrs?caller_id=%2B15550100", "application/json", `{"account":"","extension":"1001","name":"Ann"}`, 200},
		{"/contacts/5550101", "text/plain; charset=utf-8", "1002\n", 200},
		{"/voip/cdrs?caller_id=5550102", "text/plain; charset=utf-8", "down", 503}, // sniffed by net/http
		{"/voip/cdrs?caller_id=999", "text/plain", "not found\n", 404},
	}
	for _, c := range cases {
		status, ctype, body := get(t, s.URL+c.path)
		if status != c.status || ctype != c.ctype || body != c.body {
			t.Errorf("%s: %d %q %q, want %d %q %q", c.path, status, ctype, body, c.status, c.ctype, c.body)
		}
	}
	s.SetDefault(Answer{Extension: "2000", Plain: true})
	s.Set("5550102", Answer{Extension: "1003", Plain: true})
	if _, _, body := get(t, s.URL+"/x?caller_id=777"); body != "2000\n" {
		t.Errorf("default answer %q", body)
	}
	if _, _, body := get(t, s.URL+"/x?caller_id=5550102"); body != "1003\n" {
		t.Errorf("changed answer %q", body)
	}
	if s.Requests() != 6 || s.RequestsFor("5550102") != 2 || s.RequestsFor("+15550100") != 1 {
		t.Errorf("counts: total %d, 5550102 %d, +15550100 %d", s.Requests(), s.RequestsFor("5550102"), s.RequestsFor("+15550100"))
	}
}

// Close releases handlers that are still holding a request.
func TestCloseReleasesHeldRequests(t *testing.T) {
	s := NewServer(map[string]Answer{"1": {Extension: "1001", Hold: make(chan struct{}), Delay: time.Hour}})
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(s.URL + "/?caller_id=1")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitRequests(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.Close() // must return although the handler was told to wait an hour
	<-errc    // the client sees an error or an empty answer; either way it is released
}
