package gateway

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// noOfferConfig has a Spanish flow with terms and privacy links and its
// own no-offer message and links (written to need escaping), and an
// English one without: the catalog's message and no links.
const noOfferConfig = `
server: { session_secret: "0123456789abcdef0123456789abcdef" }
storage: { encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
providers: { casheddy: { base_url: "https://casheddy.invalid", username: u, password: p } }
flows:
  - name: es
    form: es
    currency: EUR
    buyers: [casheddy]
    default: true
    terms_url: "https://lender.example/terminos"
    privacy_url: /privacidad
    no_offer:
      message: "Vuelve <mañana> & mira más"
      links: [{ text: "Otra opción \"A\"", url: "https://lender.example/otra?a=1&b=2" }, { text: Ayuda, url: /ayuda }]
  - { name: en, form: es, locale: en, currency: EUR, buyers: [casheddy] }
`

// applied lands in flow, sends a valid application from its form and
// returns the browser, the form page it was sent from and the status URL.
func applied(t *testing.T, srv *httptest.Server, flow string) (*browser, string, string) {
	t.Helper()
	b := newBrowser(t, srv)
	page := b.get("/?flow=" + flow).Body
	sent := b.do("POST", "/apply", with(validES(), hidden(page)))
	status := sent.Header.Get("Location")
	if sent.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("%s: apply: got %d to %q", flow, sent.Code, status)
	}
	return b, page, status
}

// declinedPage applies in flow, has every buyer decline, and returns the
// page the consumer then sees at /status/ID.
func declinedPage(t *testing.T, srv *httptest.Server, st *store.Store, flow string) answer {
	t.Helper()
	b, _, status := applied(t, srv, flow)
	ctx := context.Background()
	ids, err := st.Claim(ctx, "w", time.Minute, 10)
	if err != nil || len(ids) != 1 {
		t.Fatalf("%s: claimed %v (%v), want the one application", flow, ids, err)
	}
	if err := st.Decide(ctx, ids[0], "w", providers.Verdict{Status: providers.StatusDeclined}); err != nil {
		t.Fatal(err)
	}
	a := b.get(status)
	if a.Code != http.StatusOK {
		t.Fatalf("%s: no-offer page: got %d", flow, a.Code)
	}
	return a
}

// noOfferServer serves noOfferConfig.
func noOfferServer(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	cfg, err := config.Parse([]byte(noOfferConfig), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	h, st := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "1000-M", func(d *Deps) { d.Config = cfg })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st
}

var (
	termsLabel = regexp.MustCompile(`(?s)<label for="f-consent_terms">(.*?)</label>`)
	anyTag     = regexp.MustCompile(`<[^>]*>`)
)

// The terms consent stored as evidence is the text the consumer read in
// the label, links and all: the words are the same, only wrapped.
func TestConsentEvidenceIsTheLinkedLabelsText(t *testing.T) {
	srv, st := noOfferServer(t)
	_, page, status := applied(t, srv, "es")
	m := termsLabel.FindStringSubmatch(page)
	if m == nil || !strings.Contains(m[1], `<a href="https://lender.example/terminos"`) || !strings.Contains(m[1], `<a href="/privacidad"`) {
		t.Fatalf("the es form's terms consent has not its two links: %q", m)
	}
	read := html.UnescapeString(anyTag.ReplaceAllString(m[1], ""))
	sealed, err := st.Sealed(context.Background(), strings.TrimPrefix(status, "/status/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sealed.Submission.Consents {
		if c.Field == "consent_terms" {
			if c.Text != read {
				t.Errorf("consent evidence %q, the label read %q", c.Text, read)
			}
			return
		}
	}
	t.Error("no consent_terms evidence stored")
}

// The no-offer page says the flow's own message and offers its links, in
// the flow's language, escaped; a flow without no_offer says the
// catalog's message with no links. The way back to the start is always
// there, and leads to a new form (/?new=1): "/" would show the "sent"
// page, whose link comes back here.
func TestNoOfferPage(t *testing.T) {
	srv, st := noOfferServer(t)
	es := declinedPage(t, srv, st, "es").Body
	for _, want := range []string{
		`<html lang="es">`,
		`<h1>Ahora mismo no tenemos una oferta para ti</h1>`,
		`<p class="lead">Vuelve &lt;mañana&gt; &amp; mira más</p>`,
		`<h2 class="ways-title">Qué puedes hacer ahora</h2>`,
		`<a class="primary" href="https://lender.example/otra?a=1&amp;b=2">Otra opción &#34;A&#34;</a>`,
		`<a class="secondary" href="/ayuda">Ayuda</a>`,
		`<a class="back" href="/?new=1">Volver al inicio</a>`,
	} {
		if !strings.Contains(es, want) {
			t.Errorf("es no-offer page lacks %s", want)
		}
	}
	if strings.Contains(es, "Ningún prestamista") {
		t.Error("es no-offer page shows the catalog's message besides the flow's own")
	}

	en := declinedPage(t, srv, st, "en").Body
	for _, want := range []string{
		`<html lang="en">`,
		`<h1>No offer right now</h1>`,
		`<p class="lead">No lender has accepted your application at the moment. You can try again later.</p>`,
		`<a class="primary" href="/?new=1">Back to the start</a>`,
	} {
		if !strings.Contains(en, want) {
			t.Errorf("en no-offer page (no_offer unset) lacks %s", want)
		}
	}
	if strings.Contains(en, `class="ways`) || strings.Contains(en, "lender.example") {
		t.Error("en no-offer page shows links it was not given")
	}
}
