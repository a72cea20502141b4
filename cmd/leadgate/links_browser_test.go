package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/leadgate/leadgate/gateway/config"
)

// readmeFlows are the flows of the repository's config.yaml by name: what
// the pages must show is what the file says.
func readmeFlows(t *testing.T) map[string]config.Flow {
	t.Helper()
	cfg, err := config.Load("../../config.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]config.Flow{}
	for _, f := range cfg.Flows {
		out[f.Name] = f
	}
	return out
}

// link is what a page's link says and where it goes.
type link struct{ Text, Href, Target, Rel, Name string }

// links lists the links at sel on the page.
func links(t *testing.T, ctx context.Context, sel string) []link {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]link](`[...document.querySelectorAll('`+sel+`')].map(a => ({
	  Text: a.textContent, Href: a.getAttribute('href'), Target: a.target, Rel: a.rel, Name: a.getAttribute('aria-label') || ''}))`))
	if err != nil {
		t.Fatalf("links at %s: %v", sel, err)
	}
	return out
}

// tapLabelText taps the terms consent's label on its first words, beside
// the links, as a thumb does; it says whether the box is ticked after.
func tapLabelText(t *testing.T, ctx context.Context) bool {
	t.Helper()
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
	  const l = document.querySelector('label[for="f-consent_terms"]');
	  l.scrollIntoView({block: 'center'});
	  const r = document.createRange();
	  r.selectNodeContents(l.firstChild); // "I have read and accept the "
	  const b = r.getClientRects()[0];
	  return [b.left + 8, b.top + b.height / 2];
	})()`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("finding the consent's text: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatal(err)
	}
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[name="consent_terms"]').checked`))
	if err != nil {
		t.Fatal(err)
	}
	return checked
}

// On the README's config, at a phone's viewport: the terms consent's
// words are links to the sandbox's pages opening in a new tab, the rest of
// its text still ticks the box, and the pages linked pass axe-core.
func TestBrowserTermsLinks(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	flows := readmeFlows(t)
	g := startReadme(t)
	ctx := chromium(t)
	usLink := g.URL + "/?utm_source=cashcat.ph&action_token=usdemo0000000001"

	// The terms consent of the us form.
	// The button fills the rest and opens the consents' step.
	openPage(t, ctx, usLink)
	pressTestFill(t, ctx, "consent_terms")
	got := links(t, ctx, `label[for="f-consent_terms"] a`)
	want := []link{
		{"Terms of Use", flows["us"].TermsURL, "_blank", "noopener", "Terms of Use (opens in a new tab)"},
		{"Privacy Policy", flows["us"].PrivacyURL, "_blank", "noopener", "Privacy Policy (opens in a new tab)"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("terms consent links: got %+v, want %+v", got, want)
	}
	shot(t, ctx, "consent-us")
	if !tapLabelText(t, ctx) {
		t.Error("tapping the consent's text left the box unticked")
	}
	if tapLabelText(t, ctx) {
		t.Error("tapping the consent's text again left the box ticked")
	}
	// Tapping a link opens its page in a new tab and leaves the box alone.
	opened := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return strings.HasSuffix(i.URL, flows["us"].TermsURL) })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`label[for="f-consent_terms"] a`))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
	case <-time.After(20 * time.Second):
		t.Error("the Terms of Use link opened no new tab")
	}
	if ticked, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[name="consent_terms"]').checked`)); ticked {
		t.Error("following the Terms of Use link ticked the consent")
	}
	axe(t, ctx, src, "us form, consent step")

	// The sandbox's sample pages, each in its language.
	for _, page := range []string{flows["us"].TermsURL, flows["us"].PrivacyURL, flows["es"].TermsURL, flows["es"].PrivacyURL} {
		if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+page), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatal(err)
		}
		axe(t, ctx, src, page)
	}
	shot(t, ctx, "privacy-es")
}

