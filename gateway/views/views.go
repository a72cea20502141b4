// Package views is leadgate's pages: the embedded templates and message
// catalogs, parsed once at start, a typed view per page, and the form's
// skeleton renderer (the landing page's fast path).
package views

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"gopkg.in/yaml.v3"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
)

// Views holds the parsed pages and message catalogs. Parsed once at start:
// a broken template or a missing message stops the gateway before it serves.
type Views struct {
	pages    map[string]*template.Template
	catalogs map[string]Catalog
	// lists are the long option lists (countries, states), rendered once
	// per language: 235 options escaped per request were most of a page's
	// cost. list name → language → HTML.
	lists map[string]map[string]string
	// Version identifies the templates and texts served: it is stored with
	// each consent as the page version, and busts the static asset cache.
	Version string
	static  fs.FS
	skel    *skeletons
	// testFill puts the sandbox's "Fill with test values" button on every
	// form (Options.TestFill).
	testFill bool
}

// Options are what a deployment changes in its pages.
type Options struct {
	// TestFill puts the sandbox's "Fill with test values" button on every
	// form: for sandbox mode only.
	TestFill bool
}

// Catalog is one language's messages.
type Catalog map[string]string

// T returns the message key, with {name} placeholders filled from params.
// A missing key shows as the key itself, never as an empty string.
func (c Catalog) T(key string, params ...map[string]any) string {
	s, ok := c[key]
	if !ok {
		return key
	}
	for _, p := range params {
		for k, v := range p {
			s = strings.ReplaceAll(s, "{"+k+"}", fmt.Sprint(v))
		}
	}
	return s
}

// TF returns form's own wording of key when the catalog has one (the us
// form's "us.field.postal_code" is "ZIP code"), else the shared wording.
func (c Catalog) TF(form, key string, params ...map[string]any) string {
	if _, ok := c[form+"."+key]; ok {
		return c.T(form+"."+key, params...)
	}
	return c.T(key, params...)
}

// NewViews parses the pages and catalogs in fsys (the embedded templates).
func New(fsys fs.FS, opts Options) (*Views, error) {
	v := &Views{pages: map[string]*template.Template{}, catalogs: map[string]Catalog{}, skel: newSkeletons(), testFill: opts.TestFill}
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	v.Version = hex.EncodeToString(h.Sum(nil))[:12]
	for _, lang := range []string{"es", "en"} {
		b, err := fs.ReadFile(fsys, "locales/"+lang+".yaml")
		if err != nil {
			return nil, fmt.Errorf("views: %w", err)
		}
		var c Catalog
		if err := yaml.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("views: locales/%s.yaml: %w", lang, err)
		}
		v.catalogs[lang] = c
	}
	for _, page := range []string{"form", "status"} {
		t, err := template.New(page).ParseFS(fsys, "layout.html", page+".html")
		if err != nil {
			return nil, fmt.Errorf("views: %w", err)
		}
		v.pages[page] = t
	}
	// Operator pages have their own layout: English, no consumer chrome.
	for page, file := range map[string]string{"admin": "admin.html", "dashboard": "admin_dashboard.html", "admin_error": "admin_error.html"} {
		t, err := template.New(page).ParseFS(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("views: %w", err)
		}
		v.pages[page] = t
	}
	if err := v.renderLists(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	v.static = static
	return v, nil
}

