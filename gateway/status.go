package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
)

// errNoApplication answers anyone but the session that created an
// application exactly as for an id that does not exist.
var errNoApplication = &clientError{status: http.StatusNotFound, code: "not_found", msg: "no such application", page: "error.notfound"}

// owned returns the application id if the session created it.
func owned(ctx context.Context, sessions *session.Sessions, apps Applications, sess session.Session, known bool, id string) (providers.Record, error) {
	if !known || !store.ValidID(id) {
		return providers.Record{}, errNoApplication
	}
	rec, err := apps.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return providers.Record{}, errNoApplication
	case err != nil:
		return providers.Record{}, err
	case rec.SessionHash != sessions.Owner(sess.ID):
		return providers.Record{}, errNoApplication
	}
	return rec, nil
}

// handleStatus handles "GET /status/:id": the waiting page while pending
// (it refreshes itself, with or without JavaScript), the buyer's URL once
// accepted, the fallback or a "no offer" page once declined, and the form
// with the buyer's field errors when the buyer asked for corrections.
func handleStatus(sessions *session.Sessions, flows *Flows, apps Applications, forms *forms, next *outcomes, respond *responder,
	vs *views.Views, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, known := sessions.Load(c.Request)
		rec, err := owned(c.Request.Context(), sessions, apps, sess, known, c.Param("id"))
		if err != nil {
			own := flows.ByName(sess.Flow)
			if own == nil {
				own = flows.Default()
			}
			if errors.Is(err, errNoApplication) && known && sess.LastApp != "" && sess.LastApp != c.Param("id") {
				// Back to the page of an earlier application of this
				// consumer's, sent again since (corrected): each send
				// gives the session a new id, and that one is no longer
				// its. The page of the one they sent last, in their
				// language, not a "not found" (which any other id gets).
				forms.sent(c, http.StatusOK, own, sess.LastApp)
				return
			}
			respond.fail(c, own.Locale, err)
			return
		}
		flow := flows.ByName(rec.Flow)
		if flow == nil {
			flow = flows.Default()
		}
		// The form comes back as the application's variant showed it.
		flow = flow.As(rec.Attribution.Variant)
		cat := vs.Catalog(flow.Locale)
		noStore(c)
		if err := lostRedirect(rec); err != nil {
			respond.fail(c, flow.Locale, err)
			return
		}
		switch target, leaving := next.next(rec); {
		case leaving:
			next.leave(c, target, rec)
		case rec.Status == providers.StatusNeedsFix:
			sealed, err := apps.Sealed(c.Request.Context(), rec.ID)
			if err != nil {
				respond.fail(c, flow.Locale, fmt.Errorf("opening application %s for correction: %w", rec.ID, err))
				return
			}
			// The buyer's own messages, beside the fields they name.
			problems, alert := sealed.FieldErrors, "form.buyer_fix"
			if rec.Reason == submit.ReasonNoBuyerConsented {
				// No lender was asked, each needing a consent left
				// unticked: those boxes marked, the choice the consumer's.
				problems, alert = map[string]string{}, "form.consent_fix"
				for field := range sealed.FieldErrors {
					problems[field] = cat.T("form.consent_needed")
				}
			}
			forms.again(c, http.StatusOK, sess, flow, correctable(flow, sealed), problems, alert, false, now())
		case rec.Status == providers.StatusDeclined:
			renderStatus(c, http.StatusOK, vs, respond, vs.NoOfferView(flow.Locale, flow.NoOffer.Message, noOfferLinks(flow)))
		default:
			v := vs.StatusView(flow.Locale, cat.T("status.pending.title"), cat.T("status.pending.message"))
			if n, total := asking(c.Request.Context(), apps, rec.ID, flow); n > 0 {
				v.Checking = cat.T("status.checking", map[string]any{"n": n, "total": total})
				v.CheckingText = cat.T("status.checking")
			}
			// Without JavaScript the page refreshes itself every 2s (the
			// layout puts the meta refresh inside <noscript>); with it,
			// status.js polls instead, so no page reloads under a reader.
			v.Pending, v.Page.Refresh = true, 2
			v.PollURL, v.SelfURL = "/api/v1/applications/"+rec.ID, "/status/"+rec.ID
			v.Page.Scripts = []string{"/static/status.js"}
			renderStatus(c, http.StatusOK, vs, respond, v)
		}
	}
}

