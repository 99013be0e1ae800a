package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dashboard"
)

// A token sees only its campaigns; the page asks /dash/api/me what that is.
func Example() {
	store := dialer.NewMemStore()
	_ = store.Create(context.Background(), "spring", 10)
	dash, err := dashboard.New(dashboard.Config{
		Tokens: []dashboard.Token{{
			Token:     callcenter.Token{Name: "wall", SHA256: callcenter.HashToken("s3cret"), Agents: []string{"*"}, Queues: []string{"support"}},
			Campaigns: []string{"spring"},
		}},
		Store: store, Campaigns: []string{"spring", "autumn"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer dash.Close()
	req := httptest.NewRequest(http.MethodGet, "/dash/api/me", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	dash.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 {"name":"wall","agents":["*"],"queues":["support"],"campaigns":["spring"],"control":false,"thresholds":{}}
}
