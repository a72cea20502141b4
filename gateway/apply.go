package gateway

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
)

// applySettings are the plain settings POST /apply needs.
type applySettings struct {
	// wait is how long the consumer is held for a decision before the
	// waiting page (submission.wait).
	wait time.Duration
	// pageURL and version are the consent evidence's page and its
	// templates' version.
	pageURL, version string
	// dedupeSecret keys the hashes of a consumer's duplicate keys.
	dedupeSecret []byte
	// steps takes back the leave of a session that came back to send
	// (nil: no step funnel).
	steps StepCounter
	log   *slog.Logger
	now   func() time.Time
}

// handleApply handles "POST /apply". A form with mistakes comes back as a
// 422 with every value kept and each error beside its field; nothing goes
// to a buyer. A valid one is stored durably first, then submitted by the
// workers; the consumer waits a few seconds for the decision and is sent
// to the buyer's URL, or to the waiting page.
func handleApply(sessions *session.Sessions, flows *Flows, leads *leads, forms *forms, submitter Submitter,
	next *outcomes, respond *responder, set applySettings) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, known := sessions.Load(c.Request)
		flow := flows.Of(sess)
		parseErr := parseForm(c.Request)
		if parseErr == errTooLarge {
			respond.fail(c, flow.Locale, errTooLarge)
			return
		}
		post := c.Request.PostForm
		if !known || !sessions.CheckCSRF(sess.ID, post.Get("csrf_token")) {
			if known && sess.LastApp != "" && post.Get("submission_id") == sess.LastSubmission {
				replay(c, sess.LastApp, submitter, next, set)
				return
			}
			refuse(c, sess, known, flow, leads, forms, respond, set.now())
			return
		}
		// The form says which flow it was shown for.
		flow = flows.Posted(&sess, post.Get("flow"))
		now := set.now()
		// What the consumer left empty and the form derives (a state from
		// the ZIP code) is derived now, so that a form sent back shows it.
		vals := flow.Form.Derive(flow.Form.Decode(post), now, flow.Loc)
		if parseErr != nil {
			// A body that is not proper form encoding (first_name=%zz) is
			// the client's mistake, not ours: what could be read comes back
			// (the post passed the CSRF check: it is the consumer's own).
			forms.again(c, http.StatusBadRequest, sess, flow, vals, nil, "form.unreadable", prefilled(c, sess, flow, leads), now)
			return
		}
		app, problems := flow.Form.Validate(vals, now, flow.Loc)
		if len(problems) > 0 {
			cat := forms.views.Catalog(flow.Locale)
			msgs := map[string]string{}
			for name, p := range problems {
				msgs[name] = cat.TF(flow.Form.Name, "problem."+p.Key, p.Params)
			}
			forms.again(c, http.StatusUnprocessableEntity, sess, flow, vals, msgs, "", prefilled(c, sess, flow, leads), now)
			return
		}
		rec, ok := storeApplication(c, sessions, flow, sess, app, submitter, forms, set)
		if !ok {
			forms.again(c, http.StatusServiceUnavailable, sess, flow, vals, nil, "error.internal", prefilled(c, sess, flow, leads), now)
			return
		}
		decided, err := submitter.Wait(c.Request.Context(), rec.ID, set.wait)
		if err != nil {
			decided = rec
		}
		noStore(c)
		if target, leaving := next.next(decided); leaving {
			next.leave(c, target, decided)
			return
		}
		c.Redirect(http.StatusSeeOther, "/status/"+decided.ID)
	}
}

// returned is what store.New.Returned calls: the step funnel's, if any.
func returned(steps StepCounter) func(string) {
	if steps == nil {
		return nil
	}
	return steps.Returned
}

// storeApplication stores a valid application, once per form render (a
// double click or a resubmit after "back" carries the same submission_id
// and finds the first), starts its submission, and hands the browser the
// session that owns it. It says false when nothing could be stored.
func storeApplication(c *gin.Context, sessions *session.Sessions, flow *Flow, sess session.Session, app providers.Application,
	submitter Submitter, forms *forms, set applySettings) (providers.Record, bool) {
	id := store.NewID(set.now())
	// The key is the posting session's, so two consumers never share one.
	submission := submissionKey(sessions, c.Request.PostForm.Get("submission_id"), flow.Name, &app)
	rec, created, err := submitter.Create(c.Request.Context(), store.New{
		ID: id, SessionHash: sessions.Owner(sessions.RotateFor(sess, id).ID), IdempotencyKey: sessions.Owner(sess.ID) + ":" + submission,
		Flow: flow.Name, Form: flow.Form.Name, Currency: flow.Currency,
		Prefilled: sess.Token != "", Deadline: flow.Deadline, Keys: dedupeKeys(flow, app, set.dedupeSecret),
		// The session's draft goes as its application is stored.
		DraftKey: sessions.Owner(sess.ID),
		// The session's last application, if it was sent back for fixing:
		// this is its correction, one application to the funnel.
		Corrects:   sess.LastApp,
		Submission: newSubmission(id, flow, sess, app, forms.views.Catalog(flow.Locale), c.ClientIP(), c.Request.UserAgent(), set),
		Returned:   returned(set.steps),
	})
	if err != nil {
		// Nothing was stored: the consumer is told so, the form kept.
		set.log.Error("storing application", "request_id", reqID(c), "err", err)
		return providers.Record{}, false
	}
	// The application belongs to a new session id, the one derived for
	// it (the same for every copy of a double click): the cookie the
	// consumer came with, planted or not, opens nothing of it.
	owner := sessions.RotateFor(sess, rec.ID)
	owner.LastSubmission, owner.LastApp = submission, rec.ID
	sessions.Save(c.Writer, owner)
	if created {
		set.log.Info("application stored", "request_id", reqID(c), "application", rec.ID, "flow", flow.Name)
	}
	return rec, true
}

