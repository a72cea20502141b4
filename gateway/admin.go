package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

// adminFailures is how many wrong passwords one address may try a minute.
var adminFailures = limiter.Rate{Period: time.Minute, Limit: 10}

var (
	errAdminOff     = &clientError{status: http.StatusServiceUnavailable, code: "admin_off", msg: "admin is off: set admin.password (LEADGATE_ADMIN_PASSWORD)"}
	errAdminLogin   = &clientError{status: http.StatusUnauthorized, code: "unauthorized", msg: "the operator's user name and password are required"}
	errAdminTooMany = "too many failed logins from this address: wait a minute"
)

// adminAuth is HTTP Basic auth with the configured credentials, compared
// in constant time. Wrong credentials are logged (the address and whether
// the user name was right, never a name or password) and limited per
// address: past 10
// a minute, 429 with Retry-After, whatever is sent.
func adminAuth(user, pass string, log *slog.Logger, respond *responder) gin.HandlerFunc {
	failures := limiter.New(bounded.NewLimitStore(bounded.MaxCounters), adminFailures)
	return func(c *gin.Context) {
		if pass == "" {
			respond.fail(c, "", errAdminOff)
			return
		}
		ip := c.ClientIP()
		key := providers.ClientNet(ip) // an IPv6 /64 is one client
		if lc, err := failures.Peek(c, key); err == nil && lc.Remaining <= 0 {
			respond.fail(c, "", rateLimited(int(lc.Reset-time.Now().Unix()), errAdminTooMany))
			return
		}
		u, p, ok := c.Request.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
		if !ok || !userOK || !passOK {
			if ok {
				// A browser's first request carries no credentials (it
				// asks for them after the 401): not a failed login.
				failures.Increment(c, key, 1)
				// Whether the user name was right, not the name: a
				// password typed into the wrong box would be logged.
				log.Warn("admin: failed login", "request_id", reqID(c), "client_ip", ip, "user_known", userOK)
			}
			c.Header("WWW-Authenticate", `Basic realm="leadgate admin", charset="UTF-8"`)
			respond.fail(c, "", errAdminLogin)
			return
		}
		c.Next()
	}
}

// handleAudit handles "GET /admin/applications/:id" (HTML) and
// "GET /admin/api/applications/:id" (JSON): an application and every
// attempt, to answer "why was this lead not sold?".
func handleAudit(apps AdminStore, vs *views.Views, respond *responder, asJSON bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		rec, err := apps.Get(ctx, c.Param("id"))
		var atts []providers.Attempt
		var pbs []providers.Postback
		var xs []providers.Exchange
		if err == nil {
			atts, err = apps.Attempts(ctx, rec.ID)
		}
		if err == nil {
			xs, err = apps.Exchanges(ctx, rec.ID)
		}
		for i := range min(len(atts), len(xs)) {
			atts[i].Exchange = xs[i]
		}
		if err == nil {
			pbs, err = apps.Postbacks(ctx, rec.ID)
		}
		if err != nil {
			respond.fail(c, "", err)
			return
		}
		p := auditPage(rec, atts, vs.Version)
		p.Postbacks = auditPostbacks(pbs)
		if sealed, err := apps.Sealed(ctx, rec.ID); err == nil {
			for name, ids := range sealed.Submission.Attribution.ClickIDs() {
				p.App.Clicks = append(p.App.Clicks, name+" "+providers.MaskClickID(ids[0]))
			}
			slices.Sort(p.App.Clicks)
		}
		if asJSON {
			c.JSON(http.StatusOK, p)
			return
		}
		if err := vs.Render(c.Writer, http.StatusOK, "admin", p); err != nil {
			respond.fail(c, "", fmt.Errorf("rendering the audit page: %w", err))
		}
	}
}

// auditPage is the view of one application and its attempts: no
// personal data.
func auditPage(rec providers.Record, atts []providers.Attempt, version string) views.AuditPage {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	p := views.AuditPage{Title: "Application " + rec.ID, Version: version, Attempts: []views.AuditAttempt{}, App: views.AuditApp{
		ID: rec.ID, Status: rec.Status, Flow: rec.Flow, Buyer: rec.Buyer, Revenue: rec.Revenue, Currency: rec.Currency, Reason: rec.Reason,
		Variant: rec.Attribution.Variant,
		Source:  rec.Attribution.Source, Campaign: rec.Attribution.Campaign,
		Created: stamp(rec.CreatedAt), Decided: stamp(rec.DecidedAt),
		CRMStatus: rec.CRMStatus, CRMRef: rec.CRMRef, CRMTries: rec.CRMTries, CRMError: rec.CRMError, Erased: rec.Erased,
	}}
	for _, a := range atts {
		p.Attempts = append(p.Attempts, views.AuditAttempt{
			Seq: a.Seq, Buyer: a.Buyer, Tier: a.Tier, Started: stamp(a.StartedAt),
			Latency: fmt.Sprintf("%d ms", a.Latency.Milliseconds()), LatencyMS: a.Latency.Milliseconds(),
			Outcome: a.Outcome, Price: a.Price, Reason: a.Reason,
			Request: a.Exchange.Request, AnswerStatus: a.Exchange.Status, Response: a.Exchange.Response,
			RequestShown: laidOut(a.Exchange.Request, true), AnswerShown: laidOut(a.Exchange.Response, false),
		})
	}
	return p
}

// laidOut is a masked request or answer as the audit page shows it:
// JSON indented, one member to a line; anything else (a form is already
// one field to a line) as kept. A request's first line, its method and
// path, stays.
func laidOut(s string, request bool) string {
	head, body, ok := "", s, false
	if request {
		head, body, ok = strings.Cut(s, "\n\n")
		if !ok {
			return s
		}
		head += "\n\n"
	}
	var b bytes.Buffer
	if json.Indent(&b, []byte(body), "", "  ") != nil {
		return s
	}
	return head + b.String()
}

func auditPostbacks(pbs []providers.Postback) []views.AuditPostback {
	out := []views.AuditPostback{} // [] in the JSON when there are none, not null
	for _, pb := range pbs {
		v := views.AuditPostback{Name: pb.Name, Event: pb.Event, State: pb.State, Tries: pb.Tries, LastStatus: pb.LastStatus, LastError: pb.LastError}
		if !pb.DeliveredAt.IsZero() {
			v.Delivered = pb.DeliveredAt.UTC().Format(time.RFC3339)
		}
		out = append(out, v)
	}
	return out
}

type readiness struct {
	Ready    bool              `json:"ready"`
	Storage  string            `json:"storage"`
	Redis    string            `json:"redis,omitempty"`
	Breakers map[string]string `json:"breakers"`
}

// handleReadyz handles "GET /readyz": 200 when storage answers; breaker
// states are reported (an open breaker degrades, it does not unready: the
// landing page still serves without prefill), and so is Redis when set.
func handleReadyz(db interface{ Ping(context.Context) error }, breakers func() map[string]string, redis func() string, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		out := readiness{Ready: true, Storage: "ok", Breakers: breakers()}
		if redis != nil {
			// Redis down degrades (per-replica state), it does not unready.
			out.Redis = redis()
		}
		if err := db.Ping(ctx); err != nil {
			out.Ready, out.Storage = false, "unreachable"
			log.Error("readiness: storage unreachable", "err", err)
		}
		status := http.StatusOK
		if !out.Ready {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, out)
	}
}
