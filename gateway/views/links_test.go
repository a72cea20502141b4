package views

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/templates"
)

// termsLabel renders form f in lang with links l and returns the terms
// consent's <label> element as written.
func termsLabel(t *testing.T, v *Views, f, lang string, l ConsentLinks) string {
	t.Helper()
	p := v.FormView(form.Forms[f], Layout{Links: l}, lang, nil, nil, time.Now(), time.UTC)
	var b bytes.Buffer
	if err := v.pages["form"].ExecuteTemplate(&b, "layout", p); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<label for="f-consent_terms">.*?</label>`).FindString(b.String())
	if m == "" {
		t.Fatalf("%s/%s: no terms consent label", f, lang)
	}
	return m
}

var tags = regexp.MustCompile(`<[^>]*>`)

// plain is what a label says once its tags are gone, unescaped.
func plain(html string) string {
	return strings.NewReplacer("&#39;", "'", "&amp;", "&", "&#34;", `"`).Replace(tags.ReplaceAllString(html, ""))
}

// The words naming the terms and the privacy policy link to the flow's
// pages, in a new tab, in every language a flow can have; the label's text
// is still the consent's exact text, the one stored as evidence.
func TestTermsConsentLinks(t *testing.T) {
	v, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	links := ConsentLinks{Terms: "https://lender.example/terms?v=2&x=<y>", Privacy: "/sandbox/privacy/es"}
	for _, tt := range []struct{ form, lang, terms, privacy, tab string }{
		{"us", "en", "Terms of Use", "Privacy Policy", "(opens in a new tab)"},
		{"es", "es", "Términos y condiciones", "Política de procesamiento de datos", "(se abre en una pestaña nueva)"},
		{"es", "en", "Terms and Conditions", "Data Processing Policy", "(opens in a new tab)"},
	} {
		label := termsLabel(t, v, tt.form, tt.lang, links)
		for _, want := range []string{
			`<a href="https://lender.example/terms?v=2&amp;x=%3cy%3e" target="_blank" rel="noopener" aria-label="` + tt.terms + " " + tt.tab + `">` + tt.terms + `</a>`,
			`<a href="/sandbox/privacy/es" target="_blank" rel="noopener" aria-label="` + tt.privacy + " " + tt.tab + `">` + tt.privacy + `</a>`,
		} {
			if !strings.Contains(label, want) {
				t.Errorf("%s/%s: label %s\nwant it to contain %s", tt.form, tt.lang, label, want)
			}
		}
		evidence := v.Catalog(tt.lang).TF(tt.form, "field.consent_terms")
		if got := plain(label); got != evidence {
			t.Errorf("%s/%s: the label reads %q, the evidence stored is %q", tt.form, tt.lang, got, evidence)
		}
		// Without the keys the words stay plain text, as before.
		if label := termsLabel(t, v, tt.form, tt.lang, ConsentLinks{}); strings.Contains(label, "<a ") || plain(label) != evidence {
			t.Errorf("%s/%s without links: %s", tt.form, tt.lang, label)
		}
		// One key alone links its own words only.
		label = termsLabel(t, v, tt.form, tt.lang, ConsentLinks{Privacy: "/p"})
		if strings.Count(label, "<a ") != 1 || !strings.Contains(label, `">`+tt.privacy+`</a>`) {
			t.Errorf("%s/%s with privacy_url only: %s", tt.form, tt.lang, label)
		}
	}
}

// A catalog whose consent text lost the words a link goes on stops the
// start, rather than linking nothing.
func TestLinkWordsMustBeInTheConsent(t *testing.T) {
	c := Catalog{"field.consent_terms": "I accept the terms.", "link.terms": "Terms", "link.privacy": "Privacy", "link.new_tab": "{text}"}
	if err := checkLinkWords(c, "us"); err == nil || !strings.Contains(err.Error(), `link.terms "Terms" is 0 times in field.consent_terms`) {
		t.Errorf("got %v, want the missing words named", err)
	}
	c["field.consent_terms"] = "I accept the Terms and the Privacy notice."
	if err := checkLinkWords(c, "us"); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}
