package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The dashboard in Chromium, with traffic in an es experiment: on a
// desktop (1280×800) and on a phone (390×844) no table column is cut off
// (each table fits its box or scrolls in it, and the page itself never
// scrolls sideways), the charts' labels are readable, and axe-core finds
// nothing. Screenshots of both go to testdata/screenshots.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")), `    match: { utm_campaign: ["es-*"] }`,
		`    match: { utm_campaign: ["es-*"] }
    variants: [{name: a, weight: 50}, {name: b, weight: 50, layout: one_page, skip: [second_last_name]}]`, 1)
	g := start(t, cfg)
	var appID string
	for i := range 10 {
		c, form := openForm(t, g)
		get(t, c, g.URL+"/v.gif") // the page's beacon: the visit counts
		if i%3 != 2 {             // both variants (dealt a, b, a, ...) apply
			form.Del("second_last_name")
			if resp, err := c.PostForm(g.URL+"/apply", form); err == nil {
				resp.Body.Close()
				// The page Back shows links the application sent.
				_, back := get(t, c, g.URL+"/")
				if m := sentLink.FindStringSubmatch(back); m != nil {
					appID = m[1]
				}
			}
		}
	}
	waitForVisits(t, g)
	for _, size := range []struct {
		name          string
		width, height int64
		phone         bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		ctx := chromium(t)
		opts := []chromedp.EmulateViewportOption{}
		if size.phone {
			opts = append(opts, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:test-admin"))
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.width, size.height, opts...),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
				return err
			}),
			chromedp.Navigate(g.AdminURL+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#funnel table`))); err != nil {
			t.Fatalf("%s: opening the dashboard: %v", size.name, err)
		}
		cut, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			const out = [];
			if (document.documentElement.scrollWidth > window.innerWidth) out.push("the page scrolls sideways: " + document.documentElement.scrollWidth);
			document.querySelectorAll(".table-wrap").forEach(w => {
				const scrolls = ["auto", "scroll"].includes(getComputedStyle(w).overflowX);
				if (w.scrollWidth > w.clientWidth && !scrolls) out.push((w.closest("section") || w).id + " is cut off");
				const r = w.getBoundingClientRect();
				if (r.right > window.innerWidth + 1) out.push((w.closest("section") || w).id + " runs off the screen");
			});
			document.querySelectorAll("svg.chart text").forEach(t => {
				if (t.getBoundingClientRect().height < 11) out.push("chart label '" + t.textContent + "' is " + t.getBoundingClientRect().height + " px high");
			});
			return out;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cut {
			t.Errorf("%s: %s", size.name, c)
		}
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("main").getBoundingClientRect().width > 0.9 * window.innerWidth`))
		if err != nil || !wide {
			t.Errorf("%s: the dashboard does not use the screen's width (%v)", size.name, err)
		}
		shot(t, ctx, size.name)
		axe(t, ctx, src, "dashboard "+size.name)
		// An application's audit page: its 44-digit id wraps in the
		// heading instead of widening the page.
		if appID == "" {
			t.Fatal("no application id on the page Back shows after sending")
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(g.AdminURL+"/admin/applications/"+appID), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatalf("%s: opening the audit page: %v", size.name, err)
		}
		// Every exchange opened: a buyer's long lines wrap in their box.
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const ds = document.querySelectorAll("details.exchange"); ds.forEach(d => d.open = true); return ds.length; })()`)); err != nil || n == 0 {
			t.Errorf("%s: the audit page shows %d exchanges with buyers (%v)", size.name, n, err)
		}
		if sw, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); err != nil || sw > 0 {
			t.Errorf("%s: the audit page scrolls sideways by %d px (%v)", size.name, sw, err)
		}
		shot(t, ctx, "audit-"+size.name)
		axe(t, ctx, src, "audit page "+size.name)
	}
}

// sentLink is the link to the application sent, on the page a session
// that sent one gets at "/".
var sentLink = regexp.MustCompile(`href="/status/([0-9a-f]{44})"`)

// waitForVisits waits for the dashboard to show the visits (counted in
// memory, flushed every 10 s).
func waitForVisits(t *testing.T, g *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", g.AdminURL+"/admin", nil)
		req.SetBasicAuth("admin", "test-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if page := string(b); strings.Contains(page, `<h2 id="experiment-es-title">`) && !strings.Contains(page, "<dt>Visits</dt><dd>0</dd>") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the dashboard never showed the visits")
		}
		time.Sleep(time.Second)
	}
}
