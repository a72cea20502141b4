package gateway

import (
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
	r.Use(s.recovery(), requestID(), s.accessLog(), securityHeaders(), s.bodyLimit())

	r.GET("/", lim.landing, s.handleLanding())
	r.POST("/apply", lim.apply, s.handleApply())
	r.GET("/status/:id", lim.status, s.handleStatus())
	r.GET("/api/v1/applications/:id", lim.status, s.handleApplicationJSON())
	prefill := r.Group("/api/v1/prefill/:token", s.prefillAccess(lim.prefillIP, lim.prefillBrowser))
	prefill.OPTIONS("", func(*gin.Context) {}) // answered by prefillAccess
	prefill.GET("", s.checkToken(), lim.prefillToken, s.handlePrefill())
	r.GET("/prefill.js", s.handlePrefillJS())
	r.GET("/healthz", handleHealthz())
	r.GET("/static/*file", s.handleStatic())

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

// handleStatic handles "GET /static/*file" from the embedded assets.
func (s *server) handleStatic() gin.HandlerFunc {
	fs := http.StripPrefix("/static/", http.FileServerFS(s.Views.static))
	return func(c *gin.Context) {
		// Asset URLs carry the version, so a long cache is safe.
		c.Header("Cache-Control", "public, max-age=86400")
		fs.ServeHTTP(c.Writer, c.Request)
	}
}
