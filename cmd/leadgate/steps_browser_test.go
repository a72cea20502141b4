package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// maxStepHeight is one and a half screens of the 390×844 phone: no step of
// a flow may make the page taller (issue 14, README "The application in
// steps").
const maxStepHeight = 1266

// flowLinks are the sandbox landing links of both flows, with a prefilled
// token.
var flowLinks = []struct {
	flow, link string
	// most is how many required fields a prefilled consumer may still
	// have to type, besides the consents (issue 14).
	most int
}{
	{"us", "/?utm_source=cashcat.ph&action_token=usdemo0000000001", 22},
	{"es", "/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001", 11},
}

// pageHeight is the height of the whole page as it scrolls.
func pageHeight(t *testing.T, ctx context.Context) int {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatalf("page height: %v", err)
	}
	return h
}

// shownStep is the key of the step shown, waiting for the step UI.
func shownStep(t *testing.T, ctx context.Context) string {
	t.Helper()
	key, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const s = document.querySelectorAll('form.js-steps .step:not([hidden])');
	  return s.length === 1 ? s[0].dataset.stepKey : ""; })()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("no single step shows: %v", err)
	}
	return key
}

// stepKeys are the keys of the form's steps, in order.
func stepKeys(t *testing.T, ctx context.Context) []string {
	t.Helper()
	keys, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('form.apply .step')].map(s => s.dataset.stepKey)`))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// waitStep waits until the step with key shows.
func waitStep(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const s = document.querySelectorAll('form.js-steps .step:not([hidden])');
	  return s.length === 1 && s[0].dataset.stepKey === `+"`"+key+"`"+`; })()`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("step %s never showed (shown: %s): %v", key, shownNow(ctx), err)
	}
}

// shownNow is the key of the step shown, for a failure's message.
func shownNow(ctx context.Context) string {
	key, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('form.apply .step:not([hidden])')].map(s => s.dataset.stepKey).join(",")`))
	return key
}

// toTypeJS counts what the page asks a consumer to type: every required
// control still empty (a radio group once, a select on its placeholder),
// on any step, but not a consent (a checkbox is a click, not typing).
const toTypeJS = `(() => {
  const seen = new Set(), out = [];
  for (const c of document.querySelector('form.apply').elements) {
    if (!c.name || !c.required || c.type === 'hidden' || c.type === 'checkbox' || seen.has(c.name)) continue;
    seen.add(c.name);
    const empty = c.type === 'radio' ? !document.querySelector('form.apply [name="' + c.name + '"]:checked') : c.value === '';
    if (empty) out.push(c.name);
  }
  return out;
})()`

// TestBrowserStepHeights opens each flow of the repository's sandbox
// config with a prefilled token and measures the page with each step
// shown: at most 1.5 screens (1,266 px at 390×844), the review step
// included. The sandbox's "Fill with test values" box is taken off the
// page before measuring: a lender's real page has none (its own height is
// logged). It also counts the required fields the prefilled consumer
// still has to type, as the page shows them: at most 22 (us), 11 (es).
func TestBrowserStepHeights(t *testing.T) {
	t.Parallel()
	g := startReadme(t)
	for _, fl := range flowLinks {
		t.Run(fl.flow, func(t *testing.T) {
			ctx := chromium(t)
			openPage(t, ctx, g.URL+fl.link)
			keys := stepKeys(t, ctx)
			waitStep(t, ctx, keys[0])
			noSqueezedText(t, ctx, fl.flow+" step 1 as it opens")
			left, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](toTypeJS))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d required fields to type: %s", fl.flow, len(left), strings.Join(left, " "))
			if len(left) > fl.most {
				t.Errorf("%s: %d required fields to type after prefill, want at most %d: %v", fl.flow, len(left), fl.most, left)
			}
			box, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('.test-fill').getBoundingClientRect().height`))
			if err != nil {
				t.Fatal(err)
			}
			withBox := pageHeight(t, ctx)
			// The test values fill the later steps, so that Next lets go.
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#test-fill`))); err != nil {
				t.Fatal(err)
			}
			waitStep(t, ctx, keys[len(keys)-1])
			if err := chromedp.Do(ctx, script(`document.querySelector('.test-fill').remove()`),
				chromedp.Click(chromedp.CSS(`.review [data-goto="0"]`))); err != nil {
				t.Fatal(err)
			}
			heights := make([]string, 0, len(keys))
			for i, key := range keys {
				if i > 0 {
					next(t, ctx)
				}
				waitStep(t, ctx, key)
				h := pageHeight(t, ctx)
				heights = append(heights, fmt.Sprintf("%s %d", key, h))
				noSqueezedText(t, ctx, fmt.Sprintf("%s step %d (%s)", fl.flow, i+1, key))
				name := fmt.Sprintf("%s-step-%d", fl.flow, i+1)
				if i == len(keys)-1 {
					name = fl.flow + "-review"
				}
				keepShot(t, ctx, name)
				if h > maxStepHeight {
					t.Errorf("%s step %d (%s): the page is %d px tall, want at most %d (1.5 screens)", fl.flow, i+1, key, h, maxStepHeight)
				}
			}
			// Every group of the review opened: longer, by the consumer's choice.
			if err := chromedp.Do(ctx, script(`document.querySelectorAll('.review details').forEach(d => d.open = true)`)); err != nil {
				t.Fatal(err)
			}
			open := pageHeight(t, ctx) // laid out again before the screenshot
			keepShot(t, ctx, fl.flow+"-review-open")
			t.Logf("%s: page height per step at 390×844: %s; the review with every group open %d (the sandbox box adds %d px; step 1 with it: %d)",
				fl.flow, strings.Join(heights, ", "), open, box, withBox)
		})
	}
}

