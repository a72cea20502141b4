package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	gocache "github.com/patrickmn/go-cache"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

var utmKeys = []string{"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"}

// handleLanding handles "GET /". With an action_token it exchanges the
// token server-side (the lead is fetched or taken from the cache and tied
// to the session) and sends the browser to the same URL without it, so the
// token does not stay in the address bar, the history or a Referer. Without
// one it renders the flow's form, prefilled from the session's lead.
func (s *server) handleLanding() gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		sess, known := s.sessions.load(c.Request)
		loaded := sess
		if sess.Attribution.LandedAt.IsZero() {
			sess.Attribution = s.firstTouch(c, q)
		}
		if _, ok := q["action_token"]; ok {
			s.exchange(c, &sess, q)
			return
		}
		flow := s.flows.ByName(q.Get("flow"))
		if flow == nil {
			flow = s.flows.ByName(sess.Flow)
		}
		if flow == nil {
			flow = s.flows.Pick("", s.matchAttrs(c, q, nil))
		}
		sess.Flow = flow.Name
		var prefill form.Values
		if sess.Token != "" {
			prefill = s.prefill(c, sess.Token, flow)
		}
		if known && !sess.Counted && s.Funnel != nil {
			// A visit is a browser that came back with its session cookie
			// (here after the token exchange's 303; a first page without a
			// token counts on its beacon, handleVisit): a script that never
			// returns a cookie counts nothing. Counted in memory: no
			// database write on the landing page's path.
			s.Funnel.Visit(flow.Name, sess.Attribution.Source, sess.Attribution.Campaign, len(prefill) > 0)
			sess.Counted = true
		}
		if !known || sess != loaded {
			// Sealing a cookie is the costliest part of a reload: only
			// when the session changed.
			s.sessions.save(c.Writer, sess)
		}
		now := s.Now()
		page := pages.Get().(*bytes.Buffer)
		defer pages.Put(page) // c.Data has written it out by then
		page.Reset()
		if s.Views.fastForm(page, flow.Form, flow.Locale, prefill, len(prefill) > 0, now, flow.Loc, s.sessions.csrf(sess.ID), randomID()) {
			noStore(c)
			c.Data(http.StatusOK, "text/html; charset=utf-8", page.Bytes())
			return
		}
		v := s.Views.formView(flow.Form, flow.Locale, prefill, nil, now, flow.Loc)
		v.Prefilled = len(prefill) > 0
		s.renderForm(c, http.StatusOK, sess, v)
	}
}

// handleVisit handles "GET /v.gif", the form page's one-pixel beacon: the
// first request after a landing that carries the session cookie back. It
// counts the session's visit if the landing could not (a first page
// without a token), and works without JavaScript.
func (s *server) handleVisit() gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		if sess, known := s.sessions.load(c.Request); known && !sess.Counted && s.Funnel != nil {
			flow := s.flows.ByName(sess.Flow)
			if flow == nil {
				flow = s.flows.Default()
			}
			s.Funnel.Visit(flow.Name, sess.Attribution.Source, sess.Attribution.Campaign, sess.Token != "")
			sess.Counted = true
			s.sessions.save(c.Writer, sess)
		}
		c.Data(http.StatusOK, "image/gif", pixel)
	}
}

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// prefill is the flow's form values from the lead behind token, kept a
// minute per token, flow and day like the prefill API's answers: checking
// every value against the form on every reload was a tenth of a landing.
func (s *server) prefill(c *gin.Context, token string, flow *Flow) form.Values {
	key := "form|" + token + "|" + flow.Name + "|" + s.Now().UTC().Format("2006-01-02")
	if v, ok := s.answers.Get(key); ok {
		return v.(form.Values)
	}
	lead := s.lead(c, token)
	if lead == nil {
		return nil // not kept: Cashcat may answer next time
	}
	vals := flow.Form.Restrict(lead.Prefill(flow.Currency), s.Now(), flow.Loc)
	s.remember(key, vals)
	return vals
}

