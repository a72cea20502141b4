package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
				name := fmt.Sprintf("%s-step-%d", fl.flow, i+1)
				if i == len(keys)-1 {
					name = fl.flow + "-review"
				}
				keepShot(t, ctx, name)
				if h > maxStepHeight {
					t.Errorf("%s step %d (%s): the page is %d px tall, want at most %d (1.5 screens)", fl.flow, i+1, key, h, maxStepHeight)
				}
			}
			t.Logf("%s: page height per step at 390×844: %s (the sandbox box adds %d px; step 1 with it: %d)",
				fl.flow, strings.Join(heights, ", "), box, withBox)
		})
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
