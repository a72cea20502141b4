package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"net/url"

	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

// The "Fill with test values" button is on the form in sandbox mode only,
// on a first render (the skeleton) and when the form comes back with its
// mistakes, with its script from our own origin.
func TestTestFillButtonOnlyInSandboxMode(t *testing.T) {
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	for _, sandbox := range []bool{true, false} {
		var opts []func(*Deps)
		if sandbox {
			opts = append(opts, func(d *Deps) {
				d.Sandbox = http.NotFoundHandler()
				d.Views, _ = views.New(templates.FS, views.Options{TestFill: true})
			})
		}
		h, _ := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "1000-M", opts...)
		first := do(h, "GET", "/", nil)
		m := csrf.FindStringSubmatch(first.Body.String())
		if m == nil {
			t.Fatalf("sandbox=%v: no form: %s", sandbox, first.Body)
		}
		back := do(h, "POST", "/apply", url.Values{"csrf_token": {m[1]}, "first_name": {"Ana"}}, first.Result().Cookies()...)
		if back.Code != http.StatusUnprocessableEntity {
			t.Fatalf("sandbox=%v: posting an incomplete form: got %d, want 422", sandbox, back.Code)
		}
		for name, page := range map[string]string{"first render": first.Body.String(), "422": back.Body.String()} {
			button := strings.Contains(page, `<button type="button" class="secondary" id="test-fill" data-form="es"`)
			script := strings.Contains(page, `<script src="/sandbox/fill.js?v=`)
			if button != sandbox || script != sandbox || (!sandbox && strings.Contains(page, "test-fill")) {
				t.Errorf("sandbox=%v, %s: button %v, script %v; want both %v", sandbox, name, button, script, sandbox)
			}
		}
	}
}
