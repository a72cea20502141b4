package providers

import (
	"net/url"
	"strings"
)

// ClickParams are the ad platforms' click ids, captured at landing from
// the link's query: Google's gclid (and gbraid, wbraid on iOS), Meta's
// fbclid, TikTok's ttclid and Microsoft's msclkid. A deployment adds its
// traffic sources' own (attribution.click_params).
var ClickParams = []string{"gclid", "gbraid", "wbraid", "fbclid", "ttclid", "msclkid"}

// maxClickID bounds a click id: Google's run to about 100 characters and
// Meta's to about 200; anything longer is not one.
const maxClickID = 256

// CleanClickID keeps what a click id is made of (letters, digits and
// "._~-", the URL-safe characters every platform uses), cut to a sane
// length. A click id is a pseudonymous identifier: it is kept sealed with
// the attribution, shown masked, never logged.
func CleanClickID(v string) string {
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < maxClickID; i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// SetClicks keeps the click ids of names found in q (cleaned).
func (a *Attribution) SetClicks(q url.Values, names []string) {
	kept := url.Values{}
	for _, name := range names {
		if id := CleanClickID(q.Get(name)); id != "" {
			kept.Set(name, id)
		}
	}
	a.Clicks = kept.Encode()
}

// ClickID is the click id of the named parameter, or "".
func (a Attribution) ClickID(name string) string {
	v, _ := url.ParseQuery(a.Clicks)
	return v.Get(name)
}

// ClickIDs are the click ids kept, by parameter name.
func (a Attribution) ClickIDs() url.Values {
	v, _ := url.ParseQuery(a.Clicks)
	return v
}

// MaskClickID shows enough of a click id to recognise it, never enough to
// reuse it: its first four and last two characters.
func MaskClickID(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("•", len(id))
	}
	return id[:4] + "…" + id[len(id)-2:]
}
