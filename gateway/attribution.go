package gateway

import (
	"cmp"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/leadgate/leadgate/providers"
)

var utmKeys = []string{"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"}

// firstTouch is the attribution of a session's first visit: its utm_*
// values, the referring site, and the click ids of clickParams (those of
// the ad platforms and the source's own).
func firstTouch(q url.Values, referer string, now time.Time, clickParams func(source string) []string) providers.Attribution {
	a := providers.Attribution{
		Source: cleanUTM(q.Get("utm_source")), Medium: cleanUTM(q.Get("utm_medium")),
		Campaign: cleanUTM(q.Get("utm_campaign")), Content: cleanUTM(q.Get("utm_content")),
		Term: cleanUTM(q.Get("utm_term")), LandedAt: now.UTC(),
	}
	if a.Source == "" && autoTagged(q) {
		a.Source, a.Medium = "google", cmp.Or(a.Medium, "cpc")
	}
	// Only the referring site is kept: a full referrer URL can carry
	// anything, including someone's personal data.
	if ref, err := url.Parse(referer); err == nil && ref.Host != "" {
		a.Referrer = ref.Scheme + "://" + ref.Host
	}
	if clickParams != nil {
		a.SetClicks(q, clickParams(a.Source))
	}
	return a
}

// matchAttrs are the visit's attributes flows match on: its utm_*
// values, the host it asked for, and the lead's country. A link without a
// utm_source is matched as the attribution reads it (first: the session's
// first touch): an ad click Google tagged itself as google / cpc, and a
// link with no utm_* at all (the clean URL a landing was sent to, its
// click ids dropped; a bookmark) as the session's first touch. A flow
// matching google* then gets the clicks whose dashboard line and
// postbacks say google.
func matchAttrs(q url.Values, host string, lead *providers.Lead, first providers.Attribution) map[string][]string {
	attrs := map[string][]string{}
	for _, k := range utmKeys {
		attrs[k] = []string{q.Get(k)}
	}
	switch {
	case cleanUTM(q.Get("utm_source")) != "":
	case autoTagged(q):
		attrs["utm_source"], attrs["utm_medium"] = []string{"google"}, []string{cmp.Or(cleanUTM(q.Get("utm_medium")), "cpc")}
	case first.Source != "" && !slices.ContainsFunc(utmKeys, func(k string) bool { return q.Get(k) != "" }):
		for k, v := range map[string]string{"utm_source": first.Source, "utm_medium": first.Medium, "utm_campaign": first.Campaign,
			"utm_content": first.Content, "utm_term": first.Term} {
			attrs[k] = []string{v}
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	attrs["host"] = []string{strings.ToLower(host)}
	if lead != nil {
		attrs["country"] = []string{lead.CountryResidence}
		if country, ok := providers.CountryByName(lead.CountryResidence); ok {
			attrs["country"] = append(attrs["country"], country.Code, country.English)
		}
	}
	return attrs
}

// googleClicks are the parameters of Google Ads' auto-tagging: gclid, and
// gbraid and wbraid for clicks from iOS apps and the web on iOS.
var googleClicks = []string{"gclid", "gbraid", "wbraid"}

// autoTagged says the link is an ad click Google Ads tagged itself: a
// Google click id and no utm_source. Auto-tagging is Google Ads' default
// and adds no utm_* at all, so without this such a click counted under no
// source in the dashboard, and its sale was never reported to a postback
// matching google*: the very click the gclid is there to report. It is
// read as Google Analytics reads it, google / cpc. The marketer's own
// utm_source always wins; the other platforms' ids say nothing this
// certain (Meta adds fbclid to organic links too).
func autoTagged(q url.Values) bool {
	for _, name := range googleClicks {
		if providers.CleanClickID(q.Get(name)) != "" {
			return true
		}
	}
	return false
}

// cleanUTM keeps an attribution value short and printable: it is shown in
// the dashboard and sent to buyers and the CRM.
//
// Control characters go first, then the spaces around what is left:
// trimmed the other way round, "\x01 =1+1" kept its leading space before
// the "=".
func cleanUTM(v string) string {
	if v = strings.TrimSpace(printable(v)); holdsAddress(v) {
		return ""
	}
	return providers.Cut(v, 100)
}

// printable is v without what is not printable (control characters, and
// the invisible ones: a zero-width space, a soft hyphen).
func printable(v string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, v)
}

// emailAddress is an email address anywhere in a value.
var emailAddress = regexp.MustCompile(`[^\s@<>"]+@[^\s@<>".]+(\.[^\s@<>".]+)*\.[A-Za-z]{2,}`)

// holdsAddress says a utm_* value holds an email address: a mailing tool
// that merges the subscriber's address into its links. That is the
// consumer's personal data, not an attribution: it must not stay in the
// address bar, nor reach the dashboard, the buyers and the CRM. (A
// handle, "@lender", and a campaign id are not addresses; a phone number
// cannot be told from an ad platform's numeric ids, so digits stay.)
// It reads v as it is kept (printable): an invisible character inside
// the address must not hide it from the check and then be dropped.
func holdsAddress(v string) bool {
	return strings.Contains(v, "@") && emailAddress.MatchString(printable(v))
}

// clientIP is a client's address as buyers get it. Loopback IPv6 (a
// browser on the same machine as a sandbox gateway) is written as IPv4,
// since Casheddy accepts dotted IPv4 only.
func clientIP(ip string) string {
	if ip == "::1" {
		return "127.0.0.1"
	}
	return strings.TrimPrefix(ip, "::ffff:")
}
