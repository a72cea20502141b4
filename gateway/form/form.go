// Package form is the canonical application form: which fields each form
// asks for, the rules each value must meet, and, from the same rules, the
// HTML attributes that let a browser catch most mistakes before a request
// (SPEC §5). It decodes what a consumer posted into a providers.Application
// or into per-field problems to show beside each input.
package form

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/leadgate/leadgate/providers"
)

// Kind is how a field is typed and shown.
type Kind int

// The kinds of field.
const (
	Text    Kind = iota
	Email        // text, checked as an email address
	Int          // whole number with Min and Max
	Date         // YYYY-MM-DD with a DateRule
	Choice       // one of Options, shown as a select
	Consent      // a checkbox that must be ticked when Required
	Check        // an optional yes/no checkbox
	YesNo        // a required yes/no answer, shown as two radios
)

// DateRule says which dates a Date field accepts, relative to today.
type DateRule int

// The date rules.
const (
	AnyDate DateRule = iota
	Adult            // age 18 to 80 (Casheddy birth_date)
	Past             // before today (employed_since: Casheddy's rule)
	Future           // after today (next_pay_date)
	// Paid is today or before (last_pay_date, "the most recent pay
	// date" to Lokyata): a consumer paid today answers today.
	Paid
)

// Field is one input of a form with its rules.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	// RequiredIf names a Check field that makes this one required.
	RequiredIf string
	MinLen     int
	MaxLen     int
	Min, Max   int
	Options    []string
	Format     *Format
	Dates      DateRule
	// After names a date field this one must come after (a second pay
	// date after the next one).
	After string
	// List names a long option list shown from a shared table (countries,
	// states) instead of one message per option.
	List string
	// Autocomplete is the HTML autocomplete token that lets a phone fill it.
	Autocomplete string
	// Secret: the review before Send shows only its last four characters
	// (an SSN, a bank account): a phone's screen is read over shoulders,
	// and the consumer typed the whole number a step before.
	Secret bool
	// Derived: the form fills it from other answers when left empty (see
	// derive.go), so the page does not require it; the server still does.
	Derived bool
	// Default is the option shown chosen until the consumer picks another:
	// only where true for most consumers and visible (account type
	// checking), never on a consent or anything a lender decides on.
	Default string

	// tags are the field's validator tags, written once by newForm (a
	// Field made elsewhere builds them per check): built with Sprintf and
	// Join on every check they were a quarter of the cost of validating a
	// form.
	tags *fieldTags
	// monthFirst: a date typed as text is read month first (the us form:
	// "07/04/1985" is July 4), else day first.
	monthFirst bool
}

type fieldTags struct{ minLen, maxLen, oneOf, intRange string }

func (fd *Field) validatorTags() *fieldTags {
	if fd.tags != nil {
		return fd.tags
	}
	return &fieldTags{
		minLen:   fmt.Sprintf("min=%d", fd.MinLen),
		maxLen:   fmt.Sprintf("max=%d", fd.MaxLen),
		oneOf:    "oneof=" + strings.Join(fd.Options, " "),
		intRange: fmt.Sprintf("min=%d,max=%d", fd.Min, fd.Max),
	}
}

// Section groups fields under a heading.
type Section struct {
	Key    string
	Fields []*Field
}

// Form is one form (es, us).
type Form struct {
	Name string
	// Country is the ISO code of the country the form is for; TimeZone is
	// where its dates are checked ("after today" is the consumer's today).
	Country, TimeZone string
	Sections          []Section
	byName            map[string]*Field
	derivations       []derivation
}

// Values are what a consumer typed, by canonical name: kept as text so a
// form with mistakes comes back exactly as it was entered.
type Values map[string]string

// Problem is one field's mistake: a message key and its parameters, turned
// into words in the page's language by the view.
type Problem struct {
	Key    string
	Params map[string]any
}

// Problems are a form's mistakes by field name.
type Problems map[string]Problem

// maxValue bounds any one value: nothing a form asks for is longer.
const maxValue = 200

