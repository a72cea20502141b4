package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
)

// Views holds the parsed pages and message catalogs. Parsed once at start:
// a broken template or a missing message stops the gateway before it serves.
type Views struct {
	pages    map[string]*template.Template
	catalogs map[string]Catalog
	// countries are the nationality options, rendered once per language:
	// 235 options escaped per request were most of a page's cost.
	countries map[string]string
	// Version identifies the templates and texts served: it is stored with
	// each consent as the page version, and busts the static asset cache.
	Version string
	static  fs.FS
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

// NewViews parses the pages and catalogs in fsys (the embedded templates).
func NewViews(fsys fs.FS) (*Views, error) {
	v := &Views{pages: map[string]*template.Template{}, catalogs: map[string]Catalog{}}
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
	if err := v.checkCatalogs(); err != nil {
		return nil, err
	}
	if err := v.renderCountries(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	v.static = static
	return v, nil
}

// checkCatalogs makes sure every form field has a label and every option
// a text in every language a form can be shown in.
func (v *Views) checkCatalogs() error {
	var missing []string
	for lang, c := range v.catalogs {
		for _, f := range form.Forms {
			for _, s := range f.Sections {
				if _, ok := c["section."+s.Key]; !ok {
					missing = append(missing, lang+": section."+s.Key)
				}
			}
			for _, fd := range f.Fields() {
				if _, ok := c["field."+fd.Name]; !ok {
					missing = append(missing, lang+": field."+fd.Name)
				}
				if fd.Kind != form.Choice || fd.Name == "nationality" {
					continue
				}
				for _, o := range fd.Options {
					if _, ok := c["option."+fd.Name+"."+o]; !ok {
						missing = append(missing, lang+": option."+fd.Name+"."+o)
					}
				}
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("views: missing messages: %s", strings.Join(missing, ", "))
	}
	return nil
}

var countryOptions = template.Must(template.New("countries").Parse(
	`{{range .}}<option value="{{.Value}}">{{.Label}}</option>{{end}}`))

func (v *Views) renderCountries() error {
	v.countries = map[string]string{}
	for lang := range v.catalogs {
		var opts []OptionView
		for _, c := range providers.Countries {
			// English pages name countries in English; Spanish ones use
			// Casheddy's spellings (España, Deutschland): what it will get.
			label := c.Casheddy
			if lang == "en" {
				label = c.English
			}
			opts = append(opts, OptionView{Value: c.Code, Label: label})
		}
		var buf bytes.Buffer
		if err := countryOptions.Execute(&buf, opts); err != nil {
			return fmt.Errorf("views: country options: %w", err)
		}
		v.countries[lang] = buf.String()
	}
	return nil
}

// countryOptionsHTML is the pre-rendered list with code selected. A code is
// only ever matched against the list's own values, never inserted.
func (v *Views) countryOptionsHTML(lang, code string) template.HTML {
	list := v.countries[lang]
	if list == "" {
		list = v.countries["en"]
	}
	if code != "" {
		needle := `<option value="` + template.HTMLEscapeString(code) + `">`
		list = strings.Replace(list, needle, needle[:len(needle)-1]+` selected>`, 1)
	}
	return template.HTML(list)
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
	cat     Catalog
}

// T translates key in the page's language (used by the templates).
func (p Page) T(key string) string { return p.cat.T(key) }

// render executes page into a buffer first, so that a failing template
// never sends half a page: the consumer gets a whole page or an error.
func (v *Views) render(w http.ResponseWriter, status int, page string, data any) error {
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
	Sections     []SectionView
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
	Options                                          []OptionView
	// OptionsHTML, when set, replaces Options: a long list rendered once.
	OptionsHTML template.HTML
}

// OptionView is one option of a select or radio group.
type OptionView struct {
	Value, Label string
	Selected     bool
}

// formView builds the form's view from values and problems.
func (v *Views) formView(f *form.Form, lang string, vals form.Values, problems map[string]string, now time.Time, loc *time.Location) FormPage {
	c := v.Catalog(lang)
	p := FormPage{Page: Page{Lang: lang, Title: c.T("form.title"), Version: v.Version, cat: c}}
	for _, s := range f.Sections {
		sv := SectionView{Title: c.T("section." + s.Key)}
		for _, fd := range s.Fields {
			in := fd.Input(now, loc)
			fv := FieldView{
				Type: in.Type, Pattern: in.Pattern, Min: in.Min, Max: in.Max, InputMode: in.InputMode,
				Autocomplete: in.Autocomplete, Required: in.Required, MinLength: in.MinLength, MaxLength: in.MaxLength,
				Name: fd.Name, ID: "f-" + fd.Name,
				Label: c.T("field." + fd.Name), Value: vals[fd.Name],
				Optional: c.T("form.optional"), Choose: c.T("form.choose"),
			}
			if h, ok := c["hint."+fd.Name]; ok {
				fv.Hint = h
			}
			fv.Error = problems[fd.Name]
			var ids []string
			if fv.Hint != "" {
				ids = append(ids, fv.ID+"-hint")
			}
			if fv.Error != "" {
				ids = append(ids, fv.ID+"-error")
				p.ErrorList = append(p.ErrorList, FieldError{ID: fv.ID, Label: fv.Label, Message: fv.Error})
			}
			fv.Describedby = strings.Join(ids, " ")
			switch fd.Kind {
			case form.Consent, form.Check:
				fv.Checked = vals[fd.Name] != "" && vals[fd.Name] != "0"
			case form.Choice, form.YesNo:
				if fd.Name == "nationality" {
					fv.OptionsHTML = v.countryOptionsHTML(lang, vals[fd.Name])
				} else {
					fv.Options = v.options(fd, lang, vals[fd.Name])
				}
			}
			sv.Fields = append(sv.Fields, fv)
		}
		p.Sections = append(p.Sections, sv)
	}
	if len(p.ErrorList) > 0 {
		p.Alert = c.T("form.alert")
	}
	return p
}

func (v *Views) options(fd *form.Field, lang, selected string) []OptionView {
	c := v.Catalog(lang)
	var out []OptionView
	if fd.Kind == form.YesNo {
		return []OptionView{{"1", c.T("option.yes"), selected == "1"}, {"0", c.T("option.no"), selected == "0"}}
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
}

func (v *Views) statusView(lang, title, message string) StatusPage {
	c := v.Catalog(lang)
	return StatusPage{Page: Page{Lang: lang, Title: title, Version: v.Version, cat: c}, Message: message}
}