// CheckForm makes sure a form can be shown in lang: every section and
// field has a label and every option a text. Run for each configured flow,
// it stops a start-up that would show message keys to consumers.
func (v *Views) CheckForm(f *form.Form, lang string) error {
	c, ok := v.catalogs[lang]
	if !ok {
		return fmt.Errorf("views: no messages in language %q", lang)
	}
	var missing []string
	need := func(key string) {
		if _, ok := c[key]; !ok {
			missing = append(missing, key)
		}
	}
	for _, s := range f.Sections {
		need("section." + s.Key)
	}
	for _, fd := range f.Fields() {
		need("field." + fd.Name)
		switch {
		case fd.Kind == form.YesNo, fd.Kind == form.Check:
			// A box's answer reads yes or no on the review step.
			need("option.yes")
			need("option.no")
		case fd.Kind == form.Choice && fd.List == "":
			for _, o := range fd.Options {
				need("option." + fd.Name + "." + o)
			}
		}
		if fd.Format != nil {
			need("problem.format." + fd.Format.Name)
			if fd.Format.Check != nil {
				need("problem.check." + fd.Format.Name)
			}
		}
		if fd.After != "" {
			need("problem.date.after." + fd.After)
		}
	}
	for _, key := range f.OutsideKeys() {
		need("problem." + key)
	}
	if f.Field("consent_terms") != nil {
		if err := checkLinkWords(c, f.Name); err != nil {
			return fmt.Errorf("views: form %s in %s: %w", f.Name, lang, err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("views: form %s in %s: missing messages: %s", f.Name, lang, strings.Join(missing, ", "))
	}
	return nil
}

var listOptions = template.Must(template.New("list").Parse(
	`{{range .}}<option value="{{.Value}}">{{.Label}}</option>{{end}}`))

// renderLists renders the long option lists once per language.
func (v *Views) renderLists() error {
	v.lists = map[string]map[string]string{"countries": {}, "states": {}}
	for lang := range v.catalogs {
		var countries, states []OptionView
		for _, c := range providers.Countries {
			countries = append(countries, OptionView{Value: c.Code, Label: countryName(lang, c)})
		}
		if lang == "es" {
			// Casheddy's list spells most countries in their own tongue
			// ("Al Maghrib", "Deutschland", "Nihon or Nippon"), in which a
			// Moroccan or a German in Spain did not find theirs. Spanish
			// pages name them in Spanish, in Spanish order, after the
			// origins Casheddy's list puts first.
			col := collate.New(language.Spanish)
			rest := countries[leadingCountries:]
			slices.SortStableFunc(rest, func(a, b OptionView) int { return col.CompareString(a.Label, b.Label) })
		}
		for _, s := range providers.States {
			states = append(states, OptionView{Value: s.Code, Label: s.Name})
		}
		for name, opts := range map[string][]OptionView{"countries": countries, "states": states} {
			var buf bytes.Buffer
			if err := listOptions.Execute(&buf, opts); err != nil {
				return fmt.Errorf("views: %s options: %w", name, err)
			}
			v.lists[name][lang] = buf.String()
		}
	}
	return nil
}

// leadingCountries are the first of providers.Countries (Spain and its
// largest immigrant origins), kept first in every list.
const leadingCountries = 4

// countryName is a country's name on a page in lang: English, or Spanish
// (from CLDR through golang.org/x/text), the value sent being its code
// (each buyer's mapper spells it as its document wants).
func countryName(lang string, c providers.Country) string {
	if lang == "en" {
		return c.English
	}
	if c.Code == "CN-XZ" {
		return "Tíbet" // a region of a country, which CLDR does not name
	}
	if r, err := language.ParseRegion(c.Code); err == nil {
		if name := spanishRegions.Name(r); name != "" {
			return name
		}
	}
	return c.Casheddy
}

var spanishRegions = display.Spanish.Regions()

// listOptionsHTML is a pre-rendered list with code selected. A code is
// only ever matched against the list's own values, never inserted.
func (v *Views) listOptionsHTML(name, lang, code string) template.HTML {
	var b bytes.Buffer
	v.writeListOptions(&b, name, lang, code)
	return template.HTML(b.String())
}

// Catalog returns the messages of lang (English when unknown).
func (v *Views) Catalog(lang string) Catalog {
	if c, ok := v.catalogs[lang]; ok {
		return c
	}
	return v.catalogs["en"]
}

// Page is what every page's view has.
type Page struct {
	Lang    string
	Title   string
	Version string
	Refresh int // seconds; 0: no meta refresh
	Scripts []string
	// LayoutScript, when set, runs after Scripts and arranges the page
	// (steps.js shows one step of the form): the browser paints nothing
	// before it has run (blocking="render"), so nothing painted moves
	// when it does (a layout shift: Lighthouse's CLS, a mis-tap on a
	// phone). Without JavaScript the page paints as it arrives.
	LayoutScript string
	// Description is the page's meta description (search results).
	Description string
	cat         Catalog
}

// T translates key in the page's language (used by the templates).
func (p Page) T(key string) string { return p.cat.T(key) }

// Render executes page into a buffer first, so that a failing template
// never sends half a page: the consumer gets a whole page or an error.
func (v *Views) Render(w http.ResponseWriter, status int, page string, data any) error {
	var buf bytes.Buffer
	if err := v.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("rendering %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// FormPage is the view of the application form. View structs name their
// fields instead of embedding: text/template resolves a promoted field
// through reflect.FieldByNameFunc on every use, which cost most of a page.
type FormPage struct {
	Page         Page
	Prefilled    bool
	Alert        string
	ErrorList    []FieldError
	CSRF         string
	SubmissionID string
	// Flow is the flow the form is of (Layout.Flow), sent back with it.
	Flow     string
	Sections []SectionView
	// Steps are the same sections on the flow's steps (steps.go); the page
	// shows Steps. OnePage: the whole form without the step UI.
	Steps    []StepView
	OnePage  bool
	Headline string
	Texts    StepTexts
	// TestFill is the form's name when the sandbox's "Fill with test
	// values" button is shown (sandbox mode only), for its script.
	TestFill string
	// Step is the step to open first (data-step on the form): the one a
	// restored draft was on; "" for the first.
	Step string
}

// FieldError is one line of the error summary at the top of the form.
type FieldError struct{ ID, Label, Message string }

// SectionView is one fieldset.
type SectionView struct {
	Title  string
	Fields []FieldView
}

// FieldView is one input, with everything the template writes.
type FieldView struct {
	Type, Pattern, Min, Max, InputMode, Autocomplete string
	Required                                         bool
	MinLength, MaxLength                             int
	Name, ID, Label, Hint, Error, Value              string
	Optional, Choose, Describedby                    string
	Checked                                          bool
	// Secret marks the field for steps.js's review: only its last four
	// characters shown (form.Field.Secret).
	Secret bool
	// LabelHTML, when set, is Label with links in it (the terms consent's
	// words for the terms and the privacy policy): the same words.
	LabelHTML template.HTML
	// Messages are the data-m-* attributes: the catalog's message for each
	// browser check the field can fail (steps.js shows them).
	Messages template.HTMLAttr
	// Short is the field's short name where its label is long (a
	// consent's whole text): the summary's and the review's words.
	Short string
	// Shown is how the review writes the answer, "{v}" standing for it
	// ("{v} días", "${v}"): a line of bare numbers, "300 · 30", says
	// nothing of euros or days.
	Shown string
	// Mark is empty on a normal render; in a form skeleton it marks where
	// " checked" goes (see skeleton.go).
	Mark    template.HTMLAttr
	Options []OptionView
	// OptionsHTML, when set, replaces Options: a long list rendered once.
	OptionsHTML template.HTML
}

// OptionView is one option of a select or radio group.
type OptionView struct {
	Value, Label string
	Selected     bool
	Mark         template.HTMLAttr // see FieldView.Mark
}

// sandboxFillScript is served by the sandbox, mounted in sandbox mode
// only: from our own origin, as the CSP wants.
const sandboxFillScript = "/sandbox/fill.js"

// draftScript saves what the consumer types as the session's draft
// (POST /draft) and sends the pagehide beacon (POST /draft/left).
const draftScript = "/static/draft.js"

// deriveScript is the form's derivations in the browser, served from the
// binary like every static file.
const deriveScript = "/static/derive.js"

// FormView builds the form's view from values and problems.
func (v *Views) FormView(f *form.Form, l Layout, lang string, vals form.Values, problems map[string]string, now time.Time, loc *time.Location) FormPage {
	c := v.Catalog(lang)
	p := FormPage{Page: Page{Lang: lang, Title: c.T("form.title"), Version: v.Version, cat: c, Scripts: []string{draftScript}}}
	if v.testFill {
		p.TestFill = f.Name
		p.Page.Scripts = append(p.Page.Scripts, sandboxFillScript)
	}
	// derive.js fills derived fields as the consumer types their sources
	// (README, "Fewer questions"); without it the server derives them.
	p.Page.Scripts = append(p.Page.Scripts, deriveScript)
	for _, s := range f.Sections {
		sv := SectionView{Title: c.T("section." + s.Key)}
		for _, fd := range s.Fields {
			in := fd.Input(now, loc)
			fv := FieldView{
				Type: in.Type, Pattern: in.Pattern, Min: in.Min, Max: in.Max, InputMode: in.InputMode,
				Autocomplete: in.Autocomplete, Required: in.Required, MinLength: in.MinLength, MaxLength: in.MaxLength,
				Name: fd.Name, ID: "f-" + fd.Name,
				Label: c.TF(f.Name, "field."+fd.Name), Value: vals[fd.Name],
				Optional: c.T("form.optional"), Choose: c.T("form.choose"),
				Messages: clientMessages(c, f, fd), Secret: fd.Secret,
			}
			if fd.Name == "consent_terms" {
				fv.LabelHTML = linkedLabel(c, f.Name, fv.Label, l.Links)
			}
			if fv.Short = shortLabel(c, f.Name, fd.Name, ""); fv.Short == fv.Label {
				fv.Short = ""
			}
			if h := c.TF(f.Name, "hint."+fd.Name); h != "hint."+fd.Name {
				fv.Hint = h
			}
			if s := c.TF(f.Name, "shown."+fd.Name); s != "shown."+fd.Name {
				fv.Shown = s
			}
			fv.Error = problems[fd.Name]
			var ids []string
			if fv.Hint != "" {
				ids = append(ids, fv.ID+"-hint")
			}
			if fv.Error != "" {
				ids = append(ids, fv.ID+"-error")
				// The summary names the field short: a consent's label is its
				// whole text.
				p.ErrorList = append(p.ErrorList, FieldError{ID: fv.ID, Label: shortLabel(c, f.Name, fd.Name, fv.Label), Message: fv.Error})
			}
			fv.Describedby = strings.Join(ids, " ")
			switch fd.Kind {
			case form.Consent, form.Check:
				fv.Checked = form.Ticked(vals[fd.Name])
			case form.Choice, form.YesNo:
				if fd.List != "" {
					fv.OptionsHTML = v.listOptionsHTML(fd.List, lang, vals[fd.Name])
				} else {
					fv.Options = v.options(fd, lang, chosen(fd, vals))
				}
			}
			sv.Fields = append(sv.Fields, fv)
		}
		p.Sections = append(p.Sections, sv)
	}
	if len(p.ErrorList) > 0 {
		p.Alert = c.T("form.alert")
	}
	v.arrange(&p, f, lang, l)
	return p
}

// chosen is the option shown selected: the consumer's, else the field's
// visible default (account type checking).
func chosen(fd *form.Field, vals form.Values) string {
	if s := vals[fd.Name]; s != "" {
		return s
	}
	return fd.Default
}

func (v *Views) options(fd *form.Field, lang, selected string) []OptionView {
	c := v.Catalog(lang)
	var out []OptionView
	if fd.Kind == form.YesNo {
		return []OptionView{{Value: "1", Label: c.T("option.yes"), Selected: selected == "1"}, {Value: "0", Label: c.T("option.no"), Selected: selected == "0"}}
	}
	for _, o := range fd.Options {
		out = append(out, OptionView{Value: o, Label: c.T("option." + fd.Name + "." + o), Selected: o == selected})
	}
	return out
}

// StatusPage is the view of the waiting, no-offer and error pages.
type StatusPage struct {
	Page     Page
	Pending  bool
	Message  string
	PollURL  string
	SelfURL  string
	Link     string
	LinkText string
	// Checking is "Checking lender 1 of 2" while pending (empty when not
	// known); CheckingText is the same with {n} and {total} left for
	// status.js to fill as the answer moves on.
	Checking, CheckingText string
	// Ways are the no-offer page's links (flows[].no_offer.links) under
	// WaysTitle (links.go).
	Ways      []LinkView
	WaysTitle string
}

// StatusView is the view of a waiting, no-offer or error page.
func (v *Views) StatusView(lang, title, message string) StatusPage {
	c := v.Catalog(lang)
	return StatusPage{Page: Page{Lang: lang, Title: title, Version: v.Version, cat: c}, Message: message}
}

// Static is the embedded static assets (CSS, scripts).
func (v *Views) Static() fs.FS { return v.static }