// correctable is a sent application's answers, to be corrected and sent
// again. The consents come back unticked: sending the form gives them
// again, so only the consumer's own tick may.
func correctable(flow *Flow, sealed store.Sealed) form.Values {
	vals := form.ValuesOf(&sealed.Submission.Application)
	for _, fd := range flow.Form.Fields() {
		if fd.Kind == form.Consent {
			delete(vals, fd.Name)
		}
	}
	return vals
}

// lostRedirect is the error of an accepted application whose buyer's URL
// no longer opens (the key that sealed it was dropped before retention
// erased it), on its application or on the attempt a resumed round took
// it from: the consumer gets the error page, not a redirect to nowhere
// nor a waiting page that never ends.
func lostRedirect(rec providers.Record) error {
	if rec.Status == providers.StatusAccepted && (rec.RedirectLost || rec.RedirectURL == "") {
		return fmt.Errorf("application %s: accepted, and its redirect URL does not open: the key that sealed it is gone", rec.ID)
	}
	return nil
}

// noOfferLinks are the flow's ways forward from its no-offer page.
func noOfferLinks(flow *Flow) []views.LinkView {
	var out []views.LinkView
	for _, l := range flow.NoOffer.Links {
		out = append(out, views.LinkView{Text: l.Text, URL: l.URL})
	}
	return out
}

func renderStatus(c *gin.Context, status int, vs *views.Views, respond *responder, v views.StatusPage) {
	if err := vs.Render(c.Writer, status, "status", v); err != nil {
		respond.fail(c, v.Page.Lang, fmt.Errorf("rendering the status page: %w", err))
	}
}

// applicationJSON is the body of GET /api/v1/applications/:id.
type applicationJSON struct {
	ID          string           `json:"id"`
	Status      providers.Status `json:"status"`
	RedirectURL string           `json:"redirect_url,omitempty"`
	// Lender of Lenders is being asked, while pending.
	Lender  int `json:"lender,omitempty"`
	Lenders int `json:"lenders,omitempty"`
}

// asking says which of the flow's lenders a pending application is with
// (the last one posted, or the first before any post) and how many the
// flow has: the waiting page says "lender 1 of 2", never which lender.
// 0 when it cannot tell (a failure costs the line, never the page).
func asking(ctx context.Context, apps Applications, id string, flow *Flow) (n, total int) {
	atts, err := apps.Attempts(ctx, id)
	if err != nil || len(flow.Buyers) == 0 {
		return 0, 0
	}
	n = 1
	if len(atts) > 0 {
		last := atts[len(atts)-1].Buyer
		for i, b := range flow.Buyers {
			if b == last {
				n = i + 1
			}
		}
	}
	return n, len(flow.Buyers)
}

// handleApplicationJSON handles "GET /api/v1/applications/:id".
func handleApplicationJSON(sessions *session.Sessions, flows *Flows, apps Applications, next *outcomes, respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, known := sessions.Load(c.Request)
		rec, err := owned(c.Request.Context(), sessions, apps, sess, known, c.Param("id"))
		if err != nil {
			respond.fail(c, "", err)
			return
		}
		noStore(c)
		if err := lostRedirect(rec); err != nil {
			respond.fail(c, "", err)
			return
		}
		out := applicationJSON{ID: rec.ID, Status: rec.Status}
		if rec.Status == providers.StatusPending {
			if flow := flows.ByName(rec.Flow); flow != nil {
				out.Lender, out.Lenders = asking(c.Request.Context(), apps, rec.ID, flow)
			}
		}
		if target, leaving := next.next(rec); leaving {
			next.redirected(c.Request.Context(), reqID(c), rec) // the waiting page's script follows redirect_url
			out.RedirectURL = target
		}
		c.JSON(http.StatusOK, out)
	}
}
