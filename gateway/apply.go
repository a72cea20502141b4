package gateway

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// handleApply handles "POST /apply". A form with mistakes comes back as a
// 422 with every value kept and each error beside its field; nothing goes
// to a buyer. A valid one is stored durably first, then submitted by the
// workers; the consumer waits a few seconds for the decision and is sent
// to the buyer's URL, or to the waiting page.
func (s *server) handleApply() gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, known := s.sessions.load(c.Request)
		flow := s.flows.ByName(sess.Flow)
		if flow == nil {
			flow = s.flows.Default()
		}
		parseErr := parseForm(c)
		if parseErr == errTooLarge {
			s.errorPage(c, http.StatusRequestEntityTooLarge, flow.Locale, "error.toolarge")
			return
		}
		post := c.Request.PostForm
		if !known || !s.sessions.checkCSRF(sess.ID, post.Get("csrf_token")) {
			s.refuse(c, sess, known, flow, post.Get("submission_id"))
			return
		}
		vals := flow.Form.Decode(post)
		cat := s.Views.Catalog(flow.Locale)
		now := s.Now()
		if parseErr != nil {
			// A body that is not proper form encoding (first_name=%zz) is
			// the client's mistake, not ours: what could be read comes back
			// (the post passed the CSRF check: it is the consumer's own).
			v := s.Views.formView(flow.Form, flow.Locale, vals, nil, now, flow.Loc)
			v.Alert = cat.T("form.unreadable")
			s.renderForm(c, http.StatusBadRequest, sess, v)
			return
		}

		app, problems := flow.Form.Validate(vals, now, flow.Loc)
		if len(problems) > 0 {
			msgs := map[string]string{}
			for name, p := range problems {
				msgs[name] = cat.TF(flow.Form.Name, "problem."+p.Key, p.Params)
			}
			v := s.Views.formView(flow.Form, flow.Locale, vals, msgs, now, flow.Loc)
			s.renderForm(c, http.StatusUnprocessableEntity, sess, v)
			return
		}

		id := randomID()
		// One form render, one application: a double click or a resubmit
		// after "back" carries the same submission_id and replays. The key
		// is the posting session's, so two consumers never share one.
		submission := cleanKey(post.Get("submission_id"), id)
		key := s.sessions.owner(sess.ID) + ":" + submission
		rec, created, err := s.Store.Create(c.Request.Context(), store.New{
			ID: id, SessionHash: s.sessions.owner(s.sessions.rotateFor(sess, id).ID), IdempotencyKey: key,
			Flow: flow.Name, Form: flow.Form.Name, Currency: flow.Currency,
			Prefilled: sess.Token != "", Deadline: flow.Deadline,
			Submission: s.submission(c, id, flow, sess, app),
		})
		if err != nil {
			// Nothing was stored: say so, and keep the form as it was.
			s.Log.Error("storing application", "request_id", reqID(c), "err", err)
			v := s.Views.formView(flow.Form, flow.Locale, vals, nil, now, flow.Loc)
			v.Alert = cat.T("error.internal")
			s.renderForm(c, http.StatusServiceUnavailable, sess, v)
			return
		}
		// The application belongs to a new session id, the one derived
		// for it (the same for every copy of a double click): the cookie
		// the consumer came with, planted or not, opens nothing of it.
		owner := s.sessions.rotateFor(sess, rec.ID)
		owner.LastSubmission, owner.LastApp = submission, rec.ID
		s.sessions.save(c.Writer, owner)
		if created {
			s.Log.Info("application stored", "request_id", reqID(c), "application", rec.ID, "flow", flow.Name)
			s.Submitter.Wake()
		}
		decided, err := s.Submitter.Wait(c.Request.Context(), rec.ID, s.Config.Submission.Wait)
		if err != nil {
			decided = rec
		}
		noStore(c)
		next, leaving := s.nextURL(decided)
		if leaving {
			s.redirected(c, decided)
		} else {
			next = "/status/" + decided.ID
		}
		c.Redirect(http.StatusSeeOther, next)
	}
}

// refuse answers a post that failed the CSRF check. It may come from
// another site (an auto-submitted form carries no cookie: SameSite=Lax),
// so it never echoes a posted value, never shows a consent as given and
// never sets a cookie: the consumer's own session and form stay as they
// were. A resubmit of the form the session last sent, rendered before the
// session rotated, replays that application.
func (s *server) refuse(c *gin.Context, sess Session, known bool, flow *Flow, submission string) {
	if !known {
		s.errorPage(c, http.StatusForbidden, flow.Locale, "error.session")
		return
	}
	if sess.LastApp != "" && submission == sess.LastSubmission {
		noStore(c)
		c.Redirect(http.StatusSeeOther, "/status/"+sess.LastApp)
		return
	}
	var prefill form.Values
	if sess.Token != "" {
		prefill = s.prefill(c, sess.Token, flow)
	}
	v := s.Views.formView(flow.Form, flow.Locale, prefill, nil, s.Now(), flow.Loc)
	v.Prefilled = len(prefill) > 0
	v.Alert = s.Views.Catalog(flow.Locale).T("form.session")
	s.renderForm(c, http.StatusForbidden, sess, v)
}

// cleanKey accepts a posted submission id that looks like ours, else fall.
func cleanKey(posted, fall string) string {
	if len(posted) != 32 || strings.Trim(posted, "0123456789abcdef") != "" {
		return fall
	}
	return posted
}

// submission is what buyers receive: the application plus what the
// server captured (SPEC §5 "captured by the server, never asked").
func (s *server) submission(c *gin.Context, id string, flow *Flow, sess Session, app providers.Application) providers.Submission {
	now := s.Now().UTC()
	cat := s.Views.Catalog(flow.Locale)
	var consents []providers.Consent
	vals := form.ValuesOf(&app)
	for _, fd := range flow.Form.Fields() {
		if fd.Kind != form.Consent {
			continue
		}
		given := vals[fd.Name] == "1"
		// The exact text the consumer saw: evidence, stored sealed.
		consents = append(consents, providers.Consent{Field: fd.Name, Text: cat.TF(flow.Form.Name, "field."+fd.Name), Given: given, At: now})
	}
	return providers.Submission{
		ID: id, Flow: flow.Name, Currency: flow.Currency, Country: flow.Form.Country, Application: app,
		Attribution: sess.Attribution, Consents: consents,
		IPAddress: clientIP(c), UserAgent: providers.Cut(c.Request.UserAgent(), 512),
		PageURL: strings.TrimRight(s.Config.Server.PublicURL, "/") + "/", PageVersion: s.Views.Version,
		SubmittedAt: now,
	}
}

// redirected records, for the funnel, that a consumer is being sent to the
// accepting buyer (once: the store ignores repeats). A failure costs a
// count, never the consumer's redirect.
func (s *server) redirected(c *gin.Context, app providers.Record) {
	if app.Status != providers.StatusAccepted {
		return
	}
	if err := s.Store.MarkRedirected(c.Request.Context(), app.ID); err != nil {
		s.Log.Warn("funnel: recording a redirect", "request_id", reqID(c), "err", err)
	}
}

// nextURL is where a consumer leaves to for an application in its state:
// the buyer's page once accepted, the flow's fallback once declined (when
// it has one). Otherwise the consumer stays with leadgate.
func (s *server) nextURL(app providers.Record) (string, bool) {
	switch app.Status {
	case providers.StatusAccepted:
		return app.RedirectURL, true
	case providers.StatusDeclined:
		if f := s.flows.ByName(app.Flow); f != nil && f.FallbackURL != "" {
			return f.FallbackURL, true
		}
	}
	return "", false
}
