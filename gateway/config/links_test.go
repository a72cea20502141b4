package config

import (
	"strings"
	"testing"
)

// withFlowKeys adds keys (YAML flow-mapping entries) to the valid config's
// one flow.
func withFlowKeys(keys string) string {
	return strings.Replace(valid, "default: true }", "default: true, "+keys+" }", 1)
}

// Each mistake in the terms, privacy and no-offer keys stops the start,
// naming the flow's key and what is wrong with it.
func TestLinkKeysErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, keys, want string
	}{
		{"terms over http", `terms_url: "http://lender.example/terms"`, `flows[0].terms_url: "http://lender.example/terms" is not an absolute https url or a path on this server starting with /`},
		{"terms a script", `terms_url: "javascript:alert(1)"`, `flows[0].terms_url: "javascript:alert(1)" is not`},
		{"privacy a data url", `privacy_url: "data:text/html,<b>hi</b>"`, `flows[0].privacy_url: "data:text/html,<b>hi</b>" is not`},
		{"privacy on another host, protocol-relative", `privacy_url: "//evil.example/p"`, `flows[0].privacy_url: "//evil.example/p" is not`},
		{"privacy with a backslash", `privacy_url: "/\\evil.example"`, `flows[0].privacy_url:`},
		{"terms a relative path", `terms_url: "terms.html"`, `flows[0].terms_url: "terms.html" is not`},
		{"terms with credentials", `terms_url: "https://user:pw@lender.example/terms"`, `flows[0].terms_url:`},
		{"terms with a space", `terms_url: "https://lender.example/our terms"`, `flows[0].terms_url:`},
		{"four links", `no_offer: { links: [{text: a, url: /a}, {text: b, url: /b}, {text: c, url: /c}, {text: d, url: /d}] }`, "flows[0].no_offer.links: 4 links, at most 3"},
		{"link without text", `no_offer: { links: [{text: ok, url: /a}, {text: " ", url: /b}] }`, "flows[0].no_offer.links[1].text: empty"},
		{"link without url", `no_offer: { links: [{text: Home}] }`, `flows[0].no_offer.links[0].url: "" is not`},
		{"link a script", `no_offer: { links: [{text: Home, url: "JavaScript:alert(1)"}] }`, `flows[0].no_offer.links[0].url: "JavaScript:alert(1)" is not`},
		{"typo in a no_offer key", `no_offer: { mesage: hi }`, "field mesage not found in type config.NoOffer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(withFlowKeys(tt.keys)), env(secrets))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLinkKeysAccepted(t *testing.T) {
	cfg, err := Parse([]byte(withFlowKeys(`terms_url: "https://lender.example/terms?v=2#top", privacy_url: /sandbox/privacy/es,
    no_offer: { message: "Vuelve mañana.", links: [{text: Inicio, url: /}, {text: Ayuda, url: "https://lender.example/help"}, {text: Blog, url: /blog}] }`)), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Flows[0]
	if f.TermsURL != "https://lender.example/terms?v=2#top" || f.PrivacyURL != "/sandbox/privacy/es" {
		t.Errorf("terms %q, privacy %q", f.TermsURL, f.PrivacyURL)
	}
	if f.NoOffer.Message != "Vuelve mañana." || len(f.NoOffer.Links) != 3 || f.NoOffer.Links[1] != (Link{Text: "Ayuda", URL: "https://lender.example/help"}) {
		t.Errorf("no_offer: got %+v", f.NoOffer)
	}
	// Unset: no links, the catalog's message (the view's default).
	cfg, err = Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Flows[0]; f.TermsURL != "" || f.NoOffer.Message != "" || f.NoOffer.Links != nil {
		t.Errorf("unset keys: got %+v", f)
	}
}
