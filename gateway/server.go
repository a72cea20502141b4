// Package gateway is leadgate's HTTP surface: the consumer journey
// (landing, apply, status), the lenders' prefill API, the sandbox mount
// and the operator listener. Gin stays in this package: every handler is
// made by a function that takes what it needs, and below the handlers
// everything takes a context.Context and plain values.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// LeadSource returns the lead behind an action token (the cached,
// breaker-guarded Cashcat client).
type LeadSource interface {
	Lead(ctx context.Context, token string) (*providers.Lead, error)
}

// VisitCounter counts landing visits by flow and first touch.
type VisitCounter interface {
	// The attribution's source, campaign and variant are counted.
	Visit(flow string, a providers.Attribution, prefilled bool)
	// Spend counts paid Cashcat calls a visit caused.
	Spend(flow string, a providers.Attribution, calls int)
}

// StepCounter counts how far consumers get through a form: the step
// funnel. Step and field names are the flow's own (checked before they are
// counted); values are never passed.
type StepCounter interface {
	// Started counts a session's first touched field.
	Started(flow string, a providers.Attribution)
	// Reached counts a session reaching a step, once per step and session.
	Reached(flow string, a providers.Attribution, step string)
	// LeftLine is the line a session leaving the page without sending
	// is counted on: the step it was on and the last field it touched.
	LeftLine(flow string, a providers.Attribution, step, field string) string
	// Left counts a session leaving on line.
	Left(line string)
	// Returned takes back the leave counted on line: the session came
	// back and sent its application.
	Returned(line string)
}

