package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPICoversRoutes: every route the handler registers is in the
// document, and every operation of the document is a registered route.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	e := newEnv(t, testConfig())
	registered := e.api.Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml documents %s, which is not served", d)
		}
	}
	if len(registered) < 10 {
		t.Errorf("only %d routes registered", len(registered))
	}
	r := e.do(t, "GET", "/v1/openapi.yaml", "", nil)
	if r.code != http.StatusOK || string(r.body) != string(OpenAPI) || r.header.Get("Content-Type") != "application/yaml" {
		t.Errorf("GET /v1/openapi.yaml: %d %q", r.code, r.header.Get("Content-Type"))
	}
	if r := e.do(t, "GET", "/v1/nothing", secretOps, nil); r.code != 404 || r.problem(t).Reason != ReasonNotFound {
		t.Errorf("unknown path: %d %s", r.code, r.body)
	}
}