// exchange ties the token's lead to the session and redirects to the
// clean URL. A malformed token costs no upstream call; an unavailable
// Cashcat costs only the prefill, never the page.
func (s *server) exchange(c *gin.Context, sess *Session, q url.Values) {
	token := q.Get("action_token")
	var lead *providers.Lead
	if cashcat.ValidToken(token) {
		if lead = s.lead(c, token); lead != nil {
			sess.Token = token
		}
	}
	sess.Flow = s.flows.Pick(q.Get("flow"), s.matchAttrs(c, q, lead)).Name
	// A new id (and CSRF secret) once the session holds a lead: a cookie
	// planted before the exchange opens nothing of what follows.
	*sess = s.sessions.rotate(*sess)
	s.sessions.save(c.Writer, *sess)
	q.Del("action_token")
	target := "/"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	// This answer's request URL holds the token: no Referer may carry it.
	c.Header("Referrer-Policy", "no-referrer")
	noStore(c)
	c.Redirect(http.StatusSeeOther, target)
}

// lead fetches a lead for a page. Failures are the operator's concern
// (logged once, at the right level) and never break the page: the
// consumer gets the form without prefill.
func (s *server) lead(c *gin.Context, token string) *providers.Lead {
	lead, err := s.fetch(c, token, clientIP(c))
	switch {
	case err == nil:
		return lead
	case errors.Is(err, providers.ErrNotFound):
		s.Log.Info("action token unknown to cashcat", "request_id", reqID(c))
	case errors.Is(err, cashcat.ErrBudgetSpent):
		// Counted in the metrics; the address is not logged.
		s.Log.Info("cashcat budget spent: form shown without prefill", "request_id", reqID(c), "err", err)
	case errors.Is(err, providers.ErrUnauthorized), errors.Is(err, providers.ErrPaymentRequired):
		// Already raised as an operator alert by the client.
	default:
		s.Log.Warn("cashcat unavailable: form shown without prefill", "request_id", reqID(c), "err", err)
	}
	return nil
}

// fetch asks the lead source for token's lead, waiting at most half again
// Cashcat's own timeout: a request that joined a fetch already under way
// (or waits on another replica's) must not outwait it.
//
// A paid call it causes is charged to payer's budgets (the client IP of a
// consumer or a browser; "" for a lender's server with its key).
func (s *server) fetch(c *gin.Context, token, payer string) (*providers.Lead, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.Config.Cashcat.Timeout+s.Config.Cashcat.Timeout/2)
	defer cancel()
	if payer != "" {
		ctx = cashcat.WithPayer(ctx, payer)
	}
	return s.Leads.Lead(ctx, token)
}

// remember keeps a formatted answer (prefill JSON, form values) a minute,
// up to a bound, like the lead cache it is derived from.
func (s *server) remember(key string, v any) {
	if s.answers.ItemCount() < 100_000 {
		s.answers.Set(key, v, gocache.DefaultExpiration)
	}
}

// firstTouch is the attribution of a session's first visit.
func (s *server) firstTouch(c *gin.Context, q url.Values) providers.Attribution {
	a := providers.Attribution{
		Source: cleanUTM(q.Get("utm_source")), Medium: cleanUTM(q.Get("utm_medium")),
		Campaign: cleanUTM(q.Get("utm_campaign")), Content: cleanUTM(q.Get("utm_content")),
		Term: cleanUTM(q.Get("utm_term")), LandedAt: s.Now().UTC(),
	}
	// Only the referring site is kept: a full referrer URL can carry
	// anything, including someone's personal data.
	if ref, err := url.Parse(c.Request.Referer()); err == nil && ref.Host != "" {
		a.Referrer = ref.Scheme + "://" + ref.Host
	}
	return a
}

// matchAttrs are the visit's attributes flows match on.
func (s *server) matchAttrs(c *gin.Context, q url.Values, lead *providers.Lead) map[string][]string {
	attrs := map[string][]string{}
	for _, k := range utmKeys {
		attrs[k] = []string{q.Get(k)}
	}
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	attrs["host"] = []string{strings.ToLower(host)}
	if lead != nil {
		attrs["country"] = []string{lead.CountryResidence}
		if country, ok := providers.CountryByName(lead.CountryResidence); ok {
			attrs["country"] = append(attrs["country"], country.Code, country.English)
		}
	}
	return attrs
}

// renderForm writes the form page with the session's form secrets. Pages
// with personal data are never stored by a browser or a proxy.
func (s *server) renderForm(c *gin.Context, status int, sess Session, v FormPage) {
	v.CSRF = s.sessions.csrf(sess.ID)
	v.SubmissionID = randomID()
	noStore(c)
	if err := s.Views.render(c.Writer, status, "form", v); err != nil {
		s.Log.Error("rendering form", "request_id", reqID(c), "err", err)
		s.errorPage(c, http.StatusInternalServerError, v.Page.Lang, "error.internal")
	}
}
