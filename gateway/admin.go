package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// AdminStore is what the operator listener reads.
type AdminStore interface {
	Ping(ctx context.Context) error
	Get(ctx context.Context, id string) (providers.Record, error)
	Attempts(ctx context.Context, id string) ([]providers.Attempt, error)
	Funnel(ctx context.Context, from, to time.Time) ([]store.FunnelRow, error)
	Recent(ctx context.Context, limit int) ([]providers.Record, error)
}

// AdminDeps are what the operator listener is built from.
type AdminDeps struct {
	Log      *slog.Logger
	Store    AdminStore
	Views    *Views
	Breakers func() map[string]string // upstream → closed, half-open, open
	// Redis says how the shared state is ("ok", "not configured", or
	// unreachable); nil: not reported.
	Redis func() string
	// Metrics serves /metrics (Prometheus); nil: not served.
	Metrics http.Handler
	// PublicURL and Flows feed the UTM link builder.
	PublicURL string
	Flows     []string
	// Username and Password guard /admin (HTTP Basic). An empty password
	// turns /admin off rather than leaving it open.
	Username, Password string
}

// NewAdmin returns the operator listener's handler (server.admin_addr).
func NewAdmin(d AdminDeps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.SetTrustedProxies(nil)
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		d.Log.Error("panic on admin listener", "route", c.FullPath())
		c.AbortWithStatus(http.StatusInternalServerError)
	}), requestID(), accessLog(d.Log, "admin", nil), securityHeaders(), func(c *gin.Context) {
		// Operator answers hold applications and counts: never stored.
		noStore(c)
	})
	get := func(r gin.IRoutes, path string, h ...gin.HandlerFunc) {
		r.GET(path, h...)
		r.HEAD(path, h...)
	}
	get(r, "/healthz", handleHealthz())
	get(r, "/readyz", handleReadyz(d))
	if d.Metrics != nil {
		// Scraped by Prometheus on the private admin listener, like
		// /healthz: no Basic auth, which scrapers rarely carry.
		r.GET("/metrics", gin.WrapH(d.Metrics))
	}
	admin := r.Group("/admin", adminAuth(d.Username, d.Password, d.Log))
	admin.GET("/static/*file", gin.WrapH(http.StripPrefix("/admin/static/", http.FileServerFS(filesOnly{d.Views.static}))))
	admin.GET("", handleDashboard(d))
	admin.GET("/funnel.csv", handleFunnelCSV(d))
	admin.GET("/applications/:id", handleAudit(d, false))
	admin.GET("/api/applications/:id", handleAudit(d, true))
	return r
}

// adminFailures is how many wrong passwords one address may try a minute.
var adminFailures = limiter.Rate{Period: time.Minute, Limit: 10}

// adminAuth is HTTP Basic auth with the configured credentials, compared
// in constant time. Wrong credentials are logged (the address and the
// user name given, never the password) and limited per address: past 10
// a minute, 429 with Retry-After, whatever is sent.
func adminAuth(user, pass string, log *slog.Logger) gin.HandlerFunc {
	failures := limiter.New(memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "admin-auth", CleanUpInterval: time.Minute}), adminFailures)
	return func(c *gin.Context) {
		if pass == "" {
			c.String(http.StatusServiceUnavailable, "admin is off: set admin.password (LEADGATE_ADMIN_PASSWORD)\n")
			c.Abort()
			return
		}
		ip := c.ClientIP()
		if lc, err := failures.Peek(c, ip); err == nil && lc.Remaining <= 0 {
			c.Header("Retry-After", strconv.FormatInt(max(1, lc.Reset-time.Now().Unix()), 10))
			c.String(http.StatusTooManyRequests, "too many failed logins from this address: wait a minute\n")
			c.Abort()
			return
		}
		u, p, ok := c.Request.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
		if !ok || !userOK || !passOK {
			if ok {
				// A browser's first request carries no credentials (it
				// asks for them after the 401): not a failed login.
				failures.Increment(c, ip, 1)
				log.Warn("admin: failed login", "request_id", reqID(c), "client_ip", ip, "user", providers.Cut(u, 64))
			}
			c.Header("WWW-Authenticate", `Basic realm="leadgate admin", charset="UTF-8"`)
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Next()
	}
}

