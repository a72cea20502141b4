// Package postback reports a sale (or a decline, or a consumer sent on)
// back to the traffic source that sent the click: a template of an HTTP
// request with macros such as {gclid}, {revenue} and {application_id},
// rendered from an application and sent by the delivery job.
package postback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Events a postback can be sent on.
const (
	OnAccepted   = "accepted"
	OnDeclined   = "declined"
	OnRedirected = "redirected"
)

// Events are the events in the order they happen.
var Events = []string{OnAccepted, OnDeclined, OnRedirected}

// IDMacro is the macro every template must carry: the receiver's way to
// tell a repeat from a new conversion. An attempt in doubt after a crash
// is sent again, and only this id makes that safe.
const IDMacro = "application_id"

// fixedMacros are the macros of every template besides the click ids.
var fixedMacros = []string{IDMacro, "event", "flow", "buyer", "revenue", "currency", "timestamp",
	"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"}

// macro is a {name}: a name has no quote, colon or space, so that a JSON
// body's own braces ({"api_key":"…"}) are JSON, not an unknown macro (a
// config error that printed the key).
var macro = regexp.MustCompile(`\{([A-Za-z0-9_.\-]*)\}`)

// Template is one configured postback's request.
type Template struct {
	Method string // GET or POST
	URL    string
	Body   string
	// JSON says the body is JSON: macros are then written as JSON string
	// contents; otherwise as form values.
	JSON bool
}

// Macros returns the macros a template uses.
func (t Template) Macros() []string {
	var out []string
	for _, m := range macro.FindAllStringSubmatch(t.URL+t.Body, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// UsesClickIDs says whether the template needs a click id, which only the
// sealed part of an application holds.
func (t Template) UsesClickIDs() bool {
	for _, m := range t.Macros() {
		if !slices.Contains(fixedMacros, m) {
			return true
		}
	}
	return false
}

// Check returns what is wrong with the template, given the click
// parameters configured (each is a macro too): an unknown macro, a missing
// application id, a URL that is not https (or http to this machine).
// sandbox allows a path on the gateway itself (/sandbox/postback).
func (t Template) Check(clickParams []string, sandbox bool) error {
	var errs []error
	known := append(append(slices.Clone(fixedMacros), providers.ClickParams...), clickParams...)
	for _, m := range t.Macros() {
		if !slices.Contains(known, m) {
			errs = append(errs, fmt.Errorf("unknown macro {%s} (known: %s)", m, strings.Join(known, ", ")))
		}
	}
	if !strings.Contains(t.URL+t.Body, "{"+IDMacro+"}") {
		errs = append(errs, fmt.Errorf("the url or body must carry {%s}: a postback sent again after a crash is told apart only by it", IDMacro))
	}
	if t.Method != http.MethodGet && t.Method != http.MethodPost {
		errs = append(errs, fmt.Errorf("method %q: want GET or POST", t.Method))
	}
	if t.Body != "" && t.Method == http.MethodGet {
		errs = append(errs, errors.New("a body needs method POST"))
	}
	if err := checkURL(macro.ReplaceAllString(t.URL, "x"), sandbox); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkURL allows https anywhere, http only to this machine (tests, the
// sandbox), and, in sandbox mode, a path on the gateway itself.
func checkURL(raw string, sandbox bool) error {
	if sandbox && strings.HasPrefix(raw, "/") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute url", Redact(raw))
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("url %q: http is allowed only to a loopback address; use https", Redact(raw))
	}
	return fmt.Errorf("url %q: want https", Redact(raw))
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Values are what a postback says of one application's event, which
// happened at.
func Values(rec providers.Record, attr providers.Attribution, event string, at time.Time) map[string]string {
	v := map[string]string{
		IDMacro: rec.ID, "event": event, "flow": rec.Flow, "buyer": rec.Buyer,
		"revenue": strconv.FormatFloat(rec.Revenue, 'f', 2, 64), "currency": rec.Currency,
		"timestamp":  strconv.FormatInt(at.Unix(), 10),
		"utm_source": rec.Attribution.Source, "utm_medium": rec.Attribution.Medium, "utm_campaign": rec.Attribution.Campaign,
		"utm_content": rec.Attribution.Content, "utm_term": rec.Attribution.Term,
	}
	for name, ids := range attr.ClickIDs() {
		v[name] = ids[0]
	}
	return v
}

// Render writes the request for values: every macro escaped for where it
// stands (URL-escaped in the URL and a form body, JSON-escaped in a JSON
// body); a macro without a value is empty.
func (t Template) Render(values map[string]string) (method, target, body string) {
	target = macro.ReplaceAllStringFunc(t.URL, func(m string) string { return url.QueryEscape(values[m[1:len(m)-1]]) })
	body = macro.ReplaceAllStringFunc(t.Body, func(m string) string {
		v := values[m[1:len(m)-1]]
		if t.JSON {
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return url.QueryEscape(v)
	})
	return t.Method, target, body
}

// Result is how one delivery went.
type Result struct {
	Status int // the receiver's HTTP status; 0 when none came back
	// Retry: the receiver may take it later (a network error, 429, 5xx).
	Retry bool
	Err   error
}

// Delivered says the receiver took it (2xx).
func (r Result) Delivered() bool { return r.Err == nil }

// Send delivers one rendered postback with hc, within timeout.
func Send(ctx context.Context, hc *http.Client, method, target, body string, json bool, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("postback: %w", err)}
	}
	if body != "" {
		req.Header.Set("Content-Type", map[bool]string{true: "application/json", false: "application/x-www-form-urlencoded"}[json])
	}
	req.Header.Set("User-Agent", "leadgate-postback/1")
	resp, err := hc.Do(req)
	if err != nil {
		// The URL can carry click ids: only the reason is kept.
		return Result{Retry: true, Err: fmt.Errorf("postback: %s", providers.TransportReason(err))}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Result{Status: resp.StatusCode}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return Result{Status: resp.StatusCode, Retry: true, Err: fmt.Errorf("postback: status %d", resp.StatusCode)}
	}
	return Result{Status: resp.StatusCode, Err: fmt.Errorf("postback: status %d: not retried", resp.StatusCode)}
}