func newForm(name, country, zone string, sections ...Section) *Form {
	f := &Form{Name: name, Country: country, TimeZone: zone, Sections: sections, byName: map[string]*Field{}}
	for _, s := range sections {
		for _, fd := range s.Fields {
			if _, ok := appFields[fd.Name]; !ok {
				panic("form " + name + ": field " + fd.Name + " is not in providers.Application")
			}
			if fd.MaxLen == 0 && (fd.Kind == Text || fd.Kind == Email) {
				fd.MaxLen = 100
			}
			if fd.tags == nil {
				// A variant's form shares its fields with the base form,
				// built at init: none is written again while checked.
				fd.tags = fd.validatorTags()
			}
			fd.monthFirst = country == "US"
			f.byName[fd.Name] = fd
		}
	}
	return f
}

// Field returns the named field, or nil.
func (f *Form) Field(name string) *Field { return f.byName[name] }

// Fields lists the form's fields in order.
func (f *Form) Fields() []*Field {
	var out []*Field
	for _, s := range f.Sections {
		out = append(out, s.Fields...)
	}
	return out
}

// Decode takes the form's own fields out of a posted form, trimmed and cut
// to a sane length; anything else posted is ignored.
func (f *Form) Decode(posted url.Values) Values {
	v := Values{}
	for name := range f.byName {
		s := strings.TrimSpace(posted.Get(name))
		if len(s) > maxValue*4 || utf8.RuneCountInString(s) > maxValue {
			s = string([]rune(s)[:maxValue])
		}
		if s != "" {
			v[name] = s
		}
	}
	return v
}

// Restrict keeps only the values of this form's fields that pass its rules:
// what a prefill may put in the form must not be something it would refuse.
func (f *Form) Restrict(prefill map[string]string, now time.Time, loc *time.Location) Values {
	out := Values{}
	for name, val := range prefill {
		fd := f.byName[name]
		if fd == nil {
			continue
		}
		norm := fd.normalize(val)
		if p := fd.check(norm, Values{name: norm}, now, loc); p == nil {
			out[name] = val
		}
	}
	return out
}

// Validate checks every field and, when all pass, returns the application.
// What the consumer left empty and the form can derive is derived first.
func (f *Form) Validate(v Values, now time.Time, loc *time.Location) (providers.Application, Problems) {
	v = f.Derive(v, now, loc)
	problems := Problems{}
	norm := Values{}
	for name, fd := range f.byName {
		norm[name] = fd.normalize(v[name])
	}
	for name, fd := range f.byName {
		if p := fd.check(norm[name], norm, now, loc); p != nil {
			problems[name] = *p
		}
	}
	f.sourceProblems(norm, problems)
	if len(problems) > 0 {
		return providers.Application{}, problems
	}
	var app providers.Application
	for name, fd := range f.byName {
		if err := setField(&app, fd, norm[name]); err != nil {
			problems[name] = Problem{Key: "invalid"}
		}
	}
	if len(problems) > 0 {
		return providers.Application{}, problems
	}
	// Derived fields the form does not show (the employer's phone, the
	// work phone's extension) take what they were derived from the field
	// they come from, already checked, derived again: never a value given
	// under their own name.
	for _, d := range f.derivations {
		if f.byName[d.field] == nil && len(d.from) == 1 {
			if s := d.value(f, v, now, loc); s != "" {
				setField(&app, &Field{Name: d.field}, s)
			}
		}
	}
	return app, nil
}

// sourceProblems adds the problems of answers that name what a derived
// field cannot hold (derivation.outside), and drops the "required" of a
// derived field left empty because a field it is derived from has a
// problem: that problem says what to do, and once it is fixed the field
// is derived. Two problems for one mistake (a ZIP code, and the state it
// would have given) sent the consumer to a state list first.
func (f *Form) sourceProblems(norm Values, problems Problems) {
	for _, d := range f.derivations {
		src := d.from[0]
		if _, bad := problems[src]; !bad && d.outside != nil && f.byName[src] != nil {
			if d.outside(norm[src]) {
				problems[src] = Problem{Key: d.outsideKey}
			}
		}
	}
	if len(problems) == 0 {
		return
	}
	// In the derivations' order, from the problems as they were found: the
	// licence state derived from the state derived from the ZIP code is
	// dropped too.
	found := maps.Clone(problems)
	for _, d := range f.derivations {
		if p, ok := problems[d.field]; ok && p.Key == "required" && slices.ContainsFunc(d.from, func(src string) bool { _, bad := found[src]; return bad }) {
			delete(problems, d.field)
		}
	}
}

