package gateway

import (
	"net/url"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// A Google Ads click tagged by Google itself is attributed to google /
// cpc, in the session's first touch and in what flows match on; the
// marketer's own utm_source always wins, and no other platform's click id
// names a source.
func TestAutoTaggedClickAttribution(t *testing.T) {
	for _, tc := range []struct{ query, source, medium string }{
		{"gclid=EAIaIQobChMI42", "google", "cpc"},
		{"wbraid=CjkKCQiA42", "google", "cpc"},
		{"gbraid=0AAAAAo42&utm_medium=display", "google", "display"},
		{"gclid=EAIaIQobChMI42&utm_source=newsletter", "newsletter", ""},
		{"gclid=EAIaIQobChMI42&utm_source=cashcat.ph&utm_medium=referral", "cashcat.ph", "referral"},
		{"gclid=", "", ""},
		{"gclid=%00%20<>", "", ""},
		{"fbclid=IwAR42", "", ""},
		{"msclkid=7f42", "", ""},
		// A source that held an email is not kept: the click is Google's,
		// for the flows as for the dashboard.
		{"utm_source=ann%40example.com&gclid=EAIaIQobChMI42", "google", "cpc"},
		{"utm_source=%20&utm_medium=%01&gclid=EAIaIQobChMI42", "google", "cpc"},
	} {
		q, _ := url.ParseQuery(tc.query)
		a := firstTouch(q, "", time.Now(), func(string) []string { return providers.ClickParams })
		if a.Source != tc.source || a.Medium != tc.medium {
			t.Errorf("%s: first touch %q / %q, want %q / %q", tc.query, a.Source, a.Medium, tc.source, tc.medium)
		}
		attrs := matchAttrs(q, "lender.example", nil, providers.Attribution{})
		if attrs["utm_source"][0] != tc.source || attrs["utm_medium"][0] != tc.medium {
			t.Errorf("%s: flows match on %q / %q, want %q / %q", tc.query, attrs["utm_source"], attrs["utm_medium"], tc.source, tc.medium)
		}
	}
}

// A link with no utm_* at all (the clean URL a landing with a click id
// was sent to, a bookmark) is matched as the session's first touch; one
// with any utm_* of its own, as itself.
func TestFlowsMatchTheFirstTouchOfALinkWithoutUTM(t *testing.T) {
	first := providers.Attribution{Source: "google", Medium: "cpc", Campaign: "spring"}
	for _, tc := range []struct{ query, source, campaign string }{
		{"", "google", "spring"},
		{"flow=&x=1", "google", "spring"},
		{"utm_campaign=es-demo", "", "es-demo"},
		{"utm_source=cashcat.ph", "cashcat.ph", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		attrs := matchAttrs(q, "lender.example", nil, first)
		if attrs["utm_source"][0] != tc.source || attrs["utm_campaign"][0] != tc.campaign {
			t.Errorf("%q: flows match on %q / %q, want %q / %q", tc.query, attrs["utm_source"], attrs["utm_campaign"], tc.source, tc.campaign)
		}
	}
}
