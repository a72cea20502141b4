package config

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// NoOffer is the `flows[].no_offer:` block: what the page a consumer sees
// when no buyer accepted says, and where it offers to go next.
type NoOffer struct {
	// Message replaces the catalog's "no lender accepted" text, as given
	// (the operator writes it in the flow's language).
	Message string `yaml:"message"`
	// Links are at most MaxNoOfferLinks ways forward, shown as buttons.
	Links []Link `yaml:"links"`
}

// Link is one link of a page: its text and where it goes.
type Link struct {
	Text string `yaml:"text"`
	URL  string `yaml:"url"`
}

// MaxNoOfferLinks bounds the no-offer page's links: more than three ways
// forward is a list nobody reads on a phone.
const MaxNoOfferLinks = 3

// checkPageURL accepts where a link on a consumer's page may point: an
// absolute https URL, or a path on this server ("/sandbox/terms/en").
// Anything else (http:, javascript:, data:, a protocol-relative "//host",
// a backslash that browsers read as a slash) is refused, so that a typo
// in the config never becomes a script or an insecure page under the
// lender's consent.
func checkPageURL(raw string) error {
	bad := fmt.Errorf("%q is not an absolute https url or a path on this server starting with /", raw)
	if raw == "" || strings.ContainsAny(raw, `\`) || strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad
	}
	if strings.HasPrefix(raw, "/") {
		if strings.HasPrefix(raw, "//") || u.Scheme != "" || u.Host != "" {
			return bad
		}
		return nil
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return bad
	}
	return nil
}

// validateLinks checks a flow's terms, privacy and no-offer links.
func validateLinks(key string, f Flow, p *problems) {
	for _, kv := range [][2]string{{"terms_url", f.TermsURL}, {"privacy_url", f.PrivacyURL}} {
		if kv[1] == "" {
			continue // the consent's words stay plain text
		}
		if err := checkPageURL(kv[1]); err != nil {
			p.add(key+"."+kv[0], "%v", err)
		}
	}
	nk := key + ".no_offer"
	if n := len(f.NoOffer.Links); n > MaxNoOfferLinks {
		p.add(nk+".links", "%d links, at most %d", n, MaxNoOfferLinks)
	}
	for i, l := range f.NoOffer.Links {
		lk := fmt.Sprintf("%s.links[%d]", nk, i)
		if strings.TrimSpace(l.Text) == "" {
			p.add(lk+".text", "empty: a link needs words the consumer can read")
		}
		if err := checkPageURL(l.URL); err != nil {
			p.add(lk+".url", "%v", err)
		}
	}
}
