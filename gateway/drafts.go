package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// DraftStore keeps what consumers type before they send it: sealed, one
// draft per session, keyed by the session's owner hash.
type DraftStore interface {
	SaveDraft(ctx context.Context, key string, ch store.DraftChange) (store.Draft, error)
	Draft(ctx context.Context, key string) (store.Draft, error)
	MarkLeft(ctx context.Context, key, flow, line string) (draftFlow string, first bool, err error)
}

// maxDraftBody bounds a draft save: the longest form's every field at its
// longest fits in a quarter of it.
const maxDraftBody = 32 << 10

// drafts saves, restores and counts the drafts of the form: a reload, a
// crashed tab or a return within drafts.ttl finds what was typed, and the
// step funnel learns how far each session got. A draft is never sent to a
// buyer: only POST /apply sends.
type drafts struct {
	store    DraftStore // nil: drafts are off
	sessions *session.Sessions
	flows    *Flows
	steps    StepCounter // nil: nothing counted
	ttl      time.Duration
	log      *slog.Logger
	now      func() time.Time
}

// restore is the session's draft in flow, if it has one younger than the
// TTL: its values over prefill (a value the consumer emptied stays empty),
// and its step.
func (d *drafts) restore(ctx context.Context, reqID requestRef, sess session.Session, flow *Flow, prefill form.Values) (form.Values, string, bool) {
	if d.store == nil || !sess.Draft {
		return nil, "", false
	}
	dr, err := d.store.Draft(ctx, d.sessions.Owner(sess.ID))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			// The form still shows, prefilled: a draft is a convenience.
			d.log.Warn("drafts: reading a draft", "request_id", reqID, "err", err)
		}
		return nil, "", false
	}
	if dr.Flow != flow.Name || dr.UpdatedAt.Before(d.now().Add(-d.ttl)) {
		return nil, "", false
	}
	vals := form.Values{}
	for k, v := range prefill {
		vals[k] = v
	}
	for k, v := range dr.Values {
		if fd := flow.Form.Field(k); fd == nil || fd.Kind == form.Consent {
			continue // only the form's fields, and never a consent
		}
		if v == "" {
			delete(vals, k)
		} else {
			vals[k] = v
		}
	}
	step := dr.Step
	if !flow.HasStep(step) {
		step = ""
	}
	return vals, step, true
}

// post reads a draft save or beacon: the session's own (a known
// session and its form's CSRF token), within maxDraftBody. Otherwise it
// answers with a bare status, echoing nothing, and says false.
func (d *drafts) post(c *gin.Context) (session.Session, *Flow, bool) {
	noStore(c)
	if d.store == nil {
		refuseDraft(c, http.StatusNotFound)
		return session.Session{}, nil, false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxDraftBody)
	if err := parseForm(c.Request); err != nil {
		status := http.StatusBadRequest
		if err == errTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		refuseDraft(c, status)
		return session.Session{}, nil, false
	}
	sess, known := d.sessions.Load(c.Request)
	if !known || !d.sessions.CheckCSRF(sess.ID, c.Request.PostForm.Get("csrf_token")) {
		refuseDraft(c, http.StatusForbidden)
		return session.Session{}, nil, false
	}
	if sess.Legacy {
		// A plain-named session may have been planted: nothing is kept
		// under its id for the planter to read. Its form (rendered before
		// the __Host- name) still sends; it only goes without a draft.
		c.AbortWithStatus(http.StatusNoContent)
		return session.Session{}, nil, false
	}
	// The flow of the form that sent it, with its steps and fields.
	flow := d.flows.Posted(&sess, c.Request.PostForm.Get("flow"))
	return sess, flow, true
}

// signals are the step and field names of a post when each is empty or
// the flow's own (a step of flow.Steps, a field of its form): never free
// text from a request. Without a step, the field's own step. ok is false
// when a name is not the flow's: nothing is counted then.
func signals(flow *Flow, post url.Values) (step, field string, ok bool) {
	step, field = post.Get("step"), post.Get("field")
	if (field != "" && flow.Form.Field(field) == nil) || (step != "" && !flow.HasStep(step)) {
		return "", "", false
	}
	if step == "" {
		step = stepOfField(flow, field)
	}
	return step, field, true
}

