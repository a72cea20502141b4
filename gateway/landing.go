package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// handleLanding handles "GET /". With an action_token it exchanges the
// token server-side (the lead is fetched or taken from the cache and tied
// to the session) and sends the browser to the same URL without it, so the
// token does not stay in the address bar, the history or a Referer. Without
// one it renders the flow's form, prefilled from the session's lead.
func handleLanding(sessions *session.Sessions, flows *Flows, leads *leads, forms *forms, drafts *drafts, funnel VisitCounter,
	clickParams func(source string) []string, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		sess, known := sessions.Load(c.Request)
		loaded := sess
		if sess.Legacy {
			// A cookie under the plain name may have been planted (by a
			// sibling subdomain, on plain http): the page gets a session
			// id of its own, so a new CSRF secret and owner, no draft of
			// the old id and no "sent" page of its application (which
			// this session could not open).
			sess = sessions.Reissue(sess)
		}
		if sess.Attribution.LandedAt.IsZero() {
			sess.Attribution = firstTouch(q, c.Request.Referer(), now(), clickParams)
		}
		// A token link goes through the exchange and its 303 even when
		// net/url could not read the token (a ";" in its pair): the token
		// must leave the address bar all the same.
		if _, ok := q["action_token"]; ok || namesToken(c.Request.URL.RawQuery) {
			// The click ids of this URL's source too: a session that
			// first came from another source keeps that one, and this
			// URL's ids must leave the address bar all the same.
			drop := clickParams(sess.Attribution.Source)
			if src := cleanUTM(q.Get("utm_source")); src != sess.Attribution.Source {
				drop = append(drop, clickParams(src)...)
			}
			exchange(c, sessions, flows, leads, funnel, sess, q, drop)
			return
		}
		if raw := c.Request.URL.RawQuery; raw != "" && !cleanAlready(raw, q, landingClicks(sess, q, clickParams)) {
			// A click id, or a lender's own tracking (an email, a phone),
			// leaves the address bar, the history and any Referer as a
			// token does: the session has kept what attribution needs
			// (firstTouch above), and the page is the clean URL's.
			toClean(c, sessions, sess, q, landingClicks(sess, q, clickParams))
			return
		}
		if q.Has("new") {
			// "Start a new application": the form again, on purpose, once.
			// Its page is the URL without "new": Back from the buyer after
			// the new application then lands on the page of what was sent,
			// not on a fresh form the browser fills in from the last one
			// (its consents ticked) for a second application.
			sess.LastApp, sess.LastSubmission = "", ""
			q.Del("new")
			toClean(c, sessions, sess, q, landingClicks(sess, q, clickParams))
			return
		}
		flow := flows.ByName(q.Get("flow"))
		if flow == nil {
			flow = flows.ByName(sess.Flow)
		}
		if flow == nil {
			flow = flows.Pick("", matchAttrs(q, c.Request.Host, nil, sess.Attribution))
		}
		sess.Flow = flow.Name
		// The session's variant, dealt at its first landing and kept.
		flow, sess.Attribution.Variant = flow.Assign(firstVariant(sess, flow, q))
		var prefill form.Values
		if sess.Token != "" {
			var spend cashcat.Spend
			prefill = leads.formValues(cashcat.WithSpend(c.Request.Context(), &spend), requestRef{c}, sess.Token, clientIP(c.ClientIP()), flow)
			paid(funnel, flow.Name, sess.Attribution, spend.Calls())
		}
		if known && !sess.Counted && funnel != nil {
			// A visit is a browser that came back with its session cookie
			// (here after the token exchange's 303; a first page without a
			// token counts on its beacon, handleVisit): a script that never
			// returns a cookie counts nothing. Counted in memory: no
			// database write on the landing page's path.
			funnel.Visit(flow.Name, sess.Attribution, len(prefill) > 0)
			sess.Counted = true
		}
		sentApp := sess.LastApp
		if !known || sess != loaded {
			// Sealing a cookie is the costliest part of a reload: only
			// when the session changed.
			sessions.Save(c.Writer, sess)
			sessions.Keep(c.Request, sess)
		}
		if sentApp != "" {
			forms.sent(c, http.StatusOK, flow, sentApp)
			return
		}
		if vals, step, ok := drafts.restore(c.Request.Context(), requestRef{c}, sess, flow, prefill); ok {
			forms.resume(c, sess, flow, vals, len(prefill) > 0, step, now())
			return
		}
		forms.first(c, sess, flow, prefill, now())
	}
}

// toClean saves sess and answers 303 to the clean URL of q (see
// cleanQuery), uncached.
func toClean(c *gin.Context, sessions *session.Sessions, sess session.Session, q url.Values, clickParams []string) {
	sessions.Save(c.Writer, sess)
	target := "/"
	if clean := cleanQuery(q, clickParams); len(clean) > 0 {
		target += "?" + clean.Encode()
	}
	noStore(c)
	seeOther(c, target)
}

