package gateway

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// openAPIFile is the OpenAPI 3.1 document of the public API (SPEC §11),
// written by hand: a test checks real answers against it.
//
//go:embed openapi.json
var openAPIFile []byte

// openAPIDoc is the document's top level, in the order readers expect;
// every part but servers is passed through as written.
type openAPIDoc struct {
	OpenAPI    json.RawMessage `json:"openapi"`
	Info       json.RawMessage `json:"info"`
	Servers    []openAPIServer `json:"servers"`
	Tags       json.RawMessage `json:"tags,omitempty"`
	Paths      json.RawMessage `json:"paths"`
	Components json.RawMessage `json:"components,omitempty"`
}

type openAPIServer struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// openAPIDocument is the embedded document naming the deployment at
// publicURL in servers, so that tools call this gateway and no other.
func openAPIDocument(publicURL string) ([]byte, error) {
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(openAPIFile))
	dec.DisallowUnknownFields() // a top-level part added to the file must be added above
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	doc.Servers = []openAPIServer{{URL: strings.TrimRight(publicURL, "/"), Description: "This deployment (server.public_url)."}}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // the text is markdown, not HTML
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	return out.Bytes(), nil
}

// handleOpenAPI handles "GET /api/v1/openapi.json". The document is made
// once; it holds no secret and changes only with the binary.
func handleOpenAPI(publicURL string, respond *responder, log *slog.Logger) gin.HandlerFunc {
	doc, err := openAPIDocument(publicURL)
	if err != nil {
		log.Error("openapi document unusable", "err", err)
	}
	return func(c *gin.Context) {
		if err != nil {
			respond.fail(c, "", err)
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "application/json", doc)
	}
}
