package gateway

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/views"
)

// Flow is a configured flow with what serving it needs.
type Flow struct {
	config.Flow
	Form *form.Form
	// Loc is the time zone dates are checked in: "after today" is the
	// consumer's today, not the server's.
	Loc *time.Location
	// Steps are the screens of the form in order (form.DefaultSteps
	// unless configured).
	Steps []form.Step
	// OnePage shows the whole form at once, without the steps (a
	// variant's layout); Headline, when set, is the catalog key of the
	// page's headline instead of the form's own.
	OnePage  bool
	Headline string
	// Variant is the experiment variant this copy of the flow shows ("":
	// the flow itself); experiment, on the flow itself, its variants.
	Variant    string
	experiment *experiment
}

// HasStep reports whether key is one of the flow's steps: the only step
// names counted or stored (never free text from a request).
func (f *Flow) HasStep(key string) bool {
	for _, s := range f.Steps {
		if s.Key == key {
			return true
		}
	}
	return false
}

// StepOf is the key of the step that shows field (by canonical name), or
// "" when no step of the flow shows it.
func (f *Flow) StepOf(field string) string {
	for _, s := range f.Steps {
		for _, key := range s.Sections {
			if sec := f.Form.Section(key); sec != nil {
				for _, fd := range sec.Fields {
					if fd.Name == field {
						return s.Key
					}
				}
			}
		}
	}
	return ""
}

// layout is how the form page shows the flow's form.
func (f *Flow) layout() views.Layout {
	return views.Layout{Steps: f.Steps, OnePage: f.OnePage, Headline: f.Headline,
		Links: views.ConsentLinks{Terms: f.TermsURL, Privacy: f.PrivacyURL}, Flow: f.shownAs()}
}

// shownAs is how a form page names its flow, posted back with the form:
// the flow's name, and its variant after a slash when it has one.
func (f *Flow) shownAs() string {
	if f.Variant == "" {
		return f.Name
	}
	return f.Name + "/" + f.Variant
}

// Shown is the flow a form page named (shownAs), or nil when none is
// configured by that name. A variant no longer configured is the flow
// itself, as a session's is (As).
func (f *Flows) Shown(name string) *Flow {
	name, variant, _ := strings.Cut(name, "/")
	fl := f.ByName(name)
	if fl == nil {
		return nil
	}
	return fl.As(variant)
}

// Flows picks the flow of a visit.
type Flows struct {
	list []*Flow
	def  *Flow
}

// NewFlows prepares the configured flows (already validated).
func NewFlows(cfg []config.Flow) (*Flows, error) {
	fl := &Flows{}
	for i, c := range cfg {
		f := form.Forms[c.Form]
		if f == nil {
			return nil, fmt.Errorf("flows[%d].form: form %q is not available in this version", i, c.Form)
		}
		loc, err := time.LoadLocation(f.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("flows[%d]: time zone: %w", i, err)
		}
		steps := form.DefaultSteps
		if len(c.Steps) > 0 {
			steps = c.Steps
		}
		if err := f.CheckSteps(steps); err != nil {
			return nil, fmt.Errorf("flows[%d].steps: %w", i, err)
		}
		flow := &Flow{Flow: c, Form: f, Loc: loc, Steps: steps}
		// Last: the variants are copies of the flow as prepared above.
		if flow.experiment, err = newExperiment(i, flow); err != nil {
			return nil, err
		}
		fl.list = append(fl.list, flow)
		if c.Default {
			fl.def = flow
		}
	}
	if fl.def == nil && len(fl.list) > 0 {
		// No flow marked default: the first one is (README, config).
		fl.def = fl.list[0]
	}
	return fl, nil
}

// Default is the default flow.
func (f *Flows) Default() *Flow { return f.def }

// ByName returns the named flow, or nil.
func (f *Flows) ByName(name string) *Flow {
	for _, fl := range f.list {
		if fl.Name == name {
			return fl
		}
	}
	return nil
}

// Of is the flow of a session as its variant shows it (the default flow
// for a session without one).
func (f *Flows) Of(sess session.Session) *Flow {
	fl := f.ByName(sess.Flow)
	if fl == nil {
		fl = f.def
	}
	return fl.As(sess.Attribution.Variant)
}

// Posted is the flow a form was shown for, as its hidden field names it,
// when that is a configured flow other than the session's own (a link
// with another ?flow= opened in another tab since): sess then moves to it.
// Judged by the session's flow instead, the form came back as a 422 of
// fields the consumer never saw, and its drafts were kept under the wrong
// flow. The field is the client's word: it may name a flow, as any link
// can, but not place the session in an arm no new session is dealt (one
// stopped at weight 0): such a name gets the session's own variant if
// that flow has one of its name, else an arm drawn by weight from the
// session's id, the same at every save. Within its own flow a session
// keeps the variant it was dealt. Only a post that passed the CSRF check
// may ask.
func (f *Flows) Posted(sess *session.Session, named string) *Flow {
	flow := f.Of(*sess)
	shown := f.Shown(named)
	if shown == nil || shown.Name == flow.Name {
		return flow
	}
	if base := f.ByName(shown.Name); !base.Dealing(shown.Variant) {
		if shown = base.As(sess.Attribution.Variant); shown == base {
			shown = base.Stable(sess.ID)
		}
	}
	sess.Flow, sess.Attribution.Variant = shown.Name, shown.Variant
	return shown
}

// Pick chooses a visit's flow: the one named explicitly, else the first
// whose match globs all match the visit's attributes, else the default.
// attrs holds utm_*, country (its ISO code and its name) and host.
func (f *Flows) Pick(explicit string, attrs map[string][]string) *Flow {
	if fl := f.ByName(explicit); fl != nil {
		return fl
	}
	for _, fl := range f.list {
		if len(fl.Match) > 0 && matches(fl.Match, attrs) {
			return fl
		}
	}
	return f.def
}

// matches: every key must have a value matching one of its globs
// (case-insensitively).
func matches(match map[string][]string, attrs map[string][]string) bool {
	for key, globs := range match {
		if !anyMatch(globs, attrs[key]) {
			return false
		}
	}
	return true
}

func anyMatch(globs, values []string) bool {
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, g := range globs {
			if m, _ := path.Match(strings.ToLower(g), strings.ToLower(v)); m {
				return true
			}
		}
	}
	return false
}
