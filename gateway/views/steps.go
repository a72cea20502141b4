package views

import (
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/leadgate/leadgate/gateway/form"
)

// Layout is how a flow shows its form: its steps in order, or the whole
// form at once (OnePage), and the catalog key of its headline when it is
// not the form's own. The form page is one <form> either way; steps.js
// turns the steps into screens when JavaScript runs.
type Layout struct {
	Steps    []form.Step
	OnePage  bool
	Headline string
	// Links are the pages the terms consent links to (links.go).
	Links ConsentLinks
	// Flow names the flow (and its variant) the page is of, posted back
	// with the form: the session's flow may have changed since.
	Flow string
}

// StepView is one step of the form: its sections under its title.
type StepView struct {
	Key, Title    string
	Number, Total int
	First, Last   bool
	Sections      []SectionView
}

// arrange puts the page's sections on the layout's steps and sets what
// depends on the layout: the headline and the step texts of steps.js.
func (v *Views) arrange(p *FormPage, f *form.Form, lang string, l Layout) {
	c := v.Catalog(lang)
	p.OnePage, p.Flow = l.OnePage, l.Flow
	if l.Headline != "" {
		p.Headline = c.TF(f.Name, l.Headline)
	} else {
		p.Headline = p.Page.Title
	}
	p.Page.Title = p.Headline
	p.Page.Description = c.TF(f.Name, "meta.description")
	steps := l.Steps
	if len(steps) == 0 {
		steps = form.DefaultSteps
	}
	index := map[string]int{}
	for i, s := range f.Sections {
		index[s.Key] = i
	}
	for i, s := range steps {
		sv := StepView{Key: s.Key, Title: c.TF(f.Name, "step."+s.Key), Number: i + 1, Total: len(steps), First: i == 0, Last: i == len(steps)-1}
		for _, key := range s.Sections {
			if j, ok := index[key]; ok && j < len(p.Sections) {
				// SectionView shares its Fields with p.Sections: the
				// skeleton's marks set there show here too.
				sv.Sections = append(sv.Sections, p.Sections[j])
			}
		}
		p.Steps = append(p.Steps, sv)
	}
	// One page too: its fields are checked in the form's words, not in
	// the browser's bubble and language.
	p.Page.LayoutScript = "/static/steps.js"
	p.Texts = StepTexts{
		Progress: c.T("steps.progress"), Sending: c.T("steps.sending"), Born: c.T("steps.born"),
		Change: c.T("steps.change"), ChangeStep: c.T("steps.change_step"), Alert: c.T("form.alert"),
		ErrorTitle: c.T("form.error_title"), Yes: c.T("option.yes"), No: c.T("option.no"), Ending: c.T("steps.ending"),
	}
	if len(p.ErrorList) > 0 {
		p.Page.Title = c.T("form.error_title") + p.Page.Title
	}
}

// StepTexts are the words steps.js writes, in the page's language, carried
// as data attributes of the form (the CSP allows no inline script).
type StepTexts struct {
	Progress, Sending, Born, Change, ChangeStep, Alert, ErrorTitle, Yes, No, Ending string
}

// clientMessages are a field's data-m-* attributes: the catalog's message
// for each browser validity state that can fail on it, and for its
// checksum, named by data-check (steps.js's CHECKS).
func clientMessages(c Catalog, f *form.Form, fd *form.Field) template.HTMLAttr {
	probs := fd.ClientProblems()
	states := make([]string, 0, len(probs))
	for s := range probs {
		states = append(states, s)
	}
	sort.Strings(states)
	var b strings.Builder
	for _, s := range states {
		p := probs[s]
		b.WriteString(" data-m-" + s + `="` + template.HTMLEscapeString(c.TF(f.Name, "problem."+p.Key, p.Params)) + `"`)
	}
	if name := fd.CheckName(); name != "" {
		b.WriteString(` data-check="` + name + `"`)
	}
	return template.HTMLAttr(b.String())
}

// shortLabel is the field's short name for the error summary and the
// review ("short.<field>"), or its label when that is short already.
func shortLabel(c Catalog, form, field, label string) string {
	if s := c.TF(form, "short."+field); s != "short."+field {
		return s
	}
	return label
}

// CheckSteps makes sure each step can be shown in lang: a title
// ("step.<key>", or the form's own) and the step UI's words. Run for each
// configured flow, so that a step of a new name stops start-up until the
// catalogs name it.
func (v *Views) CheckSteps(f *form.Form, lang string, steps []form.Step) error {
	c := v.Catalog(lang)
	var missing []string
	need := []string{"steps.progress", "steps.next", "steps.back", "steps.sending", "steps.born", "steps.change", "steps.change_step", "form.error_title"}
	for _, s := range steps {
		need = append(need, "step."+s.Key)
	}
	for _, key := range need {
		_, shared := c[key]
		_, own := c[f.Name+"."+key]
		if !shared && !own {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("views: form %s in %s: missing messages: %s", f.Name, lang, strings.Join(missing, ", "))
	}
	return nil
}
