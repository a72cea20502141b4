package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/leadgate/leadgate/gateway/testenv"
	astoriaemu "github.com/leadgate/leadgate/providers/astoria/emulator"
	lokyataemu "github.com/leadgate/leadgate/providers/lokyata/emulator"
)

// Screenshots of every page the browser tests visit are written here
// (README, "Tests"), to be looked at by a person.
const screenshotDir = "testdata/screenshots"

// chromiumPath is Debian's Chromium (LEADGATE_CHROMIUM, or
// /usr/bin/chromium); the test skips (fails under CI=true) when it is not
// installed.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LEADGATE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := "Chromium is not installed at " + path + ": apt-get install chromium, or set LEADGATE_CHROMIUM"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// chromium starts a headless Debian Chromium at a phone's viewport, or
// skips (fails under CI=true) when it is not installed.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		// Without these Chromium reaches for the network this machine does
		// not have, and waits.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	ctx, cancelC := chromedp.NewContext(actx)
	// Generous: a walk through every step types key by key on a loaded
	// 2-core machine.
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	// A phone: 390×844, touch, mobile.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shot writes a full-page screenshot named after the test and step.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(screenshotDir, 0o755)
	file := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + name + ".png"
	if err := os.WriteFile(filepath.Join(screenshotDir, file), png, 0o644); err != nil {
		t.Error(err)
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// waitLocation waits until the page's URL contains want.
func waitLocation(t *testing.T, ctx context.Context, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		loc := location(t, ctx)
		if strings.Contains(loc, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page stayed at %s, want %s", loc, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openPage navigates to url and waits for its form.
func openPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`form.apply`))); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
}

// typeInto types text into an input as a person does, key by key, on
// the input's step (reach).
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return onStep(sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// onStep does act once the element at sel is on the step shown: the form
// in steps shows one at a time, and a person presses Next or Back to get
// there (the buttons pressed here through the page; steps_test.go walks
// them with real taps).
func onStep(sel string, act chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		// Asked of the DOM, not of a script: without JavaScript every
		// step shows, and a script would never answer.
		class, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`form.apply`), "class"))
		if err != nil || !strings.Contains(class.Value, "js-steps") {
			return chromedp.Do(ctx, act)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](reachJS(sel), chromedp.EvalAwaitPromise)); err != nil {
			return fmt.Errorf("reaching the step of %s: %w", sel, err)
		}
		return chromedp.Do(ctx, act)
	})
}

// reachJS presses Next or Back until the element at sel shows; false
// when a step refuses to let go (its own errors show).
func reachJS(sel string) string {
	return `(async () => {
	  const el = document.querySelector(` + "`" + sel + "`" + `);
	  const steps = [...document.querySelectorAll('form.apply .step')];
	  for (let n = 0; n < 12; n++) {
	    const want = steps.indexOf(el && el.closest('.step'));
	    const cur = steps.findIndex(s => !s.hidden);
	    if (want < 0 || cur < 0 || want === cur) return true;
	    const b = steps[cur].querySelector(want > cur ? '[data-next]' : '[data-back]');
	    if (!b) return false;
	    b.click();
	    await new Promise(r => setTimeout(r, 30));
	  }
	  return false;
	})()`
}

// clearField empties an input, as selecting its text and deleting does.
func clearField(sel string) chromedp.Action[chromedp.Void] {
	return script(`document.querySelector('` + sel + `').value = ''`)
}

// script runs js in the page as a step.
func script(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		return err
	})
}