func (fd *Field) normalize(s string) string {
	s = strings.TrimFunc(typedText(s), isSpace) // as the page's patterns, which take spaces around
	if fd.Format != nil && fd.Format.Normalize != nil && s != "" {
		s = fd.Format.Normalize(s)
	}
	if fd.Kind == Email {
		s = strings.ToLower(s)
	}
	if fd.Kind == Date && s != "" {
		s = isoDate(s, fd.monthFirst)
	}
	return s
}

// isoDate writes a date typed as text (where a browser has no date
// picker) as a date input sends it, read in the country's order; what
// does not read as a date stays as typed, for the date problem.
func isoDate(s string, monthFirst bool) string {
	layouts := []string{providers.DateLayout, "02/01/2006", "2/1/2006"}
	if monthFirst {
		layouts = []string{providers.DateLayout, "01/02/2006", "1/2/2006"}
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(providers.DateLayout)
		}
	}
	return s
}

// validate is the validator/v10 instance with leadgate's formats registered
// as tags; it is safe for concurrent use and built once.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	for name, f := range formats {
		v.RegisterValidation(name, func(fl validator.FieldLevel) bool {
			s := fl.Field().String()
			return f.Go.MatchString(s)
		})
		if f.Check != nil {
			v.RegisterValidation(name+"_check", func(fl validator.FieldLevel) bool { return f.Check(fl.Field().String()) })
		}
	}
	return v
}()

// check returns the field's problem with the normalised value s, or nil.
// all holds the other normalised values, for rules that depend on them.
func (fd *Field) check(s string, all Values, now time.Time, loc *time.Location) *Problem {
	required := fd.Required || (fd.RequiredIf != "" && truthy(all[fd.RequiredIf]))
	if s == "" {
		switch {
		case fd.Kind == Consent && fd.Required:
			return &Problem{Key: "must_accept"}
		case required:
			return &Problem{Key: "required"}
		}
		return nil
	}
	tags := fd.validatorTags()
	switch fd.Kind {
	case Text, Email:
		if fd.MinLen > 0 && failed(s, tags.minLen) {
			return &Problem{Key: "too_short", Params: map[string]any{"min": fd.MinLen}}
		}
		if fd.MaxLen > 0 && failed(s, tags.maxLen) {
			return &Problem{Key: "too_long", Params: map[string]any{"max": fd.MaxLen}}
		}
		if fd.Kind == Email && (failed(s, "email") || !browserEmail.MatchString(s)) {
			return &Problem{Key: "email"}
		}
		if fd.Format != nil {
			if failed(s, fd.Format.Name) {
				return &Problem{Key: "format." + fd.Format.Name}
			}
			if fd.Format.Check != nil && failed(s, fd.Format.Name+"_check") {
				return &Problem{Key: "check." + fd.Format.Name}
			}
		}
	case Int:
		n, err := parseInt(s)
		if err != nil {
			return &Problem{Key: "number"}
		}
		if validate.Var(n, tags.intRange) != nil {
			return &Problem{Key: "range", Params: map[string]any{"min": fd.Min, "max": fd.Max}}
		}
	case Choice:
		if failed(s, tags.oneOf) {
			return &Problem{Key: "choose"}
		}
	case Consent, Check, YesNo:
		if _, ok := parseBool(s); !ok {
			return &Problem{Key: "choose"}
		}
		if fd.Kind == Consent && fd.Required && !truthy(s) {
			return &Problem{Key: "must_accept"}
		}
	case Date:
		d, ok := ParseDate(s)
		if !ok {
			return &Problem{Key: "date"}
		}
		lo, hi := fd.DateBounds(now, loc)
		if (!lo.IsZero() && d.Before(lo)) || (!hi.IsZero() && d.After(hi)) {
			return &Problem{Key: "date." + fd.dateKey()}
		}
		if fd.After != "" {
			if prev, ok := ParseDate(all[fd.After]); ok && !d.After(prev) {
				return &Problem{Key: "date.after." + fd.After}
			}
		}
	}
	return nil
}

