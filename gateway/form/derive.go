package form

import (
	"regexp"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// A derivation fills a field the consumer left empty from other answers:
// asked once, sent wherever a buyer wants it (README, "Fewer questions").
// A derived field is shown, prefilled and changeable, but not required in
// the page: with JavaScript derive.js fills it as the consumer types its
// sources (templates/static/derive.js, the same rules), and without it
// the server derives it at submit. Only what the consumer left empty is
// derived; what they typed is theirs.
type derivation struct {
	field string   // the field it fills
	from  []string // the fields it reads
	// value is the derived text, or "" when the sources do not say (the
	// field then stays empty, and required where the form requires it).
	value func(f *Form, v Values, now time.Time, loc *time.Location) string
	// filled, when set, also runs when the consumer filled the field in:
	// it may tidy the sources (v) and returns nothing.
	filled func(v Values)
	// outside, when set, says the first source's normalised value names
	// what the field's choices do not hold (a ZIP code of Puerto Rico for
	// a list of states): that source gets the problem outsideKey, and the
	// consumer hears why, not "required" at a list without their answer.
	outside    func(source string) bool
	outsideKey string
}

// usDerivations, in order: the licence state reads the home state the
// ZIP code may just have given.
var usDerivations = []derivation{
	{field: "state", from: []string{"postal_code"}, value: func(f *Form, v Values, _ time.Time, _ *time.Location) string {
		s, _ := providers.StateOfZIP(f.norm(v, "postal_code"))
		return s
	}, outside: providers.ZIPOutsideStates, outsideKey: "outside_states"},
	{field: "drivers_license_state", from: []string{"state"}, value: func(f *Form, v Values, _ time.Time, _ *time.Location) string {
		return f.norm(v, "state")
	}},
	{field: "home_phone", from: []string{"mobile_phone"}, value: func(f *Form, v Values, _ time.Time, _ *time.Location) string {
		return f.norm(v, "mobile_phone")
	}},
	// Not a field of the form: one "work phone" is both the work and the
	// employer's phone (Lokyata asks for both).
	{field: "employer_phone", from: []string{"work_phone"}, value: func(f *Form, v Values, _ time.Time, _ *time.Location) string {
		return f.norm(v, "work_phone")
	}},
	// Not a field either: the extension a work phone was typed with.
	{field: "work_phone_ext", from: []string{"work_phone"}, value: func(_ *Form, v Values, _ time.Time, _ *time.Location) string {
		if p := typedText(v["work_phone"]); strings.ContainsAny(p, ",;#xXtT") {
			if m := extension.FindStringSubmatch(p); m != nil {
				return m[2]
			}
		}
		return ""
	}},
	{field: "last_pay_date", from: []string{"next_pay_date", "pay_frequency"}, value: lastPayDate},
}

// lastPayDate is the pay date before the next one, when the form would
// take it (before today): a next pay date far off for its frequency says
// nothing about the last one.
func lastPayDate(f *Form, v Values, now time.Time, loc *time.Location) string {
	next, ok := ParseDate(f.norm(v, "next_pay_date"))
	if !ok {
		return ""
	}
	last, ok := providers.LastPayDate(next, f.norm(v, "pay_frequency"))
	if !ok {
		return ""
	}
	if lo, hi := f.Field("last_pay_date").DateBounds(now, loc); last.Before(lo) || last.After(hi) {
		return ""
	}
	return last.Format(providers.DateLayout)
}

// esDerivations: a street line typed with its number ("Calle Mayor 5")
// gives the house number, and keeps the street alone, as Casheddy wants
// them apart.
var esDerivations = []derivation{
	{field: "house_number", from: []string{"address_line1"}, value: func(_ *Form, v Values, _ time.Time, _ *time.Location) string {
		m := streetAndNumber.FindStringSubmatch(esPlace(v["address_line1"]))
		if m == nil {
			return ""
		}
		v["address_line1"] = m[1]
		return m[2]
	},
		// The number typed in the street and again in its own field (the
		// page's script did not split a street it could not read, "C/
		// Mayor 5"): once is enough. A different number stays, and the
		// street is refused for it.
		filled: func(v Values) {
			if m := streetAndNumber.FindStringSubmatch(esPlace(v["address_line1"])); m != nil && strings.EqualFold(m[2], strings.TrimSpace(v["house_number"])) {
				v["address_line1"] = m[1]
			}
		}},
}

// streetAndNumber is a Spanish street line ending in its number, with an
// optional comma and "nº": "Calle Mayor, nº 5B" is Calle Mayor and 5B.
var streetAndNumber = regexp.MustCompile(`(?i)^\s*([a-záéèíñóúüç\s'-]*[a-záéèíñóúüç'])\s*,?\s*(?:n[º°o]\.?\s*)?(\d+[a-záéèíñóúüç]?)\s*$`)

// withDerivations sets a form's derivations and marks the fields they
// fill: derived, so not required in the page.
func (f *Form) withDerivations(ds ...derivation) *Form {
	f.derivations = ds
	for _, d := range ds {
		if fd := f.byName[d.field]; fd != nil {
			if !fd.Derived {
				// Only the first time: a variant's form shares its base
				// form's fields, which pages may be reading meanwhile.
				fd.Derived = true
			}
		} else if _, ok := appFields[d.field]; !ok {
			panic("form " + f.Name + ": derived field " + d.field + " is not in providers.Application")
		}
	}
	return f
}

// Derive returns v with every derivable field the consumer left empty
// filled from their other answers (the server's side of derive.js).
func (f *Form) Derive(v Values, now time.Time, loc *time.Location) Values {
	out := make(Values, len(v)+len(f.derivations))
	for k, s := range v {
		out[k] = s
	}
	for _, d := range f.derivations {
		if out[d.field] != "" {
			if d.filled != nil {
				d.filled(out)
			}
			continue
		}
		if s := d.value(f, out, now, loc); s != "" {
			out[d.field] = s
		}
	}
	return out
}

// OutsideKeys are the problem keys of the derivations' outside rules
// whose source the form asks for: the page's catalog must word them.
func (f *Form) OutsideKeys() []string {
	var keys []string
	for _, d := range f.derivations {
		if d.outside != nil && f.byName[d.from[0]] != nil {
			keys = append(keys, d.outsideKey)
		}
	}
	return keys
}

// Derivations lists, for each derived field, the fields it is derived
// from (the README's table and derive.js's rules are checked against it).
func (f *Form) Derivations() map[string][]string {
	m := map[string][]string{}
	for _, d := range f.derivations {
		m[d.field] = d.from
	}
	return m
}

// norm is the named field's value as the form reads it.
func (f *Form) norm(v Values, name string) string {
	if fd := f.byName[name]; fd != nil {
		return fd.normalize(v[name])
	}
	return v[name]
}