// exchange ties the token's lead to the session and redirects to the
// clean URL. A malformed token costs no upstream call; an unavailable
// Cashcat costs only the prefill, never the page.
//
// The click ids are kept in the session and dropped from the clean URL
// with the token: a pseudonymous identifier has no place in the address
// bar, the history or a Referer either.
func exchange(c *gin.Context, sessions *session.Sessions, flows *Flows, leads *leads, funnel VisitCounter,
	sess session.Session, q url.Values, clickParams []string) {
	token := q.Get("action_token")
	// The token the session already holds (a second tap on the offer,
	// Back to the marketplace and its link again) is the same offer: the
	// session is kept, and with it what the consumer typed, the form open
	// in another tab (its CSRF token is the session's) and the page of
	// what they sent. Only where no one else can have set the cookie: on
	// plain http a planter who knows the token would share the session.
	again := token != "" && token == sess.Token && !sessions.Plantable()
	var lead *providers.Lead
	var spend cashcat.Spend
	// A new token replaces the session's lead, found or not: on a shared
	// phone, the next consumer's link must never show the last one's data.
	sess.Token = ""
	if cashcat.ValidToken(token) {
		ctx := cashcat.WithSpend(c.Request.Context(), &spend)
		if lead = leads.forPage(ctx, requestRef{c}, token, clientIP(c.ClientIP())); lead != nil || again {
			// The same token keeps its place even while its lead cannot
			// be had (Cashcat down, the budget spent): the next landing
			// with it is still the same offer, and the page's prefill
			// comes back with Cashcat.
			sess.Token = token
		}
	}
	flow := flows.Pick(q.Get("flow"), matchAttrs(q, c.Request.Host, lead, sess.Attribution))
	sess.Flow = flow.Name
	_, sess.Attribution.Variant = flow.Assign(firstVariant(sess, flow, q))
	paid(funnel, sess.Flow, sess.Attribution, spend.Calls())
	if !again {
		// A new token is a new offer: its form, not the page of the
		// application sent before. (The same token whose lead cannot be
		// had now, Cashcat down or the budget spent, loses its prefill
		// only: it is still the same consumer's same offer.)
		sess.LastApp, sess.LastSubmission = "", ""
		// A new id (and CSRF secret) once the session holds a lead: a
		// cookie planted before the exchange opens nothing of what
		// follows.
		sess = sessions.Rotate(sess)
	}
	toClean(c, sessions, sess, q, clickParams) // Referrer-Policy: no-referrer, by securityHeaders
}

// cleanKeys are the parameters the form page reads; the clean URL keeps
// only these. A lender's own link can carry anything (an email or a phone
// for its own tracking), and nothing else may stay in the address bar,
// the history or a Referer.
var cleanKeys = append([]string{"flow", "variant", "new"}, utmKeys...)

// landingClicks are the click parameters a landing's URL must lose: the
// session's source's and this URL's own (a returning session may come
// from another source, whose click id is in another parameter).
func landingClicks(sess session.Session, q url.Values, clickParams func(source string) []string) []string {
	clicks := clickParams(sess.Attribution.Source)
	if src := cleanUTM(q.Get("utm_source")); src != sess.Attribution.Source {
		clicks = append(slices.Clip(clicks), clickParams(src)...)
	}
	return clicks
}

// cleanAlready says the query raw, read as q, has nothing cleanQuery
// would drop. net/url leaves out of q a pair it cannot read (a ";", a
// bad "%" escape), and all of them past its limit on their number,
// without a word: such a query is never clean.
func cleanAlready(raw string, q url.Values, clickParams []string) bool {
	if len(q) == 0 || strings.ContainsAny(raw, ";%") {
		if _, err := url.ParseQuery(raw); err != nil {
			return false
		}
	}
	for k, vs := range q {
		if !slices.Contains(cleanKeys, k) || slices.Contains(clickParams, k) || slices.ContainsFunc(vs, holdsAddress) {
			return false
		}
	}
	return true
}

// cleanQuery is q with only cleanKeys, less the click ids (a source may
// put its click id in a utm_* value) and any value holding an email
// address.
func cleanQuery(q url.Values, clickParams []string) url.Values {
	clean := url.Values{}
	for _, k := range cleanKeys {
		if v, ok := q[k]; ok && !slices.Contains(clickParams, k) {
			if v = slices.DeleteFunc(slices.Clone(v), holdsAddress); len(v) > 0 {
				clean[k] = v
			}
		}
	}
	return clean
}

// seeOther answers 303 to target, a path of this server already escaped
// (url.Values.Encode writes only ASCII). Gin's Redirect goes through
// http.Redirect, which parses the URL again and writes an HTML body no
// browser shows for a 303: a seventh of every arrival from Cashcat.
func seeOther(c *gin.Context, target string) {
	c.Writer.Header()["Location"] = []string{target}
	c.Status(http.StatusSeeOther)
	c.Writer.WriteHeaderNow()
}

// handleVisit handles "GET /v.gif", the form page's one-pixel beacon: the
// first request after a landing that carries the session cookie back. It
// counts the session's visit if the landing could not (a first page
// without a token), and works without JavaScript.
func handleVisit(sessions *session.Sessions, flows *Flows, funnel VisitCounter) gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		if sess, known := sessions.Load(c.Request); known && !sess.Counted && funnel != nil {
			flow := flows.Of(sess)
			funnel.Visit(flow.Name, sess.Attribution, sess.Token != "")
			sess.Counted = true
			sessions.Save(c.Writer, sess)
			sessions.Keep(c.Request, sess)
		}
		c.Data(http.StatusOK, "image/gif", pixel)
	}
}

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// paid counts, for the funnel's spend and profit, the paid Cashcat calls
// a visit caused.
func paid(funnel VisitCounter, flow string, a providers.Attribution, calls int) {
	if calls > 0 && funnel != nil {
		funnel.Spend(flow, a, calls)
	}
}
