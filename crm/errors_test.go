package crm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/crm"
)

func TestConfigErrorsNeverShowThePassword(t *testing.T) {
	for _, base := range []string{"ftp://ops:s3cret@crm.example", "http://ops:s3cret@"} {
		_, err := crm.New(crm.Config{BaseURL: base}, nil, nil)
		if err == nil {
			t.Fatalf("%s accepted", base)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// Callers that must not import crm tell "unknown caller" apart by behaviour.
func TestNotFoundIsRecognisableWithoutImportingCRM(t *testing.T) {
	var nf interface{ NotFound() bool }
	err := fmt.Errorf("prefetch: %w", crm.ErrBadCallerID)
	if !errors.As(err, &nf) || !nf.NotFound() || !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("not-found not recognisable: %v", err)
	}
	if errors.As(fmt.Errorf("x: %w", crm.ErrUnavailable), &nf) {
		t.Fatal("unavailable taken for not found")
	}
}

// Issue 16 item 20: a redirect to another host is refused unless allowed;
// one on the same host is followed.
func TestCrossHostRedirectRefused(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"extension": "601"}`))
	}))
	defer other.Close()
	var self *httptest.Server
	self = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/x?caller_id="+r.URL.Query().Get("caller_id"), http.StatusFound)
		case "/here":
			http.Redirect(w, r, self.URL+"/final?caller_id="+r.URL.Query().Get("caller_id"), http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"extension": "602"}`))
		}
	}))
	defer self.Close()
	lookup := func(path string, allow bool) (crm.Result, error) {
		c, err := crm.New(crm.Config{BaseURL: self.URL, URLTemplate: "{base}" + path + "?caller_id={caller}",
			AllowCrossHostRedirects: allow, CacheSize: -1, BreakerFailures: -1}, &http.Client{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Lookup(context.Background(), "5551001")
	}
	if _, err := lookup("/away", false); !errors.Is(err, crm.ErrCrossHostRedirect) || !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("cross-host redirect: %v, want ErrCrossHostRedirect", err)
	}
	if r, err := lookup("/away", true); err != nil || r.Extension != "601" {
		t.Fatalf("allowed cross-host redirect: %+v, %v", r, err)
	}
	if r, err := lookup("/here", false); err != nil || r.Extension != "602" {
		t.Fatalf("same-host redirect: %+v, %v", r, err)
	}
}

// A credential in the URL's query (the CRM's API key) never reaches an
// error's text, which goes to log lines: the transport's error keeps the
// host and path, the query values are blanked.
func TestTransportErrorsNeverShowTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	c, err := crm.New(crm.Config{URLTemplate: base + "/lookup?caller={caller}&api_key=k3y-s3cret"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Lookup(context.Background(), "5550100")
	if !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); strings.Contains(msg, "k3y-s3cret") || !strings.Contains(msg, "/lookup?") || !strings.Contains(msg, "api_key=xxxxx") {
		t.Errorf("error %q: want the path, api_key=xxxxx and no key", msg)
	}
}