// squeezedJS lists the visible texts of the form of three words or more
// laid out in a column under 100 px wide over three lines or more: a hint
// beside a long label in a flex row once read "Your / home / state / if /
// you ...", a word a line.
const squeezedJS = `[...document.querySelectorAll('form p, form span, form label, form legend, form a')]
	.filter(e => {
		if (e.getClientRects().length === 0 || e.textContent.trim().split(/\s+/).length < 3) return false;
		const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
		const line = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.2;
		return r.width < 100 && r.height > 2.5 * line;
	})
	.map(e => e.className + ": " + e.textContent.trim())`

func noSqueezedText(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	narrow, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](squeezedJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(narrow) > 0 {
		t.Errorf("%s: text squeezed into a column under 100 px: %q", where, narrow)
	}
}

// screenshotsTo is where LEADGATE_SCREENSHOTS asks for the steps'
// screenshots ("" when not set): the committed ones are rewritten only on
// purpose.
func screenshotsTo() string { return os.Getenv("LEADGATE_SCREENSHOTS") }

// keepShot writes a full-page screenshot as name.png into the folder
// LEADGATE_SCREENSHOTS names, and does nothing when it is not set.
func keepShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := screenshotsTo()
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}

// answer is what a person gives for one field: keys typed into it, or
// the value of the option or radio picked.
type answer struct {
	name, keys, pick string
	// want is the field's value afterwards when it is not keys (a date
	// typed as the browser shows it).
	want string
}

// value is what the field holds once answered.
func (a answer) value() string {
	switch {
	case a.want != "":
		return a.want
	case a.pick != "":
		return a.pick
	}
	return a.keys
}

// sel is the CSS selector of the answer's field (its radio, for a pick
// of a radio).
func (a answer) sel() string { return `form.apply [name="` + a.name + `"]` }

// give answers on the step shown as a person does: keys typed one by one
// into the field, a tap on a radio, an option picked from a list (and
// the change event a person's pick fires).
func give(t *testing.T, ctx context.Context, answers ...answer) {
	t.Helper()
	for _, a := range answers {
		var act chromedp.Action[chromedp.Void]
		switch {
		case a.keys != "":
			act = chromedp.SendKeys(chromedp.CSS(a.sel()), a.keys)
		case isRadio(t, ctx, a):
			act = chromedp.Click(chromedp.CSS(a.sel() + `[value="` + a.pick + `"]`))
		default:
			act = chromedp.Steps(chromedp.SetValue(chromedp.CSS(a.sel()), a.pick),
				script(`document.querySelector('`+a.sel()+`').dispatchEvent(new Event('change', {bubbles: true}))`))
		}
		if err := chromedp.Do(ctx, act); err != nil {
			t.Fatalf("answering %s: %v", a.name, err)
		}
	}
}