// AuditApp is one application as support sees it: no personal data.
type AuditApp struct {
	ID       string           `json:"id"`
	Status   providers.Status `json:"status"`
	Flow     string           `json:"flow"`
	Buyer    string           `json:"buyer,omitempty"`
	Revenue  float64          `json:"revenue"`
	Reason   string           `json:"reason,omitempty"`
	Source   string           `json:"utm_source,omitempty"`
	Campaign string           `json:"utm_campaign,omitempty"`
	Created  string           `json:"created_at"`
	Decided  string           `json:"decided_at,omitempty"`
	// The CRM mirror: status (pending, done, erased), the CRM's lead id,
	// tries and the last error.
	CRMStatus providers.CRMState `json:"crm_status,omitempty"`
	CRMRef    string             `json:"crm_ref,omitempty"`
	CRMTries  int                `json:"crm_tries,omitempty"`
	CRMError  string             `json:"crm_error,omitempty"`
	Erased    bool               `json:"personal_data_erased"`
}

// AuditAttempt is one post to a buyer (SPEC §6 audit record).
type AuditAttempt struct {
	Seq       int               `json:"seq"`
	Buyer     string            `json:"buyer"`
	Tier      string            `json:"tier,omitempty"`
	Started   string            `json:"started_at"`
	Latency   string            `json:"-"`
	LatencyMS int64             `json:"latency_ms"`
	Outcome   providers.Outcome `json:"outcome"`
	Price     float64           `json:"price"`
	Reason    string            `json:"reason,omitempty"`
}

// AuditPage is the view of /admin/applications/{id}.
type AuditPage struct {
	Title, Version string
	App            AuditApp       `json:"application"`
	Attempts       []AuditAttempt `json:"attempts"`
}

// handleAudit handles "GET /admin/applications/:id" (HTML) and
// "GET /admin/api/applications/:id" (JSON): an application and every
// attempt, to answer "why was this lead not sold?".
func handleAudit(d AdminDeps, asJSON bool) gin.HandlerFunc {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		app, err := d.Store.Get(ctx, c.Param("id"))
		if errors.Is(err, store.ErrNotFound) {
			c.String(http.StatusNotFound, "no such application\n")
			return
		}
		var atts []providers.Attempt
		if err == nil {
			atts, err = d.Store.Attempts(ctx, app.ID)
		}
		if err != nil {
			d.Log.Error("admin: reading application", "err", err)
			c.String(http.StatusServiceUnavailable, "storage unavailable\n")
			return
		}
		p := AuditPage{Title: "Application " + app.ID, Version: d.Views.Version, App: AuditApp{
			ID: app.ID, Status: app.Status, Flow: app.Flow, Buyer: app.Buyer, Revenue: app.Revenue, Reason: app.Reason,
			Source: app.Attribution.Source, Campaign: app.Attribution.Campaign,
			Created: stamp(app.CreatedAt), Decided: stamp(app.DecidedAt),
			CRMStatus: app.CRMStatus, CRMRef: app.CRMRef, CRMTries: app.CRMTries, CRMError: app.CRMError, Erased: app.Erased,
		}}
		for _, a := range atts {
			p.Attempts = append(p.Attempts, AuditAttempt{
				Seq: a.Seq, Buyer: a.Buyer, Tier: a.Tier, Started: stamp(a.StartedAt),
				Latency: fmt.Sprintf("%d ms", a.Latency.Milliseconds()), LatencyMS: a.Latency.Milliseconds(),
				Outcome: a.Outcome, Price: a.Price, Reason: a.Reason,
			})
		}
		if asJSON {
			c.JSON(http.StatusOK, p)
			return
		}
		if err := d.Views.render(c.Writer, http.StatusOK, "admin", p); err != nil {
			d.Log.Error("admin: rendering", "err", err)
			c.String(http.StatusInternalServerError, "rendering failed\n")
		}
	}
}

type readiness struct {
	Ready    bool              `json:"ready"`
	Storage  string            `json:"storage"`
	Redis    string            `json:"redis,omitempty"`
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
		if d.Redis != nil {
			// Redis down degrades (per-replica state), it does not unready.
			out.Redis = d.Redis()
		}
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
