package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/providers"
)

// FuzzAttribution: whatever a link carries in its utm_* parameters and
// Referer, the first touch kept is printable, bounded, valid UTF-8, and
// the sub-id sent to buyers keeps Astoria's rule.
func FuzzAttribution(f *testing.F) {
	for _, seed := range [][2]string{
		{"utm_source=cashcat.ph&utm_campaign=es-demo", "https://cashcat.ph/offers?x=1"},
		{"utm_source=%00%ff%fe&utm_campaign=" + strings.Repeat("a", 300), "javascript:alert(1)"},
		{"utm_source=caf%C3%A9%20%E2%80%AE&utm_medium=cpc", "//evil.example/path"},
		{"utm_campaign==cmd|' /C calc'!A0", ""},
		{"utm_content=ana%40example.%E2%80%8Bes&utm_term=a%C2%AD%40b.%01com", ""},
		{"utm_source=google&gclid=Cj0KCQ%3D%3D%00<script>&fbclid=" + strings.Repeat("x", 400) + "&click_id=a%20b", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, query, referer string) {
		q, _ := url.ParseQuery(query)
		a := firstTouch(q, referer, time.Now(), func(string) []string { return append(providers.ClickParams, "click_id") })
		for _, v := range []string{a.Source, a.Medium, a.Campaign, a.Content, a.Term} {
			if utf8.RuneCountInString(v) > 100 || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
				emailAddress.MatchString(v) {
				t.Errorf("kept %q", v)
			}
		}
		for name, ids := range a.ClickIDs() {
			if len(ids[0]) > 256 || strings.Trim(ids[0], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") != "" {
				t.Errorf("click id %s kept as %q", name, ids[0])
			}
		}
		if a.Referrer != "" && (strings.ContainsAny(a.Referrer, "?#") || strings.Count(a.Referrer, "/") != 2) {
			t.Errorf("referrer kept more than the site: %q", a.Referrer)
		}
		for _, max := range []int{35, 64} {
			sub := providers.SubID(a, max)
			if len(sub) > max || strings.Trim(sub, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
				t.Errorf("SubID(%d) = %q breaks the buyers' rule", max, sub)
			}
		}
	})
}

// FuzzQueryValue: the prefill API's hand-read parameter is what net/url
// reads from the same query, whatever the query holds.
func FuzzQueryValue(f *testing.F) {
	for _, seed := range []string{"", "flow=us", "a=1&flow=es&flow=us", "flow", "flow=", "xflow=us&flowx=es", "flow=u%73",
		"fl%6Fw=us", "flow=a+b", "x=1;flow=us&flow=es", "flow=us;x", "&&flow=us&", "flow==us", "flow=%zz&flow=us",
		strings.Repeat("a&", 10_000) + "flow=us"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := &gin.Context{Request: &http.Request{URL: &url.URL{RawQuery: raw}}}
		q, _ := url.ParseQuery(raw)
		if got, want := queryValue(c, "flow"), q.Get("flow"); got != want {
			t.Errorf("%q: got %q, want %q", raw, got, want)
		}
	})
}
