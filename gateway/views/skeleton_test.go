package views

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/templates"
)

// The skeleton render is byte for byte the template render, for every
// form, language and a range of values, escaping included.
func TestSkeletonMatchesTemplate(t *testing.T) {
	views, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	// Two days: the date fields' limits move with the day, so a skeleton
	// is a day's. Every layout, value set and prefill state on each, in
	// turn, so a skeleton kept under too coarse a key is caught.
	days := []time.Time{time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	values := []form.Values{
		{},
		{"first_name": "John", "last_name": `O'Brien "Jr" <b>&+`, "email": "j+x@example.com", "loan_amount": "500",
			"birth_date": "1985-07-04", "gender": "male", "state": "TX", "drivers_license_state": "PA", "nationality": "ES",
			"is_citizen": "1", "is_military": "0", "consent_terms": "1", "consent_marketing": "0", "car_owner": "1",
			"housing": "rent", "city": "Sevilla\x00", "pay_frequency": "biweekly"},
		// Boxes posted as words: shown as the form reads them.
		{"gender": "nonsense", "state": `"><script>`, "first_name": "ÄÖÜ 漢字 🙂", "consent_terms": "no", "consent_marketing": "ON", "car_owner": "false"},
	}
	// The pairs a flow can be configured with: each must render both ways.
	// (The us form has no Spanish texts yet: CheckForm refuses that pair
	// at start, which TestFormLanguagePairs holds.)
	// Two steps instead of the default five, the same sections.
	var twoSteps []form.Step
	for i, st := range form.DefaultSteps {
		if i == 0 || i == len(form.DefaultSteps)-1 {
			twoSteps = append(twoSteps, form.Step{Key: st.Key, Sections: slices.Clone(st.Sections)})
		} else {
			twoSteps[0].Sections = append(twoSteps[0].Sections, st.Sections...)
		}
	}
	pairs := []struct{ form, lang string }{{"es", "es"}, {"es", "en"}, {"us", "en"}}
	for _, pair := range pairs {
		name, lang, f := pair.form, pair.lang, form.Forms[pair.form]
		if err := views.CheckForm(f, lang); err != nil {
			t.Fatalf("%s/%s: %v", name, lang, err)
		}
		// Each layout differs from another in one thing only, too.
		layouts := []Layout{{}, {OnePage: true, Links: ConsentLinks{Terms: "/t?a=1&b=2", Privacy: "https://lender.example/p"}}, {Steps: form.DefaultSteps, Headline: "form.title"},
			{Steps: twoSteps}, {Steps: twoSteps, OnePage: true}}
		for n := range 2 * len(days) * len(layouts) * len(values) {
			now, l, prefilled := days[n%len(days)], layouts[n/len(days)%len(layouts)], n/len(days)/len(layouts)%2 == 1
			i := n / len(days) / len(layouts) / 2 % len(values)
			vals := values[i]
			var page bytes.Buffer
			ok := views.FastForm(&page, f, l, lang, vals, prefilled, now, ny, "CSRFTOKEN", "SUBMISSIONID")
			fast := page.Bytes()
			if !ok {
				t.Fatalf("%s/%s: no skeleton", name, lang)
			}
			p := views.FormView(f, l, lang, vals, nil, now, ny)
			p.Prefilled = prefilled
			p.CSRF, p.SubmissionID = "CSRFTOKEN", "SUBMISSIONID"
			var slow bytes.Buffer
			if err := views.pages["form"].ExecuteTemplate(&slow, "layout", p); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fast, slow.Bytes()) {
				i := 0
				for i < len(fast) && i < slow.Len() && fast[i] == slow.Bytes()[i] {
					i++
				}
				lo := max(i-80, 0)
				t.Errorf("%s/%s values %d: renders differ at byte %d\nfast: %q\nslow: %q", name, lang, i, i,
					fast[lo:min(i+80, len(fast))], slow.Bytes()[lo:min(i+80, slow.Len())])
			}
		}
	}
}

// The form and language pairs a flow may use are exactly the ones whose
// texts are complete; any other stops start-up with the missing keys.
func TestFormLanguagePairs(t *testing.T) {
	views, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"es/es": true, "es/en": true, "us/en": true, "us/es": false}
	for pair, ok := range want {
		f, lang, _ := strings.Cut(pair, "/")
		err := views.CheckForm(form.Forms[f], lang)
		if ok != (err == nil) {
			t.Errorf("%s: CheckForm = %v, want usable %v", pair, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "missing messages: field.") {
			t.Errorf("%s: the error does not name the missing keys: %v", pair, err)
		}
	}
	if len(form.Forms) != 2 {
		t.Errorf("got %d forms: add the new one's pairs here", len(form.Forms))
	}
	// The words of a derivation's rule too: a us form in Spanish would
	// otherwise show its key for a Puerto Rico ZIP code.
	if err := views.CheckForm(form.US, "es"); err == nil || !strings.Contains(err.Error(), "problem.outside_states") {
		t.Errorf("us/es: %v, want problem.outside_states named", err)
	}
}

// A step needs its title in the flow's language: a step of a new name
// stops start-up until the catalogs name it.
func TestCheckStepsNamesMissingTitles(t *testing.T) {
	views, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"es", "en"} {
		if err := views.CheckSteps(form.ES, lang, form.DefaultSteps); err != nil {
			t.Errorf("es/%s: %v", lang, err)
		}
	}
	if err := views.CheckSteps(form.US, "en", form.DefaultSteps); err != nil {
		t.Errorf("us/en: %v", err)
	}
	err = views.CheckSteps(form.US, "en", []form.Step{{Key: "pets", Sections: []string{"loan"}}})
	if err == nil || !strings.Contains(err.Error(), "missing messages: step.pets") {
		t.Errorf("a step without a title: %v", err)
	}
}
