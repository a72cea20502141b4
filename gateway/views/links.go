package views

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// ConsentLinks are the pages the terms consent names (flows[].terms_url
// and privacy_url, checked at load): "" leaves those words plain text.
type ConsentLinks struct{ Terms, Privacy string }

// The words of the terms consent that become links are the catalog's
// link.terms and link.privacy (the form's own first: the us form says
// "Terms of Use"), found in the label itself. The label's text stays the
// catalog's text, word for word: it is what the consumer reads and what
// is stored as consent evidence (gateway/apply.go), and a link only wraps
// words already there.
var linkKeys = []string{"link.terms", "link.privacy"}

// labelPart is a piece of a label: text, or a link when URL is set.
type labelPart struct{ Text, URL, Name string }

// The links open in a new tab: the consumer is half way through a form,
// and the terms are something to read and come back from, not a place to
// leave it for. rel="noopener" keeps the new page away from this one, and
// the accessible name says a tab opens (a screen reader user is not moved
// without warning); the visible words stay the label's.
var labelLinks = template.Must(template.New("label").Parse(
	`{{range .}}{{if .URL}}<a href="{{.URL}}" target="_blank" rel="noopener" aria-label="{{.Name}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}`))

// linkedLabel is label with the terms' and the privacy policy's words as
// links to l's pages, or "" when l has none.
func linkedLabel(c Catalog, form, label string, l ConsentLinks) template.HTML {
	type span struct {
		at  int
		url string
		key string
	}
	var spans []span
	for i, u := range []string{l.Terms, l.Privacy} {
		if u == "" {
			continue
		}
		words := c.TF(form, linkKeys[i])
		if at := strings.Index(label, words); at >= 0 {
			spans = append(spans, span{at, u, words})
		}
	}
	if len(spans) == 0 {
		return ""
	}
	if len(spans) == 2 && spans[1].at < spans[0].at {
		spans[0], spans[1] = spans[1], spans[0]
	}
	var parts []labelPart
	from := 0
	for _, s := range spans {
		if s.at < from {
			continue // the two phrases overlap: the first one wins
		}
		parts = append(parts, labelPart{Text: label[from:s.at]},
			labelPart{Text: s.key, URL: s.url, Name: c.T("link.new_tab", map[string]any{"text": s.key})})
		from = s.at + len(s.key)
	}
	parts = append(parts, labelPart{Text: label[from:]})
	var b bytes.Buffer
	if err := labelLinks.Execute(&b, parts); err != nil {
		return "" // strings only: cannot fail; plain text if it did
	}
	return template.HTML(b.String())
}

// checkLinkWords makes sure the terms consent of form, in catalog c,
// contains the words its links go on, once each: a start-up error, or a
// flow's terms_url would silently link nothing.
func checkLinkWords(c Catalog, form string) error {
	label := c.TF(form, "field.consent_terms")
	for _, k := range linkKeys {
		words := c.TF(form, k)
		if _, ok := c[k]; !ok {
			return fmt.Errorf("missing messages: %s", k)
		}
		if n := strings.Count(label, words); n != 1 {
			return fmt.Errorf("%s %q is %d times in field.consent_terms, want once", k, words, n)
		}
	}
	if _, ok := c["link.new_tab"]; !ok {
		return fmt.Errorf("missing messages: link.new_tab")
	}
	return nil
}

// LinkView is a link a page shows: its words and where it goes.
type LinkView struct{ Text, URL string }

// NoOfferView is the page a consumer sees when no buyer accepted: the
// flow's own message when it has one (else the catalog's), its ways
// forward, and the way back to the start, which is always there.
func (v *Views) NoOfferView(lang, message string, ways []LinkView) StatusPage {
	c := v.Catalog(lang)
	if message == "" {
		message = c.T("status.declined.message")
	}
	p := v.StatusView(lang, c.T("status.declined.title"), message)
	// A new form: "/" shows the session's "sent" page, which links here.
	p.Link, p.LinkText = "/?new=1", c.T("status.declined.link")
	if len(ways) > 0 {
		p.Ways, p.WaysTitle = ways, c.T("status.declined.ways")
	}
	return p
}
