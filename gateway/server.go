// Package gateway is leadgate's HTTP surface: the consumer journey
// (landing, apply, status), the sandbox mount and the operator endpoints.
// Gin stays in this package; below the handlers everything takes a
// context.Context and domain values.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	gocache "github.com/patrickmn/go-cache"
	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// LeadSource returns the lead behind an action token (the cached,
// breaker-guarded Cashcat client).
type LeadSource interface {
	Lead(ctx context.Context, token string) (*providers.Lead, error)
}

// VisitCounter counts landing visits by flow and first touch.
type VisitCounter interface {
	Visit(flow, source, campaign string, prefilled bool)
}

// Applications is what the handlers need of the store.
type Applications interface {
	Create(ctx context.Context, n store.New) (providers.Record, bool, error)
	Get(ctx context.Context, id string) (providers.Record, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	MarkRedirected(ctx context.Context, id string) error
}

// Submitter starts and awaits the submission of stored applications.
type Submitter interface {
	Wake()
	Wait(ctx context.Context, id string, max time.Duration) (providers.Record, error)
}

// Deps are what the server is built from.
type Deps struct {
	Config    *config.Config
	Log       *slog.Logger
	Leads     LeadSource
	Store     Applications
	Submitter Submitter
	Views     *Views
	// Sandbox, when not nil, is mounted under /sandbox/.
	Sandbox http.Handler
	// LimitStore, when set, makes the rate limiters' store for a prefix
	// (shared by replicas); unset, each limiter counts in memory.
	LimitStore func(prefix string) limiter.Store
	// Funnel, when set, counts visits for the marketers' funnel.
	Funnel VisitCounter
	// Observe, when set, is told every answered request (metrics).
	Observe func(route string, status int, d time.Duration)
	Now     func() time.Time
}

// server is the handlers' shared state, built once.
type server struct {
	Deps
	flows    *Flows
	sessions *sessions
	// answers keeps formatted prefill answers for a minute: the lead is
	// cached already, and mapping, checking and encoding it again for
	// every call was half of the API's cost.
	answers *gocache.Cache
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
	}
	pub, err := url.Parse(d.Config.Server.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server.public_url: %w", err)
	}
	d.Views.testFill = d.Sandbox != nil
	s := &server{
		Deps:     d,
		flows:    flows,
		sessions: newSessions(d.Config.Server.SessionSecret, pub.Scheme == "https", d.Now),
		answers:  gocache.New(time.Minute, 2*time.Minute),
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Only the configured proxies may tell us the client's address:
	// otherwise anyone could pick their own rate-limit key.
	if err := r.SetTrustedProxies(nilIfEmpty(d.Config.Server.TrustedProxies)); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	if err := s.routes(r); err != nil {
		return nil, err
	}
	return r, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// errorPage renders a whole error page in lang, or, when even that fails,
// plain text: the consumer never gets half a page.
func (s *server) errorPage(c *gin.Context, status int, lang, msgKey string) {
	cat := s.Views.Catalog(lang)
	v := s.Views.statusView(lang, cat.T("error.title"), cat.T(msgKey))
	v.Link, v.LinkText = "/", cat.T("error.home")
	noStore(c)
	if err := s.Views.render(c.Writer, status, "status", v); err != nil {
		s.Log.Error("rendering error page", "err", err)
		c.String(status, cat.T(msgKey))
	}
	c.Abort()
}

// defaultLang is the language of pages that belong to no flow.
func (s *server) defaultLang() string { return s.flows.Default().Locale }

// clientIP is the consumer's address as buyers get it. Loopback IPv6 (a
// browser on the same machine as a sandbox gateway) is written as IPv4,
// since Casheddy accepts dotted IPv4 only.
func clientIP(c *gin.Context) string {
	ip := c.ClientIP()
	if ip == "::1" {
		return "127.0.0.1"
	}
	return strings.TrimPrefix(ip, "::ffff:")
}

var errTooLarge = errors.New("request body too large")
