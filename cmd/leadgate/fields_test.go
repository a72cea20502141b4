package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers/sandbox"
)

// emptyRequired lists the inputs of a form page a consumer must still
// type: required, not hidden, not a consent (checkbox), and empty (a
// select without a selected option, a radio group without a checked
// radio, counted once).
func emptyRequired(t *testing.T, page string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	radios := map[string]bool{} // name → one checked
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "input" || n.Data == "select") {
			a := map[string]string{}
			has := map[string]bool{}
			for _, at := range n.Attr {
				a[at.Key], has[at.Key] = at.Val, true
			}
			switch {
			case !has["required"] || a["type"] == "hidden" || a["type"] == "checkbox":
			case a["type"] == "radio":
				radios[a["name"]] = radios[a["name"]] || has["checked"]
			case n.Data == "select":
				if !selected(n) {
					out = append(out, a["name"])
				}
			case a["value"] == "":
				out = append(out, a["name"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for name, checked := range radios {
		if !checked {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func selected(sel *html.Node) bool {
	for c := sel.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "option" {
			for _, at := range c.Attr {
				if at.Key == "selected" {
					return true
				}
			}
		}
	}
	return false
}

// A consumer landing with a sandbox action token (prefilled from Cashcat)
// has at most 22 required fields to type on the us form and 11 on the es
// form, besides the consents (issue 14: 28 and 12 before derivations).
func TestPrefilledConsumerTypesFewFields(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	for _, tt := range []struct {
		flow, link string
		most       int
	}{
		{"us", "/?utm_source=cashcat.ph&action_token=usdemo0000000001", 22},
		{"es", "/?utm_campaign=es-demo&action_token=esdemo0000000001", 11},
	} {
		_, page := get(t, browser(t), g.URL+tt.link)
		if !strings.Contains(page, `value="John"`) && !strings.Contains(page, `value="Lucía"`) {
			t.Fatalf("%s: the landing is not prefilled", tt.flow)
		}
		left := emptyRequired(t, page)
		t.Logf("%s: %d required fields to type: %s", tt.flow, len(left), strings.Join(left, " "))
		if len(left) > tt.most {
			t.Errorf("%s: %d required fields to type after prefill, want at most %d: %v", tt.flow, len(left), tt.most, left)
		}
	}
}

// minimal is what a consumer types on a prefilled form: the sandbox's
// test values (every field the page requires, none it derives) and the
// required consents; nothing derived.
func minimal(t *testing.T, name string, secrets url.Values) url.Values {
	t.Helper()
	f := form.Forms[name]
	loc, _ := time.LoadLocation(f.TimeZone)
	v := url.Values{}
	for field, val := range sandbox.TestValues[name] {
		if fd := f.Field(field); fd == nil || fd.Derived {
			t.Fatalf("%s: test value for %s, which the page does not require", name, field)
		}
		v.Set(field, testValue(val, time.Now(), loc))
	}
	v.Set("consent_terms", "1")
	for k := range secrets {
		v.Set(k, secrets.Get(k))
	}
	return v
}

// Every buyer still gets every field its document requires from a form
// filled only where the page requires it: the emulators check each
// document's required fields (a missing one is a 400 or a 422, never a
// decline or a sale). Without JavaScript, the server derives the rest.
func TestMinimalFormReachesEveryBuyer(t *testing.T) {
	t.Parallel()
	g := start(t, "")

	// us: Lokyata reads the lead and declines (its switch); Astoria buys.
	c := browser(t)
	_, page := get(t, c, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	vals := minimal(t, "us", formSecrets(t, page))
	vals.Set("email", "john+lokyata-decline@example.com")
	resp, page := post(t, c, g.URL+"/apply", vals)
	if resp.Request.URL.Path != "/sandbox/lender/welcome" || !strings.Contains(page, "Astoria") {
		t.Fatalf("us: got %d at %s, want Astoria's page", resp.StatusCode, resp.Request.URL)
	}
	if got := calls(t, g, "lokyata:process-lp-lead"); got != 1 {
		t.Errorf("lokyata posts: %d, want 1", got)
	}
	id := resp.Request.URL.Query().Get("lead_id")
	if id == "" {
		id = resp.Request.URL.Query().Get("vendor_lead_id")
	}
	if _, atts := audit(t, g, id); !strings.HasPrefix(attemptsLine(atts), "lokyata/:declined astoria/") || !strings.HasSuffix(attemptsLine(atts), ":accepted") {
		t.Errorf("us audit: %s, want Lokyata declining (its switch, the lead read) and Astoria buying", attemptsLine(atts))
	}

	// es: Casheddy buys the lead with its subscription consent...
	c = browser(t)
	_, page = get(t, c, g.URL+"/?utm_campaign=es-demo&action_token=esdemo0000000001")
	vals = minimal(t, "es", formSecrets(t, page))
	vals.Set("consent_marketing", "1")
	resp, _ = post(t, c, g.URL+"/apply", vals)
	if resp.Request.URL.Path != "/sandbox/lender/welcome" || resp.Request.URL.Query().Get("buyer") != "Casheddy" {
		t.Fatalf("es: got %d at %s, want Casheddy's page", resp.StatusCode, resp.Request.URL)
	}

	// ...and without it is skipped, with the reason in the audit trail:
	// no post, and no lender asked: the form back, to tick it or not.
	before := calls(t, g, "casheddy:lead/send")
	c = browser(t)
	_, page = get(t, c, g.URL+"/?utm_campaign=es-demo&action_token=esdemo0000000001")
	resp, page = post(t, c, g.URL+"/apply", minimal(t, "es", formSecrets(t, page)))
	if !strings.HasPrefix(resp.Request.URL.Path, "/status/") {
		t.Fatalf("es without the marketing consent: got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	id = strings.TrimPrefix(resp.Request.URL.Path, "/status/")
	app, atts := audit(t, g, id)
	if app["status"] != "needs_fix" || app["reason"] != "no buyer asked: consent not given" || len(atts) != 1 || atts[0]["outcome"] != "skipped" || atts[0]["reason"] != "consent not given" {
		t.Errorf("es audit: %v %v, want needs_fix (no buyer asked) with Casheddy skipped: consent not given", app, atts)
	}
	if got := calls(t, g, "casheddy:lead/send"); got != before {
		t.Errorf("casheddy posts: %d, want %d: skipped, never posted", got, before)
	}
	if !strings.Contains(page, `id="f-consent_marketing-error"`) {
		t.Errorf("es: after the skip, not the form with the consent marked:\n%s", page)
	}
}

// A form sent back (a mistake elsewhere) shows what the server derived,
// prefilled and changeable: the state of the ZIP code, the licence state,
// the home phone, the last pay date; and (es) the street split from its
// number.
func TestDerivedValuesComeBackPrefilled(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c := browser(t)
	_, page := get(t, c, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	vals := minimal(t, "us", formSecrets(t, page))
	vals.Del("ssn")
	vals.Set("next_pay_date", time.Now().AddDate(0, 0, 9).Format("2006-01-02"))
	resp, page := post(t, c, g.URL+"/apply", vals)
	if resp.StatusCode != 422 {
		t.Fatalf("got %d, want 422 (no ssn)", resp.StatusCode)
	}
	last := time.Now().AddDate(0, 0, 9-14).Format("2006-01-02")
	for _, want := range []string{`<option value="TX" selected>Texas</option>`, `name="home_phone" value="5125550134"`,
		`name="last_pay_date" value="` + last + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("us form sent back lacks %s", want)
		}
	}
	if n := strings.Count(page, `<option value="TX" selected>`); n != 2 {
		t.Errorf("TX selected %d times, want 2 (home and licence state)", n)
	}
	c = browser(t)
	_, page = get(t, c, g.URL+"/?utm_campaign=es-demo&action_token=esdemo0000000001")
	vals = minimal(t, "es", formSecrets(t, page))
	vals.Del("iban")
	resp, page = post(t, c, g.URL+"/apply", vals)
	if resp.StatusCode != 422 || !strings.Contains(page, `name="address_line1" value="Calle Mayor"`) || !strings.Contains(page, `name="house_number" value="5"`) {
		t.Errorf("es form sent back (%d): the street and its number not split", resp.StatusCode)
	}
}