// Applications is what the handlers need of the store.
type Applications interface {
	Get(ctx context.Context, id string) (providers.Record, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	// Attempts tell the waiting page which lender is being asked.
	Attempts(ctx context.Context, id string) ([]providers.Attempt, error)
	MarkRedirected(ctx context.Context, id string, postbacks []string) error
}

// Submitter stores new applications, submits them and awaits their
// decisions.
type Submitter interface {
	// Create stores a new application and starts its submission (see
	// submit.Worker.Create).
	Create(ctx context.Context, n store.New) (providers.Record, bool, error)
	Wait(ctx context.Context, id string, max time.Duration) (providers.Record, error)
}

// Deps are what the public listener is built from.
type Deps struct {
	Config    *config.Config
	Log       *slog.Logger
	Leads     LeadSource
	Store     Applications
	Submitter Submitter
	Views     *views.Views
	// Sandbox, when not nil, is mounted under /sandbox/.
	Sandbox http.Handler
	// LimitStore, when set, makes the rate limiters' store for a prefix
	// (shared by replicas); unset, each limiter counts in memory.
	LimitStore func(prefix string) limiter.Store
	// Funnel, when set, counts visits for the marketers' funnel.
	Funnel VisitCounter
	// Steps, when set, counts the step funnel (drafts and the pagehide
	// beacon).
	Steps StepCounter
	// Drafts, when set, keeps what consumers type as drafts of their
	// sessions (POST /draft) and restores them in the form.
	Drafts DraftStore
	// Observe, when set, is told every answered request (metrics).
	Observe func(route string, status int, d time.Duration)
	Now     func() time.Time
	// DedupeSecret keys the hashes of consumers' duplicate keys (derived
	// from storage.encryption_key).
	DedupeSecret []byte
}

// NewServer returns the public listener's handler.
func NewServer(d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	flows, err := NewFlows(d.Config.Flows)
	if err != nil {
		return nil, err
	}
	for i, f := range flows.list {
		if err := d.Views.CheckForm(f.Form, f.Locale); err != nil {
			return nil, fmt.Errorf("flows[%d]: %w", i, err)
		}
		if err := checkVariants(f, d.Views); err != nil {
			return nil, fmt.Errorf("flows[%d]: %w", i, err)
		}
		if err := d.Views.CheckSteps(f.Form, f.Locale, f.Steps); err != nil {
			return nil, fmt.Errorf("flows[%d].steps: %w", i, err)
		}
	}
	pub, err := url.Parse(d.Config.Server.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server.public_url: %w", err)
	}
	r, err := newEngine(d.Config.Server.TrustedProxies)
	if err != nil {
		return nil, err
	}
	sessions := session.New(d.Config.Server.SessionSecret, pub.Scheme == "https", d.Now)
	respond := &responder{views: d.Views, log: d.Log, lang: flows.Default().Locale, breakerOpenFor: d.Config.Cashcat.Breaker.OpenFor}
	if err := publicRoutes(r, publicParts{
		Deps:     d,
		flows:    flows,
		sessions: sessions,
		respond:  respond,
		leads:    newLeads(d.Leads, d.Config.Cashcat.Timeout, d.Log, d.Now),
		forms:    &forms{views: d.Views, sessions: sessions, respond: respond, apps: d.Store},
		next:     &outcomes{flows: flows, store: d.Store, log: d.Log, postbacks: d.Config.PostbacksFor},
		drafts: &drafts{store: d.Drafts, sessions: sessions, flows: flows, steps: d.Steps, ttl: d.Config.Drafts.TTL,
			log: d.Log, now: d.Now},
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// publicParts are the parts the public handlers are made from, each built
// once.
type publicParts struct {
	Deps
	flows    *Flows
	sessions *session.Sessions
	respond  *responder
	leads    *leads
	forms    *forms
	next     *outcomes
	drafts   *drafts
}

// newEngine is a Gin engine believing X-Forwarded-For from the trusted
// proxies only: otherwise anyone could pick their own rate-limit key.
func newEngine(trusted []string) (*gin.Engine, error) {
	r := gin.New()
	if len(trusted) == 0 {
		trusted = nil
	}
	if err := r.SetTrustedProxies(trusted); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	// Gin's own trailing-slash redirect answers before any middleware: a
	// 301 (kept by browsers) with the token of /api/v1/prefill/TOKEN/ in
	// its Location, no security header, no log line, no limit. A path
	// with a slash too many is not found, like any other unknown path.
	r.RedirectTrailingSlash = false
	return r, nil
}

// AdminStore is what the operator listener reads.
type AdminStore interface {
	Ping(ctx context.Context) error
	Get(ctx context.Context, id string) (providers.Record, error)
	Attempts(ctx context.Context, id string) ([]providers.Attempt, error)
	Exchanges(ctx context.Context, id string) ([]providers.Exchange, error)
	Postbacks(ctx context.Context, id string) ([]providers.Postback, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	Recent(ctx context.Context, limit int) ([]providers.Record, error)
	DashboardStore
}

// AdminDeps are what the operator listener is built from.
type AdminDeps struct {
	Log      *slog.Logger
	Store    AdminStore
	Views    *views.Views
	Breakers func() map[string]string // upstream → closed, half-open, open
	// Redis says how the shared state is ("ok", "not configured", or
	// unreachable); nil: not reported.
	Redis func() string
	// Metrics serves /metrics (Prometheus); nil: not served.
	Metrics http.Handler
	// PublicURL and Flows feed the UTM link builder.
	PublicURL string
	Flows     []string
	// Currencies are the flows' currencies; Cost, when set, what one paid
	// Cashcat call costs, if known yet (for spend and profit).
	Currencies map[string]string
	Cost       func() (cashcat.Cost, bool)
	// FlowConfig, when set, gives the dashboard each flow's steps and
	// variants; BreakerOpenings, when set, how often each upstream's
	// breaker opened.
	FlowConfig      []config.Flow
	BreakerOpenings func() map[string]int64
	// Username and Password guard /admin (HTTP Basic). An empty password
	// turns /admin off rather than leaving it open.
	Username, Password string
}

// NewAdmin returns the operator listener's handler (server.admin_addr).
// It trusts no proxy: it is meant for a private interface.
func NewAdmin(d AdminDeps) http.Handler {
	r, _ := newEngine(nil) // no proxies: cannot fail
	adminRoutes(r, d, &responder{views: d.Views, log: d.Log, lang: "en", admin: true})
	return r
}