// dedupeKeys are the keys the flow recognises a consumer by, hashed.
func dedupeKeys(flow *Flow, app providers.Application, secret []byte) []string {
	if flow.Dedupe == nil {
		return nil
	}
	return providers.DedupeKeys(app, flow.Dedupe.Keys, secret)
}

// replay answers a resubmit of the form the session last sent, rendered
// before the session rotated: a double click's second post, whose cookie
// the first one's answer had already replaced. It gets the answer the
// first got, once decided: the buyer's page. It was sent to the waiting
// page at once, one hop and up to a poll later, while every post that
// came before the rotation went straight to the buyer
// (TestTwentyConcurrentSubmitsMakeOnePost, one run in two on a loaded
// machine).
func replay(c *gin.Context, appID string, submitter Submitter, next *outcomes, set applySettings) {
	decided, err := submitter.Wait(c.Request.Context(), appID, set.wait)
	noStore(c)
	if target, leaving := next.next(decided); err == nil && leaving {
		next.leave(c, target, decided)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+appID)
}

// refuse answers a post that failed the CSRF check. It may come from
// another site (an auto-submitted form carries no cookie: SameSite=Lax),
// so it never echoes a posted value, never shows a consent as given and
// never sets a cookie: the consumer's own session and form stay as they
// were.
func refuse(c *gin.Context, sess session.Session, known bool, flow *Flow, leads *leads, forms *forms, respond *responder, now time.Time) {
	if !known {
		respond.fail(c, flow.Locale, errSessionLost)
		return
	}
	if sess.LastApp != "" {
		// An older form of a session that has sent an application since
		// (Back to a page sent back for an error, and the browser's
		// resend): the page of what was sent, not a form that would make
		// a second application by mistake. Still a refusal (403): the
		// post was not taken. (One that needs fixing answers 303 to its
		// form, sent says.)
		forms.sent(c, http.StatusForbidden, flow, sess.LastApp)
		return
	}
	prefill := prefillOf(c, sess, flow, leads)
	v := forms.view(flow, prefill, nil, "form.session", now)
	v.Prefilled = len(prefill) > 0
	forms.render(c, http.StatusForbidden, sess, v)
}

// prefillOf is what the session's lead gives flow's form (none without
// a lead; the values are kept a minute, so a form sent back costs no
// call).
func prefillOf(c *gin.Context, sess session.Session, flow *Flow, leads *leads) form.Values {
	if sess.Token == "" {
		return nil
	}
	return leads.formValues(c.Request.Context(), requestRef{c}, sess.Token, clientIP(c.ClientIP()), flow)
}

// prefilled says flow's form was first shown prefilled for sess.
func prefilled(c *gin.Context, sess session.Session, flow *Flow, leads *leads) bool {
	return len(prefillOf(c, sess, flow, leads)) > 0
}

// submissionKey is what makes a post one application: the submission id
// its form was rendered with. A post without one that looks like ours (a
// hand-made post, a lender's own form) is keyed by what it applies for,
// so that two copies of it are still one application and one buyer post
// (a key of its own each made every copy a new one). Keyed with the
// server's secret: the key is stored, and must not be a plain hash of
// the consumer's answers.
func submissionKey(sessions *session.Sessions, posted, flow string, app *providers.Application) string {
	if len(posted) == 32 && strings.Trim(posted, "0123456789abcdef") == "" {
		return posted
	}
	vals := form.ValuesOf(app)
	var b strings.Builder
	b.WriteString(flow)
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		b.WriteString("\x00" + k + "=" + vals[k])
	}
	return sessions.Digest("submission|" + b.String())
}

// newSubmission is what buyers receive: the application plus what the
// server captured (SPEC §5 "captured by the server, never asked"), with
// each consent's exact text as the consumer saw it (evidence, sealed).
func newSubmission(id string, flow *Flow, sess session.Session, app providers.Application, cat views.Catalog,
	ip, userAgent string, set applySettings) providers.Submission {
	now := set.now().UTC()
	var consents []providers.Consent
	vals := form.ValuesOf(&app)
	for _, fd := range flow.Form.Fields() {
		if fd.Kind == form.Consent {
			consents = append(consents, providers.Consent{Field: fd.Name, Text: cat.TF(flow.Form.Name, "field."+fd.Name), Given: vals[fd.Name] == "1", At: now})
		}
	}
	return providers.Submission{
		ID: id, Flow: flow.Name, Currency: flow.Currency, Country: flow.Form.Country, Application: app,
		Attribution: sess.Attribution, Consents: consents,
		IPAddress: clientIP(ip), UserAgent: providers.Cut(userAgent, 512),
		PageURL: strings.TrimRight(set.pageURL, "/") + "/", PageVersion: set.version,
		SubmittedAt: now,
	}
}
