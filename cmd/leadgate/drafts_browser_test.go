package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// buyerCalls counts the sandbox emulators' calls of every buyer and the
// CRM ("buyer:endpoint"; Cashcat's, counted by token, left out).
func buyerCalls(t *testing.T, g *instance) int {
	t.Helper()
	n := 0
	for key, c := range sandboxCalls(t, g.URL) {
		if strings.Contains(key, ":") {
			n += c
		}
	}
	return n
}

// sessionCookie is the browser's session cookie (HttpOnly: read through
// the DevTools protocol, as no page script can).
func sessionCookie(t *testing.T, ctx context.Context) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		for _, c := range res.Cookies {
			if c.Name == "leadgate" {
				found = &http.Cookie{Name: c.Name, Value: c.Value}
			}
		}
		return err
	}))
	if err != nil || found == nil {
		t.Fatalf("the session cookie: %v", err)
	}
	return found
}

// waitDraft waits until the form served to the session cookie holds every
// one of want: the draft was saved.
func waitDraft(t *testing.T, g *instance, cookie *http.Cookie, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", g.URL+"/", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the draft never held %s", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSignals waits until the store's one draft holds the steps reached
// and the last field touched, and was left (its pagehide beacon).
func waitSignals(t *testing.T, path, steps, field string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var gotSteps, gotField string
	var left int64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err = db.QueryRow(`SELECT steps, last_field, left_at FROM drafts`).Scan(&gotSteps, &gotField, &left)
		if err == nil && gotSteps == steps && gotField == field && left != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the draft's signals: got steps %q, last field %q, left at %d (%v); want %q, %q, left", gotSteps, gotField, left, err, steps, field)
		}
	}
}

// step tells draft.js the step shown, as the step UI does.
func step(key string) chromedp.Action[chromedp.Void] {
	return script(`document.querySelector('form.apply').dispatchEvent(new CustomEvent('leadgate:step', {detail: {step: '` + key + `'}}))`)
}

// TestBrowserDraftRestored: a consumer types part of the form on a phone,
// reloads, and finds every value and the step; a new tab with the same
// session finds them too. Nothing is kept in the browser or the URL,
// a consent is never restored ticked, and no buyer hears of a draft.
func TestBrowserDraftRestored(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "l.db")
	g := start(t, fmt.Sprintf(baseConfig, db))
	ctx := chromium(t)
	openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	typed := map[string]string{
		`[name="ssn"]`:                    "876-54-3210",
		`[name="drivers_license_number"]`: "D1234567",
		`[name="email"]`:                  "john+draft@example.com",
		`[name="mobile_phone"]`:           "(512) 555-0134",
		`[name="employer_name"]`:          "Acme Corp",
	}
	err := chromedp.Do(ctx,
		step("you"), // the step UI's event on load: not a change
		typeInto(`[name="ssn"]`, typed[`[name="ssn"]`]),
		chromedp.Click(chromedp.CSS(`[name="is_citizen"][value="1"]`)),
		typeInto(`[name="drivers_license_number"]`, typed[`[name="drivers_license_number"]`]),
		// The rest of the first step, so that Next lets the consumer on.
		chromedp.Click(chromedp.CSS(`[name="is_military"][value="0"]`)),
		chromedp.SetValue(chromedp.CSS(`[name="drivers_license_state"]`), "TX"),
		step("contact"),
		clearField(`[name="email"]`), typeInto(`[name="email"]`, typed[`[name="email"]`]),
		typeInto(`[name="mobile_phone"]`, typed[`[name="mobile_phone"]`]),
		step("income"),
		// On a step the steps UI would not open yet (contact is half
		// done): written as typing does, for draft.js.
		script(`const e = document.querySelector('[name="employer_name"]'); e.value = 'Acme Corp';
			e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}))`),
		// The consent is on the last step, past steps left empty: ticked
		// as a click does, for the draft to leave it out.
		script(`const c = document.querySelector('[name="consent_terms"]'); c.checked = true;
			c.dispatchEvent(new Event('change', {bubbles: true}))`),
	)
	if err != nil {
		t.Fatal(err)
	}
	cookie := sessionCookie(t, ctx)
	waitDraft(t, g, cookie, `value="Acme Corp"`, `data-step="income"`)
	shot(t, ctx, "1-typed")

	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form.apply`))); err != nil {
		t.Fatal(err)
	}
	checkRestored := func(ctx context.Context, where, wantStep string) {
		for sel, want := range typed {
			if got := value(t, ctx, sel); got != want {
				t.Errorf("%s: %s is %q, want %q", where, sel, got, want)
			}
		}
		// One script reads what the page holds: a JSON string of it.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([
			document.querySelector('[name="is_citizen"][value="1"]').checked,
			document.querySelector('[name="consent_terms"]').checked,
			document.querySelector('form.apply').getAttribute('data-step') || '',
			localStorage.length + sessionStorage.length])`))
		if err != nil {
			t.Fatal(err)
		}
		var page []any
		json.Unmarshal([]byte(got), &page)
		citizen, consent, stepAttr, stored := page[0] == true, page[1] == true, page[2], page[3]
		if !citizen || consent || stepAttr != wantStep || stored != 0.0 {
			t.Errorf("%s: citizen %v, consent %v, step %q, %d items in web storage; want the radio, no consent, %s, none",
				where, citizen, consent, stepAttr, stored, wantStep)
		}
		if loc := location(t, ctx); strings.Contains(loc, "876") || strings.Contains(loc, "draft") {
			t.Errorf("%s: personal data in the URL %s", where, loc)
		}
	}
	checkRestored(ctx, "after a reload", "income")
	shot(t, ctx, "2-reloaded")
	// The step funnel's signals, as stored: the steps reached, the last
	// field the consumer touched (the mobile phone: not the home phone
	// derive.js filled from it, nor what this test's scripts wrote), and
	// the reload's pagehide beacon.
	waitSignals(t, db, "you contact income", "mobile_phone")

	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	openPage(t, tab, g.URL+"/")
	// The reload opened the step history held (contact: the steps UI
	// never left it), and the draft followed the step shown.
	checkRestored(tab, "in a new tab", "contact")
	shot(t, tab, "3-new-tab")

	if n := buyerCalls(t, g); n != 0 {
		t.Errorf("buyers or the CRM were called %d times before Send", n)
	}
}

// TestBrowserDraftSavedAfterABlockedSend: a Send the page's own checks
// stop (the terms not accepted) sends nothing, so the form is still being
// filled: what the consumer changes next is saved as before, and a reload
// brings back the new value, not the one from before the Send.
func TestBrowserDraftSavedAfterABlockedSend(t *testing.T) {
	t.Parallel()
	g := start(t, fmt.Sprintf(baseConfig, filepath.Join(t.TempDir(), "l.db")))
	ctx := chromium(t)
	openPage(t, ctx, g.URL+flowLinks[0].link)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#test-fill`))); err != nil {
		t.Fatal(err)
	}
	send(t, ctx) // the terms unticked: the page stops it
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.getElementById('f-consent_terms-error')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("Send with the terms unticked: no error beside them: %v", err)
	}
	replace(t, ctx, "employer_name", "Blocked Send Corp")
	waitDraft(t, g, sessionCookie(t, ctx), `value="Blocked Send Corp"`)
	if n := buyerCalls(t, g); n != 0 {
		t.Errorf("buyers or the CRM were called %d times", n)
	}
}
