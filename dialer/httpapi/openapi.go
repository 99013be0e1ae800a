package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's OpenAPI 3.1 document, served at /v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (h *Handler) openapi(w http.ResponseWriter, _ *http.Request, _ *tokenState) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPI)
}