// isRadio says whether the answer's field is a radio group.
func isRadio(t *testing.T, ctx context.Context, a answer) bool {
	t.Helper()
	radio, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+a.sel()+`').type === 'radio'`))
	if err != nil {
		t.Fatalf("the field %s: %v", a.name, err)
	}
	return radio
}

// checkAnswers fails on every answered field that no longer holds its value.
func checkAnswers(t *testing.T, ctx context.Context, when string, answers ...answer) {
	t.Helper()
	for _, a := range answers {
		js := `document.querySelector('` + a.sel() + `').value`
		if isRadio(t, ctx, a) {
			js = `(document.querySelector('` + a.sel() + `:checked') || {}).value || ""`
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil || got != a.value() {
			t.Errorf("%s: %s holds %q (%v), want %q", when, a.name, got, err, a.value())
		}
	}
}

// walkStep is one step of a walk: its key and what the person gives on it.
type walkStep struct {
	key     string
	answers []answer
}

// historyMove moves through the tab's own history by delta entries, as
// the browser's Back and Forward buttons do (chromedp.NavigateBack waits
// for a page load, which a step's history entry never has).
func historyMove(t *testing.T, ctx context.Context, delta int64) {
	t.Helper()
	h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	i := h.CurrentIndex + delta
	if i < 0 || i >= int64(len(h.Entries)) {
		t.Fatalf("history has no entry %d (at %d of %d)", i, h.CurrentIndex, len(h.Entries))
	}
	if _, err := chromedp.Call(ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[i].ID}); err != nil {
		t.Fatal(err)
	}
}

// walk goes through a flow's steps as a person does: types each step's
// answers, presses Next; on the second step presses Back and Next; on the
// third uses the browser's Back and Forward; then reloads and finds every
// value and the step. axe-core checks every step. It ends on the review.
func walk(t *testing.T, g *instance, ctx context.Context, axeSrc string, steps []walkStep) {
	t.Helper()
	var given []answer
	for i, st := range steps {
		waitStep(t, ctx, st.key)
		axe(t, ctx, axeSrc, "step "+st.key)
		give(t, ctx, st.answers...)
		given = append(given, st.answers...)
		switch i {
		case 1: // Back and Next, the page's own buttons
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply .step:not([hidden]) [data-back]`))); err != nil {
				t.Fatalf("pressing Back: %v", err)
			}
			waitStep(t, ctx, steps[0].key)
			next(t, ctx)
			waitStep(t, ctx, st.key)
		case 2: // the browser's Back and Forward, then a reload
			historyMove(t, ctx, -1)
			waitStep(t, ctx, steps[1].key)
			historyMove(t, ctx, +1)
			waitStep(t, ctx, st.key)
			var typed []string
			for _, a := range given {
				if a.keys != "" {
					typed = append(typed, `value="`+a.value()+`"`)
				}
			}
			waitDraft(t, g, sessionCookie(t, ctx), typed...)
			if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form.apply`))); err != nil {
				t.Fatalf("reloading: %v", err)
			}
			waitStep(t, ctx, st.key)
			checkAnswers(t, ctx, "after a reload", given...)
		}
		if i < len(steps)-1 {
			next(t, ctx)
		}
	}
	checkAnswers(t, ctx, "on the review", given...)
}

