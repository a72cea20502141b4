package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// clientError is a failure the client is told about: its status, the
// code and message of the API's error body, the message key of the page,
// and how long to wait before trying again.
type clientError struct {
	status     int
	code, msg  string
	page       string
	retryAfter int
}

func (e *clientError) Error() string { return e.code + ": " + e.msg }

// The failures a client can meet. What a consumer sees is a page in the
// flow's language (page); what a program sees is the API's error body.
var (
	errNotFound       = &clientError{status: http.StatusNotFound, code: "not_found", msg: "no such resource", page: "error.notfound"}
	errNoMethod       = &clientError{status: http.StatusMethodNotAllowed, code: "not_found", msg: "Method Not Allowed", page: "error.notfound"}
	errTooLarge       = &clientError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: "the request body is too large", page: "error.toolarge"}
	errSessionLost    = &clientError{status: http.StatusForbidden, code: "forbidden", msg: "no session: start again", page: "error.session"}
	errMalformedToken = &clientError{status: http.StatusBadRequest, code: "malformed_token", msg: "an action token is 16 letters or digits", page: "error.notfound"}
	errUnknownFlow    = &clientError{status: http.StatusBadRequest, code: "unknown_flow", msg: "no flow of that name", page: "error.notfound"}
	errUnauthorized   = &clientError{status: http.StatusUnauthorized, code: "unauthorized", msg: "a valid X-API-Key (or, from a browser, an allowed Origin) is required", page: "error.notfound"}
	errOriginRefused  = &clientError{status: http.StatusForbidden, code: "origin_not_allowed", msg: "this origin may not call the prefill API", page: "error.notfound"}
	errUnknownToken   = &clientError{status: http.StatusNotFound, code: "unknown_token", msg: "cashcat does not know this action token", page: "error.notfound"}
	errInternal       = &clientError{status: http.StatusInternalServerError, code: "internal", msg: "something went wrong on our side", page: "error.internal"}
)

// rateLimited is a limit reached, to be retried after retryAfter seconds.
func rateLimited(retryAfter int, msg string) error {
	return &clientError{status: http.StatusTooManyRequests, code: "rate_limited", msg: msg, page: "error.ratelimited", retryAfter: max(retryAfter, 1)}
}

// responder answers every failure of a listener, in one shape per kind of
// route: the API's JSON error body under /api/ (and /admin/api/), a whole
// page elsewhere. It maps the domain's errors to what the client is told,
// and logs only the unexpected ones.
type responder struct {
	views *views.Views
	log   *slog.Logger
	// lang is the language of pages that belong to no flow; admin pages
	// are the operator's, in English, in their own layout.
	lang  string
	admin bool
	// breakerOpenFor is how long Cashcat's breaker stays open: the
	// Retry-After of an answer it refused.
	breakerOpenFor time.Duration
}

// fail answers err and aborts the request. lang is the page's language
// ("" for the listener's own).
func (r *responder) fail(c *gin.Context, lang string, err error) {
	ce := r.classify(err)
	reqID(c) // every error is logged: its answer names the line
	if ce == errInternal {
		r.log.Error("request failed", "request_id", reqID(c), "route", c.FullPath(), "err", err)
	}
	h := c.Writer.Header()
	h["Cache-Control"] = noStoreHeader
	if ce.retryAfter > 0 {
		h["Retry-After"] = []string{strconv.Itoa(ce.retryAfter)}
	}
	c.Abort()
	path := c.Request.URL.Path
	if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/admin/api/") {
		c.JSON(ce.status, apiError{Error: apiErrorBody{Code: ce.code, Message: ce.msg}})
		return
	}
	if lang == "" {
		lang = r.lang
	}
	if err := r.page(c.Writer, ce, lang); err != nil {
		r.log.Error("rendering an error page", "request_id", reqID(c), "err", err)
		c.String(ce.status, ce.msg+"\n")
	}
}

// page renders ce as a whole page: a status page in the consumer's
// language, or the operator's error page.
func (r *responder) page(w http.ResponseWriter, ce *clientError, lang string) error {
	if r.admin {
		return r.views.Render(w, ce.status, "admin_error", views.AdminError{Title: http.StatusText(ce.status), Message: ce.msg, Version: r.views.Version})
	}
	cat := r.views.Catalog(lang)
	v := r.views.StatusView(lang, cat.T("error.title"), cat.T(ce.page))
	v.Link, v.LinkText = "/", cat.T("error.home")
	return r.views.Render(w, ce.status, "status", v)
}

// classify maps an error to what the client is told: a clientError as it
// is, the domain's errors to theirs, anything else to a 500.
func (r *responder) classify(err error) *clientError {
	var ce *clientError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, providers.ErrNotFound):
		return errUnknownToken
	case errors.Is(err, cashcat.ErrBudgetSpent):
		return rateLimited(60, "too many new action tokens from this address: retry after the Retry-After delay").(*clientError)
	case errors.Is(err, providers.ErrBreakerOpen):
		return cashcatUnavailable(int(max(r.breakerOpenFor.Seconds(), 1)))
	case errors.Is(err, providers.ErrUnavailable), errors.Is(err, providers.ErrUnauthorized),
		errors.Is(err, providers.ErrPaymentRequired), errors.Is(err, providers.ErrBadResponse),
		errors.Is(err, providers.ErrRejectedRequest):
		// Cashcat down, slow, refusing us (401, 402: the operator is
		// alerted by the client), or answering a status its document
		// does not give (a 3xx, a 405): the caller can retry later. A
		// token of the wrong shape never gets here: the API refuses it
		// first (400).
		return cashcatUnavailable(5)
	}
	return errInternal
}

func cashcatUnavailable(retryAfter int) *clientError {
	return &clientError{status: http.StatusServiceUnavailable, code: "cashcat_unavailable", msg: "the lead cannot be fetched right now",
		page: "error.internal", retryAfter: retryAfter}
}

// apiError is every JSON error body: {"error":{"code","message"}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// noStoreHeader is the Cache-Control value of every private answer, shared
// read-only by all of them.
var noStoreHeader = []string{"no-store"}

// noStore marks an answer as never to be stored by a browser or a proxy
// (it carries personal data, a token or a per-session secret). The key is
// written canonical: c.Header would canonicalise it on every request.
func noStore(c *gin.Context) { c.Writer.Header()["Cache-Control"] = noStoreHeader }