// stepOfField is the key of the step that shows field, or "".
func stepOfField(flow *Flow, field string) string {
	for _, sec := range flow.Form.Sections {
		if !slices.ContainsFunc(sec.Fields, func(fd *form.Field) bool { return fd.Name == field }) {
			continue
		}
		for _, st := range flow.Steps {
			if slices.Contains(st.Sections, sec.Key) {
				return st.Key
			}
		}
	}
	return ""
}

// draftValues are the form's fields of a post, trimmed and cut as a sent
// form's are, a field posted empty kept as "" (the consumer emptied a
// prefilled value); never a consent, which only the consumer's own click
// at sending gives.
func draftValues(flow *Flow, c *gin.Context) map[string]string {
	post := c.Request.PostForm
	decoded := flow.Form.Decode(post)
	vals := map[string]string{}
	for _, fd := range flow.Form.Fields() {
		if _, posted := post[fd.Name]; !posted || fd.Kind == form.Consent {
			continue
		}
		vals[fd.Name] = decoded[fd.Name]
	}
	return vals
}

// handleDraft handles "POST /draft": the form as it is now, saved as the
// session's draft (each field change, debounced, and each step change).
// It answers 204 and nothing else; the first save marks the session as
// having a draft. The step funnel counts the session's first field
// (Started) and each step it reaches, once.
func handleDraft(d *drafts) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, flow, ok := d.post(c)
		if !ok {
			return
		}
		step, field, _ := signals(flow, c.Request.PostForm)
		before, err := d.store.SaveDraft(c.Request.Context(), d.sessions.Owner(sess.ID),
			store.DraftChange{Flow: flow.Name, Values: draftValues(flow, c), Step: step, Field: field})
		switch {
		case errors.Is(err, store.ErrDraftClosed):
			// A save still in flight when the form was sent: nothing to keep.
			c.Status(http.StatusNoContent)
			return
		case err != nil:
			d.log.Warn("drafts: saving a draft", "request_id", reqID(c), "err", err)
			refuseDraft(c, http.StatusServiceUnavailable)
			return
		}
		d.count(flow, sess.Attribution, before, step, field)
		if !sess.Draft {
			sess.Draft = true
			d.sessions.Save(c.Writer, sess)
		}
		c.Status(http.StatusNoContent)
	}
}

// count tells the step counter what a save changed: the session's first
// field, a step not reached before.
func (d *drafts) count(flow *Flow, a providers.Attribution, before store.Draft, step, field string) {
	if d.steps == nil {
		return
	}
	if field != "" && !before.Started {
		d.steps.Started(flow.Name, a)
	}
	if step != "" && !slices.Contains(before.Steps, step) {
		d.steps.Reached(flow.Name, a, step)
	}
}

// refuseDraft answers a bare error status, with the id of its access-log line
// (every error is logged).
func refuseDraft(c *gin.Context, status int) {
	reqID(c)
	c.AbortWithStatus(status)
}

// handleDraftLeft handles "POST /draft/left", the form's pagehide beacon:
// the step the consumer was on and the last field touched (names only).
// A session that left is counted once, and only if it has a draft and did
// not send its application; names not of the flow count nothing.
func handleDraftLeft(d *drafts) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, flow, ok := d.post(c)
		if !ok {
			return
		}
		c.Status(http.StatusNoContent)
		step, field, ok := signals(flow, c.Request.PostForm)
		if !ok || step == "" {
			return
		}
		var line string
		if d.steps != nil {
			line = d.steps.LeftLine(flow.Name, sess.Attribution, step, field)
		}
		left, first, err := d.store.MarkLeft(c.Request.Context(), d.sessions.Owner(sess.ID), flow.Name, line)
		if err != nil {
			d.log.Warn("drafts: recording a leave", "request_id", reqID(c), "err", err)
			return
		}
		if first && left == flow.Name && d.steps != nil {
			d.steps.Left(line)
		}
	}
}