// usWalk and esWalk are what a prefilled consumer of each flow types, step
// by step (the rest is prefilled or derived).
func usWalk() []walkStep {
	day := time.Now().AddDate(0, 0, 9).Format("2006-01-02")
	return []walkStep{
		{"you", []answer{{name: "ssn", keys: "876-54-3210"}, {name: "is_citizen", pick: "1"}, {name: "is_military", pick: "0"},
			{name: "drivers_license_number", keys: "D1234567"}}},
		{"contact", []answer{{name: "mobile_phone", keys: "512 555 0134"}, {name: "work_phone", keys: "512 555 0136"},
			{name: "address_line1", keys: "1 Congress Ave"}, {name: "postal_code", keys: "78702"}, {name: "housing", pick: "rent"},
			{name: "months_at_address", keys: "30"}}},
		{"income", []answer{{name: "employment_type", pick: "full_time"}, {name: "employer_name", keys: "Acme Corp"},
			{name: "employer_address", keys: "2 Main St"}, {name: "supervisor_name", keys: "Jane Roe"},
			{name: "employed_since", keys: usDateKeys("2022-03-01"), want: "2022-03-01"}, {name: "pay_frequency", pick: "biweekly"},
			{name: "pay_method", pick: "direct_deposit"}, {name: "next_pay_date", keys: usDateKeys(day), want: day}}},
		{"bank", []answer{{name: "bank_name", keys: "Chase"}, {name: "bank_routing_number", keys: "021000021"},
			{name: "bank_account_number", keys: "12345678"}, {name: "bank_months", keys: "40"}}},
		{"review", nil},
	}
}

func esWalk() []walkStep {
	day := time.Now().AddDate(0, 0, 10).Format("2006-01-02")
	return []walkStep{
		{"you", []answer{{name: "loan_period_days", keys: "30"}, {name: "national_id", keys: "60604016M"}, {name: "marital_status", pick: "single"}}},
		{"contact", []answer{{name: "mobile_phone", keys: "612 345 678"}, {name: "address_line1", keys: "Calle Mayor"},
			{name: "house_number", keys: "5"}, {name: "postal_code", keys: "33560"}, {name: "housing", pick: "rent"}}},
		{"income", []answer{{name: "employed_since", keys: usDateKeys("2020-01-01"), want: "2020-01-01"},
			{name: "monthly_expenses", keys: "600"}, {name: "next_pay_date", keys: usDateKeys(day), want: day}}},
		{"bank", []answer{{name: "iban", keys: "ES50 2080 3294 3387 5223 9563"}}},
		{"review", nil},
	}
}

