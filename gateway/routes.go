package gateway

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// routes is the whole public surface, in one place.
func (s *server) routes(r *gin.Engine) error {
	lim, err := s.limiters()
	if err != nil {
		return err
	}
	r.Use(s.recovery(), requestID(), accessLog(s.Log, "public", s.Observe), securityHeaders(), s.bodyLimit())
	// Health checkers and link previewers ask with HEAD: every GET route
	// answers it too (net/http sends the headers and drops the body).
	get := func(r gin.IRoutes, path string, h ...gin.HandlerFunc) {
		r.GET(path, h...)
		r.HEAD(path, h...)
	}

	get(r, "/", lim.landing, s.handleLanding())
	r.POST("/apply", lim.apply, s.handleApply())
	get(r, "/status/:id", lim.status, s.handleStatus())
	get(r, "/api/v1/applications/:id", lim.status, s.handleApplicationJSON())
	prefill := r.Group("/api/v1/prefill/:token", s.prefillAccess(lim.prefillIP, lim.prefillBrowser))
	prefill.OPTIONS("", func(*gin.Context) {}) // answered by prefillAccess
	get(prefill, "", s.checkToken(), lim.prefillToken, s.handlePrefill())
	get(r, "/prefill.js", s.handlePrefillJS())
	get(r, "/api/v1/openapi.json", s.handleOpenAPI())
	get(r, "/healthz", handleHealthz())
	get(r, "/v.gif", lim.status, s.handleVisit())
	get(r, "/static/*file", s.handleStatic())

	if s.Sandbox != nil {
		r.Any("/sandbox/*path", gin.WrapH(s.Sandbox))
	}
	r.NoRoute(func(c *gin.Context) { s.notFound(c, http.StatusNotFound) })
	r.NoMethod(func(c *gin.Context) { s.notFound(c, http.StatusMethodNotAllowed) })
	return nil
}

// notFound answers an unmatched request: API paths always in the API's
// JSON error shape, pages as a page.
func (s *server) notFound(c *gin.Context, status int) {
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		c.JSON(status, apiError{Error: apiErrorBody{Code: "not_found", Message: http.StatusText(status)}})
		return
	}
	s.errorPage(c, status, s.defaultLang(), "error.notfound")
}

// handleHealthz handles "GET /healthz": 200 while the process serves.
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { c.String(http.StatusOK, "ok\n") }
}

// handleStatic handles "GET /static/*file" from the embedded assets,
// files only: a directory is not listed.
func (s *server) handleStatic() gin.HandlerFunc {
	fs := http.StripPrefix("/static/", http.FileServerFS(filesOnly{s.Views.static}))
	return func(c *gin.Context) {
		// Asset URLs carry the version, so a long cache is safe.
		c.Header("Cache-Control", "public, max-age=86400")
		fs.ServeHTTP(c.Writer, c.Request)
	}
}

// filesOnly is an fs.FS whose directories do not exist, so that a file
// server never lists one.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}