// The no-offer page of each flow of the README's config, reached as the
// walk-through says, on a phone.
func TestBrowserNoOffer(t *testing.T) {
	src := axeSource(t)
	flows := readmeFlows(t)
	for _, tt := range []struct {
		flow, link string
		// typed over what "Fill with test values" left, to be declined
		typed                  [][2]string
		consents               []string
		title, ways, startOver string
	}{
		// Lokyata declines (the email switch), Astoria has no coverage
		// (an odd ZIP).
		{"us", "/?utm_source=cashcat.ph&action_token=usdemo0000000001",
			[][2]string{{"email", "john+lokyata-decline@example.com"}, {"postal_code", "78701"}}, []string{"consent_terms"},
			"No offer right now", "What you can do now", "Back to the start"},
		// Casheddy, the flow's only buyer, declines (the email switch).
		{"es", "/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001",
			[][2]string{{"email", "lucia+decline@example.es"}}, []string{"consent_terms", "consent_marketing"},
			"Ahora mismo no tenemos una oferta para ti", "Qué puedes hacer ahora", "Volver al inicio"},
	} {
		t.Run(tt.flow, func(t *testing.T) {
			t.Parallel()
			g := startReadme(t)
			ctx := chromium(t)
			openPage(t, ctx, g.URL+tt.link)
			pressTestFill(t, ctx, "consent_terms")
			for _, kv := range tt.typed {
				sel := `[name="` + kv[0] + `"]`
				if err := chromedp.Do(ctx, clearField(sel), typeInto(sel, kv[1])); err != nil {
					t.Fatal(err)
				}
			}
			tick(t, ctx, tt.consents...)
			send(t, ctx)
			noOffer(t, ctx, flows[tt.flow], tt.title, tt.ways, tt.startOver)
			axe(t, ctx, src, tt.flow+" no-offer page")
			shot(t, ctx, "page")
			keepShot(t, ctx, tt.flow+"-no-offer")
		})
	}
	// Without JavaScript: the whole form on one page, typed in, and the
	// waiting page's own refresh bringing the answer.
	t.Run("us without javascript", func(t *testing.T) {
		t.Parallel()
		g := startReadme(t)
		ctx := chromium(t)
		noScript(t, ctx, true)
		openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
		fillUS(t, ctx, "john+lokyata-decline@example.com", "78701")
		send(t, ctx)
		noOffer(t, ctx, flows["us"], "No offer right now", "What you can do now", "Back to the start")
		// axe-core runs on timers, which need scripts: on for it alone,
		// the page as it was rendered without them.
		noScript(t, ctx, false)
		axe(t, ctx, src, "us no-offer page without javascript")
	})
}

// noOffer waits for the no-offer page and checks it shows flow's
// no_offer message and links, in its language, as tap targets of 44 px
// at least.
func noOffer(t *testing.T, ctx context.Context, flow config.Flow, title, ways, back string) {
	t.Helper()
	waitLocation(t, ctx, "/status/", 15*time.Second)
	// The waiting page replaces itself with the answer: wait for a page
	// that is no longer pending and has finished loading.
	if err := waitAnswered(ctx); err != nil {
		t.Fatalf("%s: no answer: %v", flow.Name, err)
	}
	for sel, want := range map[string]string{`h1`: title, `section.status .lead`: flow.NoOffer.Message, `.ways-title`: ways, `a.back`: back} {
		if got := text(t, ctx, sel); got != want {
			t.Errorf("%s no-offer page %s: got %q, want %q", flow.Name, sel, got, want)
		}
	}
	got := links(t, ctx, `.ways a`)
	if len(got) != len(flow.NoOffer.Links) {
		t.Fatalf("%s no-offer links: got %+v, want %+v", flow.Name, got, flow.NoOffer.Links)
	}
	for i, l := range flow.NoOffer.Links {
		if got[i].Text != l.Text || got[i].Href != l.URL {
			t.Errorf("%s no-offer link %d: got %q → %q, want %q → %q", flow.Name, i, got[i].Text, got[i].Href, l.Text, l.URL)
		}
	}
	small, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('section.status a')].filter(a => {
	  const r = a.getBoundingClientRect(); return r.height < 44 || r.width < 44 }).map(a => a.textContent)`))
	if err != nil || len(small) > 0 {
		t.Errorf("%s no-offer page: links under 44 px: %v (%v)", flow.Name, small, err)
	}
}