// TestBrowserWalkSteps: a prefilled consumer of each flow on a phone goes
// through the steps typing key by key, presses Back and Next, uses the
// browser's Back and Forward, reloads half-way and finds every value and
// the step, reviews what will be sent, ticks the consents and Sends:
// "Sending…" at once, then the buyer's page. axe-core finds nothing on any
// step.
func TestBrowserWalkSteps(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	g := start(t, "")
	for _, tt := range []struct {
		flow, link, welcome, sending string
		steps                        []walkStep
		consents                     []string
		secret                       map[string]string // field → what the review shows of it
		units                        []string          // answers the review shows with their units
	}{
		{"us", flowLinks[0].link, "/sandbox/lender/welcome?buyer=Lokyata", "Sending…", usWalk(), []string{"consent_terms", "consent_tcpa"},
			map[string]string{"ssn": "ending in 3210", "bank_account_number": "ending in 5678", "drivers_license_number": "ending in 4567"},
			[]string{"30 months", "40 months"}},
		{"es", flowLinks[1].link, "/sandbox/lender/welcome?buyer=Casheddy", "Enviando…", esWalk(), []string{"consent_terms", "consent_marketing"},
			map[string]string{"iban": "terminado en 9563", "national_id": "terminado en 016M"},
			[]string{"30 días", "600 €"}},
	} {
		t.Run(tt.flow, func(t *testing.T) {
			ctx := chromium(t)
			openPage(t, ctx, g.URL+tt.link)
			walk(t, g, ctx, src, tt.steps)
			// Every group opened: what a consumer checking it reads.
			if err := chromedp.Do(ctx, script(`document.querySelectorAll('.review details').forEach(d => d.open = true)`)); err != nil {
				t.Fatal(err)
			}
			review := text(t, ctx, `form.apply .review`)
			for _, st := range tt.steps {
				for _, a := range st.answers {
					if a.keys == "" || a.want != "" {
						continue
					}
					// A bank account or an SSN shows only its end.
					if ending, secret := tt.secret[a.name]; secret {
						if !strings.Contains(review, ending) || strings.Contains(review, a.keys) {
							t.Errorf("the review shows %s as %q, want only %q: %s", a.name, a.keys, ending, review)
						}
					} else if !strings.Contains(review, a.keys) {
						t.Errorf("the review does not list %s (%q): %s", a.name, a.keys, review)
					}
				}
			}
			for _, u := range tt.units {
				if !strings.Contains(review, u) {
					t.Errorf("the review does not show %q, an answer with its unit: %s", u, review)
				}
			}
			// Each box's label is its tap target: 44 px high, from the box's edge.
			tapTargets(t, ctx, "the review's boxes", `form.apply .step:not([hidden]) .kind-checkbox label`, len(tt.consents))
			gaps, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('form.apply .step:not([hidden]) .kind-checkbox')].map(f =>
			  f.querySelector('label').getBoundingClientRect().left - f.querySelector('input').getBoundingClientRect().right)`))
			for _, g := range gaps {
				if err != nil || g > 1 {
					t.Errorf("a gap of %.0f px between a box and its label (%v): a tap there does nothing", g, err)
				}
			}
			tick(t, ctx, tt.consents...)
			axe(t, ctx, src, "review, consents ticked")
			// The button says it is sending as the request leaves: noted
			// by a listener after the page's own, kept in the tab's
			// sessionStorage for the buyer's page (same origin here).
			if err := chromedp.Do(ctx, script(`document.querySelector('form.apply').addEventListener('submit', e => {
			  const b = e.target.querySelector('button.send'); sessionStorage.setItem('said', b.textContent + (b.disabled ? ' disabled' : '')); })`)); err != nil {
				t.Fatal(err)
			}
			send(t, ctx)
			waitLocation(t, ctx, tt.welcome, 30*time.Second)
			said, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('said') || ''`))
			if err != nil || said != tt.sending+" disabled" {
				t.Errorf("on Send the button said %q (%v), want %q and disabled", said, err, tt.sending)
			}
		})
	}
}

// A field shown wrong loses its message, its aria-invalid and its line in
// the step's summary as soon as the consumer corrects it, without waiting
// for Next; the other mistakes of the step stay until they are corrected.
func TestBrowserErrorGoesWhenCorrected(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	ctx := chromium(t)
	openPage(t, ctx, g.URL+flowLinks[0].link)
	keys := stepKeys(t, ctx)
	waitStep(t, ctx, keys[0])
	replace(t, ctx, "ssn", "123")
	next(t, ctx)
	state := func() string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		  const c = document.querySelector('form.apply [name="ssn"]'), a = document.querySelector('.step:not([hidden]) .step-alert');
		  return [c.closest('.field').classList.contains('has-error'), c.getAttribute('aria-invalid'), !!document.getElementById(c.id + '-error'),
		    a ? [...a.querySelectorAll('li a')].map(x => x.getAttribute('href')).join(' ') : 'no summary'].join('|'); })()`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := state(); !strings.HasPrefix(got, "true|true|true|") || !strings.Contains(got, "#f-ssn") {
		t.Fatalf("after Next with SSN 123: %s, want the error shown and summarised", got)
	}
	replace(t, ctx, "ssn", "876543210")
	if got := state(); !strings.HasPrefix(got, "false||false|") || strings.Contains(got, "#f-ssn") {
		t.Errorf("after correcting the SSN: %s, want no error and no summary line for it", got)
	}
	waitStep(t, ctx, keys[0]) // still on the step: nothing moved on by itself
}

// TestBrowserShortNameCountsWithoutSpaces: the server trims a name before
// its length is counted (Casheddy's min:3), so the page does too: " Li",
// three characters as typed, is too short at Next, in the catalog's words,
// not after Send.
func TestBrowserShortNameCountsWithoutSpaces(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	ctx := chromium(t)
	openPage(t, ctx, g.URL+flowLinks[1].link)
	// The prefilled name shows on its card: Change opens it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply .confirm [data-expand]`))); err != nil {
		t.Fatal(err)
	}
	replace(t, ctx, "last_name", " Li")
	next(t, ctx)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.getElementById('f-last_name-error')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("Next with the last name \" Li\": no error beside it (step shown: %s): %v", shownNow(ctx), err)
	}
	want, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('form.apply [name="last_name"]').getAttribute('data-m-short')`))
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, `#f-last_name-error`); want == "" || got != want {
		t.Errorf("error beside the last name %q, want the catalog's %q", got, want)
	}
	replace(t, ctx, "last_name", " Lia ")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#f-last_name-error').length`)); err != nil || n != 0 {
		t.Errorf("after typing \" Lia \": %d errors beside the last name (%v), want none", n, err)
	}
}

