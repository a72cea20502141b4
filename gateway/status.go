package gateway

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// owned returns the application with the path's id if the request's session
// created it. Anyone else gets the same not-found as for an unknown id.
func (s *server) owned(c *gin.Context) (providers.Record, Session, bool) {
	sess, known := s.sessions.load(c.Request)
	id := c.Param("id")
	if !known || len(id) != 32 {
		return providers.Record{}, sess, false
	}
	app, err := s.Store.Get(c.Request.Context(), id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.Log.Error("reading application", "request_id", reqID(c), "err", err)
		}
		return providers.Record{}, sess, false
	}
	if app.SessionHash != s.sessions.owner(sess.ID) {
		return providers.Record{}, sess, false
	}
	return app, sess, true
}

// handleStatus handles "GET /status/:id": the waiting page while pending
// (it refreshes itself, with or without JavaScript), the buyer's URL once
// accepted, the fallback or a "no offer" page once declined, and the form
// with the buyer's field errors when the buyer asked for corrections.
func (s *server) handleStatus() gin.HandlerFunc {
	return func(c *gin.Context) {
		app, sess, ok := s.owned(c)
		if !ok {
			s.errorPage(c, http.StatusNotFound, s.defaultLang(), "error.notfound")
			return
		}
		flow := s.flows.ByName(app.Flow)
		if flow == nil {
			flow = s.flows.Default()
		}
		cat := s.Views.Catalog(flow.Locale)
		noStore(c)
		switch next, leaving := s.nextURL(app); {
		case leaving:
			s.redirected(c, app)
			c.Redirect(http.StatusSeeOther, next)
		case app.Status == providers.StatusNeedsFix:
			rec, err := s.Store.Sealed(c.Request.Context(), app.ID)
			if err != nil {
				s.Log.Error("opening application for correction", "request_id", reqID(c), "application", app.ID, "err", err)
				s.errorPage(c, http.StatusInternalServerError, flow.Locale, "error.internal")
				return
			}
			// The buyer's own messages, beside the fields they name.
			v := s.Views.formView(flow.Form, flow.Locale, form.ValuesOf(&rec.Submission.Application), rec.FieldErrors, s.Now(), flow.Loc)
			v.Alert = cat.T("form.buyer_fix")
			s.renderForm(c, http.StatusOK, sess, v)
		case app.Status == providers.StatusDeclined:
			v := s.Views.statusView(flow.Locale, cat.T("status.declined.title"), cat.T("status.declined.message"))
			v.Link, v.LinkText = "/", cat.T("status.declined.link")
			s.renderStatus(c, v)
		default:
			v := s.Views.statusView(flow.Locale, cat.T("status.pending.title"), cat.T("status.pending.message"))
			// Without JavaScript the page refreshes itself every 2s (the
			// layout puts the meta refresh inside <noscript>); with it,
			// status.js polls instead, so no page reloads under a reader.
			v.Pending, v.Page.Refresh = true, 2
			v.PollURL, v.SelfURL = "/api/v1/applications/"+app.ID, "/status/"+app.ID
			v.Page.Scripts = []string{"/static/status.js"}
			s.renderStatus(c, v)
		}
	}
}

func (s *server) renderStatus(c *gin.Context, v StatusPage) {
	if err := s.Views.render(c.Writer, http.StatusOK, "status", v); err != nil {
		s.Log.Error("rendering status", "request_id", reqID(c), "err", err)
		s.errorPage(c, http.StatusInternalServerError, v.Page.Lang, "error.internal")
	}
}

// applicationJSON is the body of GET /api/v1/applications/:id.
type applicationJSON struct {
	ID          string           `json:"id"`
	Status      providers.Status `json:"status"`
	RedirectURL string           `json:"redirect_url,omitempty"`
}

// handleApplicationJSON handles "GET /api/v1/applications/:id".
func (s *server) handleApplicationJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		app, _, ok := s.owned(c)
		noStore(c)
		if !ok {
			c.JSON(http.StatusNotFound, apiError{Error: apiErrorBody{Code: "not_found", Message: "no such application"}})
			return
		}
		out := applicationJSON{ID: app.ID, Status: app.Status}
		if next, leaving := s.nextURL(app); leaving {
			s.redirected(c, app) // the waiting page's script follows redirect_url
			out.RedirectURL = next
		}
		c.JSON(http.StatusOK, out)
	}
}

// apiError is every JSON error body: {"error":{"code","message"}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