// grouped is a whole number written with thousands separators as people
// type them: "1.500" in Spain, "3,500" in the US, "12 000" anywhere. Only
// groups of three are read, so "1.5" is a mistake, not fifteen.
var grouped = regexp.MustCompile(`^\d{1,3}([., ]\d{3})+$`)

var separatorsOfThousands = strings.NewReplacer(".", "", ",", "", " ", "")

// parseInt reads a whole number as the form accepts it: the one reading
// both the check and the stored value use.
func parseInt(s string) (int, error) {
	if grouped.MatchString(s) {
		s = separatorsOfThousands.Replace(s)
	}
	return strconv.Atoi(s)
}

func failed(s, tag string) bool { return validate.Var(s, tag) != nil }

// browserEmail is what a browser's type=email input takes (the WHATWG
// "valid email address"). validator's email also takes RFC 5322's quoted
// local parts ("<img src=x>"@example.com), which the page refuses and
// which would reach the buyers and the CRM as typed.
var browserEmail = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")

func (fd *Field) dateKey() string {
	return map[DateRule]string{AnyDate: "any", Adult: "adult", Past: "past", Future: "future", Paid: "paid"}[fd.Dates]
}

// DateBounds are the first and last dates the field accepts today (zero:
// no bound). The same bounds become the input's min and max.
func (fd *Field) DateBounds(now time.Time, loc *time.Location) (lo, hi time.Time) {
	today := providers.Today(now, loc)
	switch fd.Dates {
	case Adult:
		// 18 today at the latest; not yet 81 (aged 80 until the day before).
		return today.AddDate(-81, 0, 1), today.AddDate(-18, 0, 0)
	case Past:
		return today.AddDate(-80, 0, 0), today.AddDate(0, 0, -1)
	case Future:
		// After today where the consumer is: in the country's west it is
		// still yesterday for hours after the form's midnight (10:30 pm in
		// Los Angeles is tomorrow in New York), and their tomorrow is a
		// date the form must take.
		return westToday(now, loc).AddDate(0, 0, 1), today.AddDate(1, 0, 0)
	case Paid:
		return today.AddDate(-80, 0, 0), today
	}
	return time.Time{}, time.Time{}
}

// westernmost is the zone furthest west of the country whose forms check
// dates in a zone (the forms' TimeZone): the US's Hawaii, Spain's Canary
// Islands. Loaded at first use, not in an init: in a scratch image the
// zones are main's embedded time/tzdata, which may register after this
// package's init has run.
var westernmost = sync.OnceValue(func() map[string]*time.Location {
	m := map[string]*time.Location{}
	for zone, west := range map[string]string{"America/New_York": "Pacific/Honolulu", "Europe/Madrid": "Atlantic/Canary"} {
		if l, err := time.LoadLocation(west); err == nil {
			m[zone] = l
		}
	}
	return m
})

// westToday is today in the west of loc's country (loc's own today when
// its west is not known).
func westToday(now time.Time, loc *time.Location) time.Time {
	if west := westernmost()[loc.String()]; west != nil {
		return providers.Today(now, west)
	}
	return providers.Today(now, loc)
}

// ParseDate reads a normalised date: YYYY-MM-DD, what date inputs send
// and what a date typed as text is written as (isoDate).
func ParseDate(s string) (time.Time, bool) {
	t, err := time.Parse(providers.DateLayout, s)
	return t, err == nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "on", "true", "yes", "si", "sí":
		return true, true
	case "0", "off", "false", "no":
		return false, true
	}
	return false, false
}

func truthy(s string) bool { b, _ := parseBool(s); return b }

// Ticked says whether a box posted with value s is shown ticked: read as
// the form reads it ("no", "off", "false" are not), so a box never looks
// given when what was stored says it was not.
func Ticked(s string) bool { return truthy(s) }

// appFields indexes providers.Application's fields by canonical name.
var appFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(providers.Application{})
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("field"); name != "" {
			m[name] = i
		}
	}
	return m
}()

// setField stores a checked, normalised value in the application.
func setField(app *providers.Application, fd *Field, s string) error {
	if s == "" {
		return nil
	}
	f := reflect.ValueOf(app).Elem().Field(appFields[fd.Name])
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case int:
		n, err := parseInt(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	case *int:
		n, err := parseInt(s)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(&n))
	case bool:
		f.SetBool(truthy(s))
	case time.Time:
		d, ok := ParseDate(s)
		if !ok {
			return fmt.Errorf("bad date")
		}
		f.Set(reflect.ValueOf(d))
	default:
		return fmt.Errorf("field %s has an unsupported type", fd.Name)
	}
	return nil
}