// replace empties a field and types keys into it, on its step.
func replace(t *testing.T, ctx context.Context, name, keys string) {
	t.Helper()
	sel := `form.apply [name="` + name + `"]`
	if err := chromedp.Do(ctx, onStep(sel, chromedp.Steps(clearField(sel), chromedp.SendKeys(chromedp.CSS(sel), keys)))); err != nil {
		t.Fatalf("typing into %s: %v", name, err)
	}
}

// tickAll ticks the consents not ticked yet.
func tickAll(t *testing.T, ctx context.Context, names ...string) {
	t.Helper()
	for _, n := range names {
		on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('form.apply [name="`+n+`"]').checked`))
		if err != nil {
			t.Fatal(err)
		}
		if !on {
			tick(t, ctx, n)
		}
	}
}

// serverErrorJS says what a person sees after a 422: the page title, the
// element with the focus, the error beside the field.
const serverErrorJS = `(() => ({title: document.title, focus: document.activeElement ? document.activeElement.id : "",
  beside: (document.getElementById("f-%s-error") || {}).textContent || "",
  shown: !!(document.getElementById("f-%s") || {}).offsetParent}))()`

type serverError struct {
	Title, Focus, Beside string
	Shown                bool
}

// expect422 waits for the form to come back with its errors, and checks
// what a person sees: "Error: " first in the title, the focus on the
// summary, the field's own error beside it, shown.
func expect422(t *testing.T, ctx context.Context, field string) serverError {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#form-alert`))); err != nil {
		t.Fatalf("no error summary: %v", err)
	}
	// Polled from here, not by a page script: without JavaScript none runs.
	var got serverError
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[serverError](fmt.Sprintf(serverErrorJS, field, field)))
		if err != nil {
			t.Fatal(err)
		}
		if got.Focus == "form-alert" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the focus is on %q, want the error summary", got.Focus)
			break
		}
	}
	if !strings.HasPrefix(got.Title, "Error: ") {
		t.Errorf("title %q, want it to start with Error: ", got.Title)
	}
	if got.Beside == "" || !got.Shown {
		t.Errorf("%s: error beside it %q, field shown %v; want both", field, got.Beside, got.Shown)
	}
	tapTargets(t, ctx, "the error summary", `#form-alert li a`, 1)
	return got
}

