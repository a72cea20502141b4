package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

// StepOf names the step that shows a field, from the flow's own steps.
func TestFlowStepOf(t *testing.T) {
	flows, err := NewFlows([]config.Flow{{Name: "us", Form: "us", Steps: []form.Step{
		{Key: "all", Sections: []string{"loan", "personal", "contact", "address", "income", "bank"}}, {Key: "send", Sections: []string{"consent"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	f := flows.ByName("us")
	for field, want := range map[string]string{"ssn": "all", "bank_months": "all", "consent_tcpa": "send", "iban": ""} {
		if got := f.StepOf(field); got != want {
			t.Errorf("StepOf(%s) = %q, want %q", field, got, want)
		}
	}
	if _, err := NewFlows([]config.Flow{{Name: "us", Form: "us", Steps: []form.Step{{Key: "all", Sections: []string{"loan"}}}}}); err == nil {
		t.Error("steps without most sections accepted")
	}
}

// The form page carries its steps as markup every browser can show: each
// step a block with its title, the step UI hidden until steps.js runs, a
// meta description and an icon; a form with mistakes comes back titled
// "Error: ", its summary focused and naming each field short.
func TestFormPageInSteps(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	first := do(h, "GET", "/", nil)
	page := first.Body.String()
	for _, want := range []string{
		`<div class="step" id="step-you" data-step-key="you">`, `<h2 class="step-title" tabindex="-1">Tú y tu préstamo</h2>`,
		`<div class="step" id="step-review" data-step-key="review">`, `data-t-progress="Paso {n} de {total}"`,
		`<div class="progress" hidden>`, `<div class="step-nav" hidden>`, `<script src="/static/steps.js?v=`,
		`<meta name="description" content="Solicita un préstamo`, `<link rel="icon" href="/favicon.svg"`,
		`data-m-pattern="Escribe un DNI o NIE válido`, `<title>Completa tu solicitud</title>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("form page lacks %s", want)
		}
	}
	if n := strings.Count(page, `class="step" id=`); n != 5 {
		t.Errorf("es form: %d steps, want 5", n)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	back := do(h, "POST", "/apply", url.Values{"csrf_token": {csrf[1]}, "first_name": {"Ana"}}, first.Result().Cookies()...)
	if back.Code != http.StatusUnprocessableEntity {
		t.Fatalf("posting an incomplete form: %d, want 422", back.Code)
	}
	body := back.Body.String()
	for _, want := range []string{
		`<title>Error: Completa tu solicitud</title>`, `id="form-alert" tabindex="-1" autofocus`,
		`<a href="#f-consent_terms">Términos y privacidad: `, `<a href="#f-last_name">Primer apellido: `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("422 page lacks %s", want)
		}
	}
	if strings.Contains(body, `<a href="#f-consent_terms">Confirmo`) {
		t.Error("the summary names a consent by its whole text")
	}
	icon := do(h, "GET", "/favicon.ico", nil)
	if icon.Code != http.StatusOK || icon.Header().Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(icon.Body.String(), "<svg") {
		t.Errorf("favicon: %d %s", icon.Code, icon.Header().Get("Content-Type"))
	}
}

// A one-page layout (a variant's) shows the whole form without the step
// UI, with steps.js for its checks; a headline key replaces the form's
// title.
func TestOnePageLayout(t *testing.T) {
	vs, err := views.New(templates.FS, views.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if !vs.FastForm(&b, form.ES, views.Layout{OnePage: true, Headline: "step.review"}, "es", nil, false, now, time.UTC, "x", "y") {
		t.Fatal("no skeleton")
	}
	page := b.String()
	for _, unwanted := range []string{`class="progress"`, `class="step-title"`, `data-next`, "stepped"} {
		if strings.Contains(page, unwanted) {
			t.Errorf("one-page form has %s", unwanted)
		}
	}
	if !strings.Contains(page, "<h1>Revisar y enviar</h1>") || !strings.Contains(page, `name="iban"`) {
		t.Error("one-page form lacks its headline or a field")
	}
	if !strings.Contains(page, "/static/steps.js") || !strings.Contains(page, `data-t-alert="`) {
		t.Error("one-page form lacks steps.js or its words: Send would show the browser's bubble")
	}
}

// attemptsOnly is a store that knows an application's attempts only.
type attemptsOnly struct {
	Applications
	atts []providers.Attempt
}

func (a attemptsOnly) Attempts(context.Context, string) ([]providers.Attempt, error) {
	return a.atts, nil
}

// The waiting page counts the lender being asked among the flow's, from
// the attempts so far: the first before any post, the last one posted
// after.
func TestAskingCountsLenders(t *testing.T) {
	flow := &Flow{Flow: config.Flow{Buyers: []string{"lokyata", "astoria"}}}
	for _, tt := range []struct {
		atts     []providers.Attempt
		n, total int
	}{
		{nil, 1, 2},
		{[]providers.Attempt{{Buyer: "lokyata"}}, 1, 2},
		{[]providers.Attempt{{Buyer: "lokyata"}, {Buyer: "astoria", Tier: "tier150"}, {Buyer: "astoria", Tier: "tier100"}}, 2, 2},
	} {
		n, total := asking(context.Background(), attemptsOnly{atts: tt.atts}, "x", flow)
		if n != tt.n || total != tt.total {
			t.Errorf("after %d attempts: lender %d of %d, want %d of %d", len(tt.atts), n, total, tt.n, tt.total)
		}
	}
}