// ValuesOf turns an application back into form values (to refill a form).
func ValuesOf(app *providers.Application) Values {
	v := Values{}
	rv := reflect.ValueOf(app).Elem()
	for name, i := range appFields {
		switch x := rv.Field(i).Interface().(type) {
		case string:
			if x != "" {
				v[name] = x
			}
		case int:
			if x != 0 {
				v[name] = strconv.Itoa(x)
			}
		case *int:
			if x != nil {
				v[name] = strconv.Itoa(*x)
			}
		case bool:
			if x {
				v[name] = "1"
			}
		case time.Time:
			if !x.IsZero() {
				v[name] = x.Format(providers.DateLayout)
			}
		}
	}
	return v
}

// Step is one screen of the form in steps: a key (its name in the
// funnel, the URL's history state and the catalog's "step.<key>" title)
// and the sections it shows, in order. Without JavaScript every step shows
// at once, as one page.
type Step struct {
	Key      string   `yaml:"key"`
	Sections []string `yaml:"sections"`
}

// DefaultSteps is the order a flow walks its form in unless flows[].steps
// says otherwise: you and your loan, contact and address, income, bank,
// then review and consent.
var DefaultSteps = []Step{
	{Key: "you", Sections: []string{"loan", "personal"}},
	{Key: "contact", Sections: []string{"contact", "address"}},
	{Key: "income", Sections: []string{"income"}},
	{Key: "bank", Sections: []string{"bank"}},
	{Key: "review", Sections: []string{"consent"}},
}

// CheckSteps says what is wrong with steps as a layout of f: every section
// of the form on exactly one step, no section the form does not have, no
// step without a key or sections, no key twice. Nil when they are fine.
func (f *Form) CheckSteps(steps []Step) error {
	if len(steps) == 0 {
		return fmt.Errorf("no steps")
	}
	has := map[string]bool{}
	for _, s := range f.Sections {
		has[s.Key] = true
	}
	keys, placed := map[string]bool{}, map[string]string{}
	var problems []string
	for i, s := range steps {
		switch {
		case s.Key == "":
			problems = append(problems, fmt.Sprintf("steps[%d]: a step needs a key", i))
		case !stepKey.MatchString(s.Key):
			problems = append(problems, fmt.Sprintf("steps[%d]: key %q: use lower-case letters, digits and _ only", i, s.Key))
		case keys[s.Key]:
			problems = append(problems, fmt.Sprintf("steps[%d]: key %q is used twice", i, s.Key))
		}
		keys[s.Key] = true
		if len(s.Sections) == 0 {
			problems = append(problems, fmt.Sprintf("steps[%d] (%s): no sections", i, s.Key))
		}
		for _, sec := range s.Sections {
			switch {
			case !has[sec]:
				problems = append(problems, fmt.Sprintf("steps[%d] (%s): form %s has no section %q (it has %s)", i, s.Key, f.Name, sec, strings.Join(f.sectionKeys(), ", ")))
			case placed[sec] != "":
				problems = append(problems, fmt.Sprintf("steps[%d] (%s): section %q is already on step %q", i, s.Key, sec, placed[sec]))
			default:
				placed[sec] = s.Key
			}
		}
	}
	for _, s := range f.Sections {
		if placed[s.Key] == "" && has[s.Key] {
			problems = append(problems, fmt.Sprintf("section %q of form %s is on no step", s.Key, f.Name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// stepKey is what a step key may be: it names the step in the funnel, in
// the catalog ("step.<key>") and in history state.
var stepKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func (f *Form) sectionKeys() []string {
	out := make([]string, 0, len(f.Sections))
	for _, s := range f.Sections {
		out = append(out, s.Key)
	}
	return out
}

// Section returns the form's section of that key, or nil.
func (f *Form) Section(key string) *Section {
	for i := range f.Sections {
		if f.Sections[i].Key == key {
			return &f.Sections[i]
		}
	}
	return nil
}