// TestBrowserServerErrorOpensItsStep: a value the page's own check lets
// through and the server refuses (a routing number whose checksum is
// wrong, a DNI with the wrong control letter) comes back as a 422 on the
// step of the first error, the summary focused and the title starting
// "Error: " (es too: the word is the same). Corrected, it goes to the buyer.
func TestBrowserServerErrorOpensItsStep(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	g := start(t, "")
	for _, tt := range []struct {
		flow, link, field, bad, good, step, welcome, message string
		consents                                             []string
	}{
		{"us", flowLinks[0].link, "bank_routing_number", "021000022", "021000021", "bank", "/sandbox/lender/welcome?buyer=Lokyata",
			"This routing number is not correct. Check the digits.", []string{"consent_terms"}},
		{"es", flowLinks[1].link, "national_id", "60604016A", "60604016M", "you", "/sandbox/lender/welcome?buyer=Casheddy",
			"La letra no corresponde al número. Revisa tu DNI o NIE.", []string{"consent_terms", "consent_marketing"}},
		{"es", flowLinks[1].link, "iban", "ES50 2080 3294 3387 5223 9564", "ES50 2080 3294 3387 5223 9563", "bank", "/sandbox/lender/welcome?buyer=Casheddy",
			"Este IBAN no es correcto. Revisa las cifras.", []string{"consent_terms", "consent_marketing"}},
	} {
		t.Run(tt.flow+"-"+tt.field, func(t *testing.T) {
			ctx := chromium(t)
			openPage(t, ctx, g.URL+tt.link)
			// The sandbox's test values for the rest; the bad one typed.
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#test-fill`))); err != nil {
				t.Fatal(err)
			}
			replace(t, ctx, tt.field, tt.bad)
			// The page's own checksum finds it at Next: the step stays,
			// the message beside the field.
			next(t, ctx)
			if got := shownStep(t, ctx); got != tt.step {
				t.Errorf("after Next the step shown is %s, want %s (the mistake's)", got, tt.step)
			}
			said, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("f-`+tt.field+`-error") || {}).textContent || ""`))
			if err != nil || said != tt.message {
				t.Errorf("the page's check: beside the field %q (%v), want %q", said, err, tt.message)
			}
			// A page whose script lets it through (an older copy, kept by a
			// cache): the server's 422 opens the step of the first error.
			if err := chromedp.Do(ctx, script(`document.querySelector('form.apply [name="`+tt.field+`"]').removeAttribute('data-check')`)); err != nil {
				t.Fatal(err)
			}
			tickAll(t, ctx, tt.consents...)
			send(t, ctx)
			expect422(t, ctx, tt.field)
			if got := shownStep(t, ctx); got != tt.step {
				t.Errorf("after the 422 the step shown is %s, want %s (the first error's)", got, tt.step)
			}
			axe(t, ctx, src, "422")
			if tt.field != "iban" { // one shot a flow
				keepShot(t, ctx, tt.flow+"-422")
			}
			replace(t, ctx, tt.field, tt.good)
			tickAll(t, ctx, tt.consents...)
			send(t, ctx)
			waitLocation(t, ctx, tt.welcome, 30*time.Second)
		})
	}
}

// noScript turns the tab's JavaScript off (on again with off false), as
// a browser with it disabled.
func noScript(t *testing.T, ctx context.Context, off bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off}); err != nil {
		t.Fatal(err)
	}
}

// axeNoScript runs axe-core on a page loaded without JavaScript: axe-core
// needs timers, so scripts run again for it alone (the page's own ran at
// load or never, and do not run now).
func axeNoScript(t *testing.T, ctx context.Context, src, page string) {
	t.Helper()
	noScript(t, ctx, false)
	axe(t, ctx, src, page)
	noScript(t, ctx, true)
}

// TestBrowserStepsWithoutJavaScript: with JavaScript off the form is one
// page, every step and field shown, no progress bar or Next; a consumer
// types everything, a value only the server refuses comes back as a 422
// with the summary focused ("Error: " title) and every value kept; the
// corrected form goes to the buyer. axe-core finds nothing on the page
// nor on its 422 state.
func TestBrowserStepsWithoutJavaScript(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	g := start(t, "")
	for _, tt := range []struct {
		flow, link, field, bad, good, welcome string
		steps                                 []walkStep
		consents                              []string
	}{
		{"us", flowLinks[0].link, "bank_routing_number", "021000022", "021000021", "/sandbox/lender/welcome?buyer=Lokyata", usWalk(), []string{"consent_terms"}},
		{"es", flowLinks[1].link, "iban", "ES00 2080 3294 3387 5223 9563", "ES50 2080 3294 3387 5223 9563", "/sandbox/lender/welcome?buyer=Casheddy", esWalk(), []string{"consent_terms", "consent_marketing"}},
	} {
		t.Run(tt.flow, func(t *testing.T) {
			ctx := chromium(t)
			noScript(t, ctx, true)
			openPage(t, ctx, g.URL+tt.link)
			layout, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('form.apply .step').length,
			  [...document.querySelectorAll('form.apply .step')].filter(s => s.offsetParent).length,
			  [...document.querySelectorAll('form.apply [data-next], form.apply .progress')].filter(e => e.offsetParent).length,
			  [...document.querySelectorAll('form.apply input:not([type=hidden]), form.apply select')].filter(e => !e.offsetParent).length]`))
			if err != nil {
				t.Fatal(err)
			}
			if layout[0] < 2 || layout[1] != layout[0] || layout[2] != 0 || layout[3] != 0 {
				t.Errorf("without JavaScript: %d steps, %d shown, %d Next buttons or progress bars shown, %d fields hidden; want every step and field shown, no Next",
					layout[0], layout[1], layout[2], layout[3])
			}
			axeNoScript(t, ctx, src, "one page")
			var given []answer
			for _, st := range tt.steps {
				for _, a := range st.answers {
					if a.name == tt.field {
						a = answer{name: a.name, keys: tt.bad}
					}
					given = append(given, a)
				}
			}
			give(t, ctx, given...)
			for _, n := range tt.consents {
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply [name="`+n+`"]`))); err != nil {
					t.Fatal(err)
				}
			}
			send(t, ctx)
			expect422(t, ctx, tt.field)
			checkAnswers(t, ctx, "after the 422", given...)
			axeNoScript(t, ctx, src, "422 without JavaScript")
			keepShot(t, ctx, tt.flow+"-nojs-422")
			replace(t, ctx, tt.field, tt.good)
			for _, n := range tt.consents {
				if on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('form.apply [name="`+n+`"]').checked`)); !on {
					if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply [name="`+n+`"]`))); err != nil {
						t.Fatal(err)
					}
				}
			}
			send(t, ctx)
			waitLocation(t, ctx, tt.welcome, 30*time.Second)
		})
	}
}

// A one-page variant checks the form as the steps do, in the form's own
// words, not with the browser's bubble in the browser's language: Send
// with mistakes shows each beside its field and in a summary that takes
// the focus, and sends nothing; a mistake corrected loses its message.
func TestBrowserOnePageChecksInTheFormsWords(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(t.TempDir(), "l.db")), `    match: { utm_campaign: ["es-*"] }`,
		`    match: { utm_campaign: ["es-*"] }
    variants: [{name: a, weight: 0}, {name: b, weight: 100, layout: one_page}]`, 1)
	g := start(t, cfg)
	ctx := chromium(t)
	openPage(t, ctx, g.URL+flowLinks[1].link)
	before := location(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-consent_terms-error`))); err != nil {
		t.Fatalf("Send with the terms not accepted: no error beside them: %v", err)
	}
	type state struct {
		Stepped, Focused bool
		Beside, Want     string
		Lines            []string
	}
	read := func() state {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[state](`(() => {
		  const c = document.querySelector('form.apply [name="consent_terms"]'), a = document.querySelector('form.apply .step-alert');
		  return {stepped: document.querySelector('form.apply').classList.contains('stepped'),
		    focused: !!a && document.activeElement === a,
		    beside: (document.getElementById('f-consent_terms-error') || {}).textContent || '',
		    want: c.getAttribute('data-m-missing'),
		    lines: a ? [...a.querySelectorAll('li a')].map(x => x.getAttribute('href')) : []}; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := read()
	if got.Stepped || !got.Focused || got.Beside == "" || got.Beside != got.Want || !slices.Contains(got.Lines, "#f-consent_terms") {
		t.Errorf("after Send: %+v, want a one-page form, the catalog's message beside the terms, and a focused summary naming them", got)
	}
	if loc := location(t, ctx); loc != before {
		t.Errorf("the form was sent: now at %s", loc)
	}
	shot(t, ctx, "one-page-errors")
	tapTargets(t, ctx, "the summary", `.step-alert li a, .skip`, 3)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply [name="consent_terms"]`))); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Beside != "" || slices.Contains(got.Lines, "#f-consent_terms") {
		t.Errorf("after ticking the terms: %+v, want their message and summary line gone", got)
	}
	if n := calls(t, g, "casheddy:lead/send"); n != 0 {
		t.Errorf("a buyer was posted %d times", n)
	}
}
