package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
)

// forms writes the application form with a session's secrets (its CSRF
// token and a new submission id). Form pages carry personal data: never
// stored by a browser or a proxy.
type forms struct {
	views    *views.Views
	sessions *session.Sessions
	respond  *responder
	// apps says whether a sent application needs fixing (sent).
	apps Applications
}

// first writes a first render of flow's form, prefilled with vals: from
// the skeleton when it can (the landing page's fast path).
func (f *forms) first(c *gin.Context, sess session.Session, flow *Flow, vals form.Values, now time.Time) {
	noStore(c)
	if f.views.ServeForm(c.Writer, flow.Form, flow.layout(), flow.Locale, vals, len(vals) > 0, now, flow.Loc, f.csrf(c, sess), session.RandomID()) {
		return
	}
	v := f.views.FormView(flow.Form, flow.layout(), flow.Locale, vals, nil, now, flow.Loc)
	v.Prefilled = len(vals) > 0
	f.render(c, http.StatusOK, sess, v)
}

// resume writes flow's form with a restored draft's values, open on its
// step ("" for the first).
func (f *forms) resume(c *gin.Context, sess session.Session, flow *Flow, vals form.Values, prefilled bool, step string, now time.Time) {
	v := f.views.FormView(flow.Form, flow.layout(), flow.Locale, vals, nil, now, flow.Loc)
	v.Prefilled, v.Step = prefilled, step
	f.render(c, http.StatusOK, sess, v)
}

// again writes flow's form again with status: vals as they were, each
// problem beside its field, and the alert of alertKey ("" for the
// catalog's own summary of the problems).
//
// prefilled says the form was first shown prefilled (its lead gave this
// flow values): sent back, it is still that form, its words and its
// identity card (which steps.js shows only while every field of it is
// valid). Without it a 422 read like starting over.
func (f *forms) again(c *gin.Context, status int, sess session.Session, flow *Flow, vals form.Values, problems map[string]string, alertKey string, prefilled bool, now time.Time) {
	v := f.view(flow, vals, problems, alertKey, now)
	v.Prefilled = prefilled
	f.render(c, status, sess, v)
}

// view is flow's form view for vals and problems, with the alert of
// alertKey when given.
func (f *forms) view(flow *Flow, vals form.Values, problems map[string]string, alertKey string, now time.Time) views.FormPage {
	v := f.views.FormView(flow.Form, flow.layout(), flow.Locale, vals, problems, now, flow.Loc)
	if alertKey != "" {
		v.Alert = f.views.Catalog(flow.Locale).T(alertKey)
	}
	return v
}

// csrf is the CSRF token of a form page for sess. A form is never bound
// to a plain-named (Legacy) session's id, which whoever planted the cookie
// knows: with its token, drafts and posts from the planter's own script
// would pass, and read or fill in what the consumer types. Such a session
// is reissued under a new id first (the refused, 422 and 400 forms of a
// post that brought only that cookie).
func (f *forms) csrf(c *gin.Context, sess session.Session) string {
	if sess.Legacy {
		sess = f.sessions.Reissue(sess)
		f.sessions.Save(c.Writer, sess)
	}
	return f.sessions.CSRF(sess.ID)
}

// render writes the form page v with status.
func (f *forms) render(c *gin.Context, status int, sess session.Session, v views.FormPage) {
	v.CSRF = f.csrf(c, sess)
	v.SubmissionID = session.RandomID()
	noStore(c)
	if status >= 400 {
		reqID(c) // logged whatever the sample: named in the answer
	}
	if err := f.views.Render(c.Writer, status, "form", v); err != nil {
		f.respond.fail(c, v.Page.Lang, fmt.Errorf("rendering the form: %w", err))
	}
}

// outcomes says where a consumer goes once their application is decided,
// and records for the funnel that they went.
type outcomes struct {
	flows *Flows
	store Applications
	log   *slog.Logger
	// postbacks names the postbacks to send on an event of an
	// application (nil: none configured).
	postbacks func(event, flow string, a providers.Attribution) []string
}

// next is where a consumer leaves to for an application in its state:
// the buyer's page once accepted, the flow's fallback once declined (when
// it has one). Otherwise the consumer stays with leadgate.
func (o *outcomes) next(rec providers.Record) (string, bool) {
	switch rec.Status {
	case providers.StatusAccepted:
		// Without its URL (lost with its key), the status page says so.
		return rec.RedirectURL, rec.RedirectURL != ""
	case providers.StatusDeclined:
		if f := o.flows.ByName(rec.Flow); f != nil && f.FallbackURL != "" {
			return f.FallbackURL, true
		}
	}
	return "", false
}

// leave sends the consumer to target, where rec's decision sends them,
// and then records the redirect. The consumer never waits for that
// record: a write of its own (a commit behind every other on a loaded
// core), a fourth one after the application's, its attempt's and its
// decision's. The answer goes out first, whole (its length given, so the
// browser need not wait for the handler's end).
func (o *outcomes) leave(c *gin.Context, target string, rec providers.Record) {
	id := reqID(c) // named in the answer's headers, before they go
	h := c.Writer.Header()
	// With a type set, http.Redirect writes no body (one no browser shows
	// for a 303), so the length is 0.
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", "0")
	c.Redirect(http.StatusSeeOther, target)
	c.Writer.Flush()
	// Not on the request's context: once answered, a client or a proxy
	// that closes the connection (nginx speaking HTTP/1.0 upstream does,
	// after every answer) cancels it, and the record, with the
	// "redirected" postbacks, was lost with it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 10*time.Second)
	defer cancel()
	o.redirected(ctx, id, rec)
}

// redirected records, for the funnel, that a consumer is being sent to
// the accepting buyer (once: the store ignores repeats). A failure costs a
// count, never the consumer's redirect.
func (o *outcomes) redirected(ctx context.Context, reqID string, rec providers.Record) {
	if rec.Status != providers.StatusAccepted {
		return
	}
	var postbacks []string
	if o.postbacks != nil {
		postbacks = o.postbacks("redirected", rec.Flow, rec.Attribution)
	}
	if err := o.store.MarkRedirected(ctx, rec.ID, postbacks); err != nil {
		o.log.Warn("funnel: recording a redirect", "request_id", reqID, "err", err)
	}
}

// sent answers a landing of a session that has sent an application from
// its form: most often the browser's Back from the buyer's page. A fresh
// form there (its draft gone, the browser ticking the boxes it remembers)
// invited a second application of the same consumer to the same buyers:
// this page offers the one sent, and a new one only on purpose.
func (f *forms) sent(c *gin.Context, status int, flow *Flow, appID string) {
	noStore(c)
	if f.apps != nil {
		// Not sent on: to be corrected (a buyer's field errors, a consent
		// no lender could be asked without). Its page is the form.
		if rec, err := f.apps.Get(c.Request.Context(), appID); err == nil && rec.Status == providers.StatusNeedsFix {
			seeOther(c, "/status/"+appID)
			return
		}
	}
	cat := f.views.Catalog(flow.Locale)
	v := f.views.StatusView(flow.Locale, cat.T("form.sent.title"), cat.T("form.sent.message"))
	v.WaysTitle = cat.T("status.declined.ways")
	v.Ways = []views.LinkView{{Text: cat.T("form.sent.see"), URL: "/status/" + appID}, {Text: cat.T("form.sent.new"), URL: "/?new=1"}}
	renderStatus(c, status, f.views, f.respond, v)
}
