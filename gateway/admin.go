package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Pinger is a dependency /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// AdminDeps are what the operator listener is built from.
type AdminDeps struct {
	Log      *slog.Logger
	Store    Pinger
	Breakers func() map[string]string // upstream → closed, half-open, open
}

// NewAdmin returns the operator listener's handler (server.admin_addr).
func NewAdmin(d AdminDeps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.SetTrustedProxies(nil)
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		d.Log.Error("panic on admin listener", "route", c.FullPath())
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(d))
	return r
}

type readiness struct {
	Ready    bool              `json:"ready"`
	Storage  string            `json:"storage"`
	Breakers map[string]string `json:"breakers"`
}

// handleReadyz handles "GET /readyz": 200 when storage answers; breaker
// states are reported (an open breaker degrades, it does not unready: the
// landing page still serves without prefill).
func handleReadyz(d AdminDeps) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		out := readiness{Ready: true, Storage: "ok", Breakers: d.Breakers()}
		if err := d.Store.Ping(ctx); err != nil {
			out.Ready, out.Storage = false, "unreachable"
			d.Log.Error("readiness: storage unreachable", "err", err)
		}
		status := http.StatusOK
		if !out.Ready {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, out)
	}
}
