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
	} {
		q, _ := url.ParseQuery(tc.query)
		a := firstTouch(q, "", time.Now(), func(string) []string { return providers.ClickParams })
		if a.Source != tc.source || a.Medium != tc.medium {
			t.Errorf("%s: first touch %q / %q, want %q / %q", tc.query, a.Source, a.Medium, tc.source, tc.medium)
		}
		attrs := matchAttrs(q, "lender.example", nil)
		if attrs["utm_source"][0] != tc.source || attrs["utm_medium"][0] != tc.medium {
			t.Errorf("%s: flows match on %q / %q, want %q / %q", tc.query, attrs["utm_source"], attrs["utm_medium"], tc.source, tc.medium)
		}
	}
}