func value(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// usDateKeys is how a person types a date into Chromium's en-US date input.
func usDateKeys(ymd string) string {
	d, _ := time.Parse("2006-01-02", ymd)
	return d.Format("01022006")
}

// fillUS completes the us form's empty fields the way a consumer does.
func fillUS(t *testing.T, ctx context.Context, email, zip string) {
	t.Helper()
	day := func(days int) string { return time.Now().AddDate(0, 0, days).Format("2006-01-02") }
	steps := []chromedp.Action[chromedp.Void]{
		typeInto(`[name="ssn"]`, "876-54-3210"),
		chromedp.Click(chromedp.CSS(`[name="is_citizen"][value="1"]`)),
		chromedp.Click(chromedp.CSS(`[name="is_military"][value="0"]`)),
		typeInto(`[name="drivers_license_number"]`, "D1234567"),
		onStep(`[name="email"]`, chromedp.SetValue(chromedp.CSS(`[name="email"]`), emailOr(email))),
		typeInto(`[name="mobile_phone"]`, "(512) 555-0134"),
		typeInto(`[name="work_phone"]`, "512-555-0136"),
		typeInto(`[name="address_line1"]`, "1 Congress Ave"),
		// The state, the licence state, the home phone and the last pay
		// date are derived: by derive.js, or without it by the server.
		typeInto(`[name="postal_code"]`, zip),
		chromedp.SetValue(chromedp.CSS(`[name="housing"]`), "rent"),
		typeInto(`[name="months_at_address"]`, "30"),
		chromedp.SetValue(chromedp.CSS(`[name="employment_type"]`), "full_time"),
		typeInto(`[name="employer_name"]`, "Acme Corp"),
		typeInto(`[name="employer_address"]`, "2 Main St"),
		typeInto(`[name="supervisor_name"]`, "Jane Roe"),
		typeInto(`[name="employed_since"]`, usDateKeys("2022-03-01")),
		chromedp.SetValue(chromedp.CSS(`[name="pay_frequency"]`), "biweekly"),
		chromedp.SetValue(chromedp.CSS(`[name="pay_method"]`), "direct_deposit"),
		typeInto(`[name="next_pay_date"]`, usDateKeys(day(9))),
		typeInto(`[name="bank_name"]`, "Chase"),
		typeInto(`[name="bank_routing_number"]`, "021000021"),
		typeInto(`[name="bank_account_number"]`, "12345678"),
		chromedp.SetValue(chromedp.CSS(`[name="bank_account_type"]`), "checking"),
		typeInto(`[name="bank_months"]`, "40"),
		onStep(`[name="consent_terms"]`, chromedp.Click(chromedp.CSS(`[name="consent_terms"]`))),
		chromedp.Click(chromedp.CSS(`[name="consent_tcpa"]`)),
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("filling the form: %v", err)
	}
}

// emailOr is email, or the prefilled consumer's own.
func emailOr(email string) string {
	if email == "" {
		return "john.smith@example.com"
	}
	return email
}

// send presses Send, on the last step.
func send(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, onStep(`[name="consent_terms"]`, chromedp.Click(chromedp.CSS(`form.apply button[type="submit"]`)))); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserUSJourney: from the Cashcat link to the buyer's page on a
// phone, typing into the form.
func TestBrowserUSJourney(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	ctx := chromium(t)
	openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	if loc := location(t, ctx); strings.Contains(loc, "action_token") {
		t.Errorf("the token is in the address bar: %s", loc)
	}
	if v := value(t, ctx, `[name="first_name"]`); v != "John" {
		t.Errorf("first_name prefilled %q, want John", v)
	}
	shot(t, ctx, "1-form")
	fillUS(t, ctx, "", "78702")
	// derive.js filled what the form derives, as the consumer typed.
	last := time.Now().AddDate(0, 0, 9-14).Format("2006-01-02")
	for sel, want := range map[string]string{`[name="state"]`: "TX", `[name="drivers_license_state"]`: "TX",
		`[name="home_phone"]`: "(512) 555-0134", `[name="last_pay_date"]`: last} {
		if got := value(t, ctx, sel); got != want {
			t.Errorf("derived %s: got %q, want %q", sel, got, want)
		}
	}
	shot(t, ctx, "2-completed")
	send(t, ctx)
	waitLocation(t, ctx, "/sandbox/lender/welcome", 15*time.Second)
	shot(t, ctx, "3-lender")
	if n := calls(t, g, "lokyata:process-lp-lead"); n != 1 {
		t.Errorf("lokyata posts: %d, want 1", n)
	}
}

// TestBrowserSpanishJourney: the es flow on a phone, typed in, to Casheddy.
func TestBrowserSpanishJourney(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	ctx := chromium(t)
	openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001")
	if v := value(t, ctx, `[name="first_name"]`); v != "Lucía" {
		t.Errorf("first_name prefilled %q, want Lucía", v)
	}
	shot(t, ctx, "1-formulario")
	day := time.Now().AddDate(0, 0, 10).Format("2006-01-02")
	err := chromedp.Do(ctx,
		clearField(`[name="loan_period_days"]`), typeInto(`[name="loan_period_days"]`, "30"),
		typeInto(`[name="national_id"]`, "60604016M"),
		chromedp.SetValue(chromedp.CSS(`[name="nationality"]`), "ES"),
		chromedp.SetValue(chromedp.CSS(`[name="marital_status"]`), "single"),
		typeInto(`[name="mobile_phone"]`, "612 345 678"),
		typeInto(`[name="address_line1"]`, "Calle Mayor"),
		typeInto(`[name="house_number"]`, "5"),
		typeInto(`[name="postal_code"]`, "33560"),
		chromedp.SetValue(chromedp.CSS(`[name="housing"]`), "rent"),
		chromedp.SetValue(chromedp.CSS(`[name="income_source"]`), "employed"),
		typeInto(`[name="employed_since"]`, usDateKeys("2020-01-01")),
		clearField(`[name="monthly_income"]`), typeInto(`[name="monthly_income"]`, "1500"),
		typeInto(`[name="monthly_expenses"]`, "600"),
		typeInto(`[name="next_pay_date"]`, usDateKeys(day)),
		typeInto(`[name="iban"]`, "ES50 2080 3294 3387 5223 9563"),
		onStep(`[name="consent_terms"]`, chromedp.Click(chromedp.CSS(`[name="consent_terms"]`))),
		chromedp.Click(chromedp.CSS(`[name="consent_marketing"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "2-completado")
	send(t, ctx)
	waitLocation(t, ctx, "/sandbox/lender/welcome?buyer=Casheddy", 15*time.Second)
	shot(t, ctx, "3-prestamista")
}

// The page catches a wrong value before any request: the form does not
// leave, and the field says why in the catalog's own words (not the
// browser's "Please match the requested format").
func TestBrowserValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	ctx := chromium(t)
	openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	fillUS(t, ctx, "", "78702")
	before := location(t, ctx)
	if err := chromedp.Do(ctx, onStep(`[name="ssn"]`, clearField(`[name="ssn"]`)), typeInto(`[name="ssn"]`, "123")); err != nil {
		t.Fatal(err)
	}
	next(t, ctx)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#f-ssn-error`))); err != nil {
		t.Fatalf("no error beside the SSN: %v", err)
	}
	if msg := text(t, ctx, `#f-ssn-error`); msg != "Enter the 9 digits of your Social Security number." {
		t.Errorf("SSN error %q, want the catalog's message", msg)
	}
	if loc := location(t, ctx); loc != before {
		t.Errorf("the form was sent: now at %s", loc)
	}
	shot(t, ctx, "invalid-ssn")
	if n := calls(t, g, "lokyata:process-lp-lead"); n != 0 {
		t.Errorf("a buyer was posted %d times", n)
	}
}

// next presses the shown step's Next.
func next(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.apply .step:not([hidden]) [data-next]`))); err != nil {
		t.Fatalf("pressing Next: %v", err)
	}
}

// text is the visible text of the element at sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// The waiting page advances to the buyer by itself, with JavaScript (its
// poll) and without (its meta refresh).
func TestBrowserWaitingPage(t *testing.T) {
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")), "submission: { wait: 5s }", "submission: { wait: 200ms }", 1)
			g := start(t, cfg)
			ctx := chromium(t)
			if !js {
				if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
					return err
				})); err != nil {
					t.Fatal(err)
				}
			}
			openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
			fillUS(t, ctx, "w+lokyata-slow@example.com", "78702")
			send(t, ctx)
			waitLocation(t, ctx, "/status/", 10*time.Second)
			shot(t, ctx, "waiting")
			tapTargets(t, ctx, "the waiting page", `a.reload, .skip`, 2)
			waitLocation(t, ctx, "/sandbox/lender/welcome?buyer=Lokyata", 30*time.Second)
		})
	}
}

// tapTargets checks that the elements at sel, at least want of them, are
// each at least 44 px high: what a thumb hits.
func tapTargets(t *testing.T, ctx context.Context, where, sel string, want int) {
	t.Helper()
	type target struct {
		Text   string
		Height float64
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]target](`[...document.querySelectorAll(`+"`"+sel+"`"+`)].map(e =>
	  ({text: e.textContent.trim().slice(0, 40), height: e.getBoundingClientRect().height}))`))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if len(got) < want {
		t.Errorf("%s: %d of %s, want at least %d", where, len(got), sel, want)
	}
	for _, e := range got {
		if e.Height < 44 {
			t.Errorf("%s: %q is %.0f px high, under 44", where, e.Text, e.Height)
		}
	}
}

// startReadme starts the gateway with the repository's own config.yaml,
// as `go run ./cmd/leadgate` does, on a free port instead of 8080 (and
// that port in prefill_api.allowed_origins): what the README's
// walk-through opens. Its URL is http://localhost:PORT, the README's name.
func startReadme(t *testing.T) *instance {
	t.Helper()
	b, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cfg := string(b)
	for _, r := range [][2]string{
		{`addr: ":8080"`, `addr: "127.0.0.1:` + port + `"`},
		{`admin_addr: "127.0.0.1:9090"`, `admin_addr: "127.0.0.1:0"`},
		{`public_url: "http://localhost:8080"`, `public_url: "http://localhost:` + port + `"`},
		{`"http://localhost:8080", "http://127.0.0.1:8080"`, `"http://localhost:` + port + `", "http://127.0.0.1:` + port + `"`},
		{`dsn: "sqlite://leadgate.db"`, `dsn: "sqlite://` + filepath.Join(t.TempDir(), "leadgate.db") + `"`},
	} {
		if strings.Count(cfg, r[0]) != 1 {
			t.Fatalf("config.yaml no longer has %s once: update this test", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	g := start(t, cfg)
	if !strings.HasPrefix(g.URL, "http://localhost:") {
		t.Fatalf("gateway at %s, want the README's http://localhost:PORT", g.URL)
	}
	return g
}

// waitValue waits until the input at sel holds want.
func waitValue(t *testing.T, ctx context.Context, sel, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := value(t, ctx, sel)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, want %q", sel, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserPrefillJS opens the README's own prefill.js demo, served by
// the gateway: a lender's form on localhost that loads prefill.js from
// 127.0.0.1, so the call is cross-origin as on a real site.
func TestBrowserPrefillJS(t *testing.T) {
	t.Parallel()
	g := startReadme(t)
	ctx := chromium(t)
	openPage(t, ctx, g.URL+"/sandbox/lender/form?action_token=usdemo0000000001")
	waitValue(t, ctx, `[name="first_name"]`, "John", 10*time.Second)
	shot(t, ctx, "lender-form")
	for sel, want := range map[string]string{`[name="last_name"]`: "Smith", `[name="email"]`: "john.smith@example.com",
		`[name="amount"]`: "500", `[name="gender"]`: "male", `[name="birth_date"]`: "1985-07-04"} {
		if got := value(t, ctx, sel); got != want {
			t.Errorf("%s: got %q, want %q", sel, got, want)
		}
	}
	// A page without a token: the script does nothing, the form stays usable.
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/sandbox/lender/form"),
		chromedp.WaitVisible(chromedp.CSS(`form.apply`)), chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if v := value(t, ctx, `[name="first_name"]`); v != "" {
		t.Errorf("without a token the form got %q", v)
	}
}

// npmTool is a file of an npm package the tests use, installed by .ci/run
// into $HOME/.cache/leadgate: the variable env, or the place .ci/run puts
// it (file, under node_modules). The test skips when it is missing, or
// fails under CI=true.
func npmTool(t *testing.T, env, pkg, file string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "leadgate", "node_modules", file)
	}
	if _, err := os.Stat(path); err != nil {
		msg := pkg + " is not installed at " + path + ": npm install --prefix ~/.cache/leadgate " + pkg + " (see .ci/run), or set " + env
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// axeSource is axe-core's script (npm axe-core, installed by .ci/run):
// LEADGATE_AXE, or the place .ci/run puts it.
func axeSource(t *testing.T) string {
	t.Helper()
	path := npmTool(t, "LEADGATE_AXE", "axe-core@4.14.1", filepath.Join("axe-core", "axe.min.js"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// axe runs axe-core on the current page and fails on any violation.
func axe(t *testing.T, ctx context.Context, src, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](src)); err != nil {
		t.Fatalf("%s: loading axe-core: %v", page, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document).then(r => JSON.stringify(r.violations.map(v =>
		v.id + " (" + v.impact + "): " + v.nodes.map(n => n.target.join(" ")).slice(0, 3).join(", "))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: running axe-core: %v", page, err)
	}
	if out != "[]" {
		t.Errorf("%s: accessibility violations: %s", page, out)
	}
}

// Every page a consumer can see, checked with axe-core at the phone
// viewport: no violation.
func TestBrowserAccessibility(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")), "submission: { wait: 5s }", "submission: { wait: 200ms }", 1)
	g := start(t, cfg)
	ctx := chromium(t)
	visit := func(url string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`body`))); err != nil {
			t.Fatal(err)
		}
	}
	visit(g.URL + "/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	axe(t, ctx, src, "us form")
	visit(g.URL + "/?utm_campaign=es-demo&action_token=esdemo0000000001")
	axe(t, ctx, src, "es form")
	// The 422 page: the form back with its errors.
	// Posted as it is, past every check of the page: the server's own.
	if err := chromedp.Do(ctx, script(`document.querySelector('form.apply').submit()`), chromedp.WaitVisible(chromedp.CSS(`#form-alert`))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "422")
	axe(t, ctx, src, "422 form")
	// The waiting page, then the no-offer page.
	visit(g.URL + "/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	fillUS(t, ctx, "a+lokyata-slow@example.com", "78702")
	send(t, ctx)
	waitLocation(t, ctx, "/status/", 10*time.Second)
	axe(t, ctx, src, "waiting page")
	visit(g.URL + "/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	fillUS(t, ctx, "b+decline@example.com", "78701")
	send(t, ctx)
	waitLocation(t, ctx, "/status/", 10*time.Second)
	// The waiting page replaces itself with the answer: wait for a page
	// that is no longer pending and has finished loading, or axe-core
	// would be injected into a page on its way out.
	if err := waitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "no-offer")
	axe(t, ctx, src, "no-offer page")
	// Back to the form after sending: the page of the application sent.
	visit(g.URL + "/")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('a[href="/?new=1"]')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the landing after sending is not the sent page: %v", err)
	}
	shot(t, ctx, "sent")
	axe(t, ctx, src, "sent page")
	for _, page := range []string{"/sandbox/", "/sandbox/lender/welcome?buyer=Lokyata&lead_id=x", "/sandbox/lender/form"} {
		visit(g.URL + page)
		axe(t, ctx, src, page)
	}
}

// waitAnswered waits until the waiting page has become the answer and
// finished loading. The page replaces itself (status.js) when the answer
// comes: a poll evaluated at that moment loses its page ("Inspected
// target navigated or closed", "Cannot find context with specified id":
// failures two CI runs met) and is made again on the page that replaced
// it.
func waitAnswered(ctx context.Context) error {
	for try := 1; ; try++ {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === "complete" && !!document.querySelector("section.status:not(.pending)")`,
			chromedp.WithPollingTimeout(30*time.Second)))
		// Both ways Chromium says the page under the poll went away.
		if err == nil || try == 5 || !(strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context")) {
			return err
		}
	}
}

// invalid lists the names of the form's fields the browser finds invalid.
func invalid(t *testing.T, ctx context.Context) []string {
	t.Helper()
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(new Set(Array.from(document.querySelector('form.apply').elements).filter(e => e.name && !e.validity.valid).map(e => e.name)))`))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// pressTestFill presses the sandbox form's "Fill with test values" and
// checks what it left: only the required consents, unticked, with the
// first of them focused, so that the consumer ticks them.
func pressTestFill(t *testing.T, ctx context.Context, consents ...string) {
	t.Helper()
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('form.apply #test-fill')`)); err != nil || !ok {
		t.Fatalf("no Fill with test values button on the sandbox form (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#test-fill`))); err != nil {
		t.Fatalf("pressing Fill with test values: %v", err)
	}
	if got := strings.Join(invalid(t, ctx), " "); got != strings.Join(consents, " ") {
		t.Errorf("after Fill with test values, invalid fields: %q, want only the consents %q", got, consents)
	}
	ticked, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form.apply input[type=checkbox]:checked').length`))
	if err != nil || ticked != 0 {
		t.Errorf("Fill with test values ticked %d boxes (%v), want none: a consent is the consumer's own click", ticked, err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.name || ""`))
	if err != nil || focused != consents[0] {
		t.Errorf("focus on %q (%v), want the first consent %s", focused, err, consents[0])
	}
}

// tick clicks checkboxes as the consumer does.
func tick(t *testing.T, ctx context.Context, names ...string) {
	t.Helper()
	for _, n := range names {
		sel := `[name="` + n + `"]`
		if err := chromedp.Do(ctx, onStep(sel, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("ticking %s: %v", n, err)
		}
	}
	if bad := invalid(t, ctx); len(bad) > 0 {
		t.Errorf("still invalid after the consents: %v", bad)
	}
}

// TestBrowserReadmeWalkThrough follows the README's sandbox walk-through
// as written, on the repository's own config, at a phone's viewport: the
// us link, "Fill with test values", the consents, Send, Lokyata's lender
// page; the documented no-offer path; the Spanish link to Casheddy. The
// prefill.js page of the README is TestBrowserPrefillJS.
func TestBrowserReadmeWalkThrough(t *testing.T) {
	t.Parallel()
	g := startReadme(t)
	ctx := chromium(t)
	usLink := g.URL + "/?utm_source=cashcat.ph&action_token=usdemo0000000001"
	// Only the terms are required; the walk-through ticks the optional
	// TCPA (and, es, the marketing consent Casheddy requires) as well.
	required := []string{"consent_terms"}
	usConsents := []string{"consent_terms", "consent_tcpa"}

	// The United States flow, steps 1 to 3.
	openPage(t, ctx, usLink)
	if loc := location(t, ctx); strings.Contains(loc, "action_token") {
		t.Errorf("the token is in the address bar: %s", loc)
	}
	for sel, want := range map[string]string{`[name="first_name"]`: "John", `[name="last_name"]`: "Smith",
		`[name="birth_date"]`: "1985-07-04", `[name="loan_amount"]`: "500", `[name="city"]`: "Austin"} {
		if got := value(t, ctx, sel); got != want {
			t.Errorf("prefilled %s: got %q, want %q", sel, got, want)
		}
	}
	shot(t, ctx, "us-1-form")
	pressTestFill(t, ctx, required...)
	shot(t, ctx, "us-2-filled")
	tick(t, ctx, usConsents...)
	send(t, ctx)
	waitLocation(t, ctx, "/sandbox/lender/welcome?buyer=Lokyata", 15*time.Second)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`code`))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "us-3-lender")

	// Step 4, no offer: the email switch and an odd ZIP. The form in steps: the button first (it takes the consumer to the
	// consents), then "Change" beside the contact step.
	openPage(t, ctx, usLink)
	pressTestFill(t, ctx, required...)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.review [data-goto="1"]`)),
		clearField(`[name="email"]`), typeInto(`[name="email"]`, "john+lokyata-decline@example.com"),
		clearField(`[name="postal_code"]`), typeInto(`[name="postal_code"]`, "78701")); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]string{`[name="email"]`: "john+lokyata-decline@example.com", `[name="postal_code"]`: "78701",
		`[name="ssn"]`: "876-54-3210"} {
		if got := value(t, ctx, sel); got != want {
			t.Errorf("after Fill with test values %s: got %q, want %q", sel, got, want)
		}
	}
	tick(t, ctx, usConsents...)
	shot(t, ctx, "no-offer-1-filled")
	send(t, ctx)
	waitLocation(t, ctx, "/status/", 15*time.Second)
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`h1`)))
	if err != nil || text != "No offer right now" {
		t.Errorf("no-offer page: heading %q (%v), want No offer right now", text, err)
	}
	shot(t, ctx, "no-offer-2-page")
	if n := calls(t, g, lokyataemu.Calls); n != 2 {
		t.Errorf("lokyata posts: %d, want 2 (one accepted, one declined)", n)
	}
	if n := calls(t, g, astoriaemu.Calls); n != 3 {
		t.Errorf("astoria posts: %d, want 3 (each tier: No Coverage)", n)
	}

	// The Spanish flow.
	openPage(t, ctx, g.URL+"/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001")
	if loc, want := location(t, ctx), g.URL+"/?utm_campaign=es-demo&utm_source=cashcat.ph"; loc != want {
		t.Errorf("landed on %s, want %s", loc, want)
	}
	if v := value(t, ctx, `[name="first_name"]`); v != "Lucía" {
		t.Errorf("first_name prefilled %q, want Lucía", v)
	}
	shot(t, ctx, "es-1-formulario")
	esConsents := []string{"consent_terms", "consent_marketing"}
	pressTestFill(t, ctx, required...)
	if v := value(t, ctx, `[name="loan_period_days"]`); v != "30" {
		t.Errorf("loan_period_days: got %q, want 30", v)
	}
	tick(t, ctx, esConsents...)
	shot(t, ctx, "es-2-completado")
	send(t, ctx)
	waitLocation(t, ctx, "/sandbox/lender/welcome?buyer=Casheddy", 15*time.Second)
	shot(t, ctx, "es-3-prestamista")
}
