package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The measured targets, by the name the report gives them.
const (
	tPrefill  = "prefill JSON, cached"
	tNginx    = "nginx proxy_cache, Cashcat's body"
	tBareJSON = "bare Gin, the prefill bytes"
	tPage     = "landing page with its cookie"
	tBarePage = "bare Gin, the same page"
	tToken    = "token landing (the 303)"
)

// targets are what the throughput runs load: the gateway's three hot
// paths and their references.
func targets(u urls, ngx *nginx) ([]target, error) {
	cookie, err := sessionCookie(u.Gateway)
	if err != nil {
		return nil, err
	}
	t := []target{
		{tPrefill, u.Gateway + "/api/v1/prefill/loadtest00000001?flow=us", http.Header{"X-Api-Key": {"loadtest-key-0123456789"}}},
		{tBareJSON, u.Bare + "/prefill", nil},
		{tPage, u.Gateway + "/", http.Header{"Cookie": {cookie}}},
		{tBarePage, u.Bare + "/page", nil},
		{tToken, u.Gateway + "/?action_token=loadtest00000001", nil},
	}
	if ngx != nil {
		t = append(t, target{tNginx, ngx.url + "/api/v1/actions/action/loadtest00000001", nil})
	}
	return t, nil
}

// sessionCookie is the cookie a consumer holds after the token exchange.
func sessionCookie(gateway string) (string, error) {
	resp, err := newClient().Get(gateway + "/?action_token=loadtest00000001")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	cookie, _, _ := strings.Cut(resp.Header.Get("Set-Cookie"), ";")
	if resp.StatusCode != http.StatusSeeOther || cookie == "" {
		return "", fmt.Errorf("token exchange: %s, cookie %q", resp.Status, cookie)
	}
	return cookie, nil
}

// throughput warms every target up, then measures each o.runs times,
// rotating the order every round so that no target always follows the
// same one on a machine whose speed drifts.
func throughput(out io.Writer, gen generator, u urls, ngx *nginx, o options) error {
	ts, err := targets(u, ngx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := gen.run(t, max(time.Second, o.warmup/time.Duration(len(ts)))); err != nil {
			return fmt.Errorf("warm-up of %s: %w", t.name, err)
		}
	}
	runs := map[string][]result{}
	var cpu chan error
	for round := range o.runs {
		var profiled chan error
		if round == 0 && o.cpuprofile != "" {
			profiled = profile(u.Bare, o.cpuprofile, time.Duration(len(ts))*o.duration)
		}
		for i := range ts {
			t := ts[(i+round)%len(ts)]
			r, err := gen.run(t, o.duration)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			runs[t.name] = append(runs[t.name], r)
		}
		if profiled != nil {
			cpu = profiled
		}
	}
	report(out, runs, ngx != nil)
	if cpu != nil {
		recorded(out, cpu, "server CPU profile over the first round", o.cpuprofile, "go tool pprof -top -cum")
	}
	return nil
}

// report prints each target's median run, its p99 beside its throughput,
// and the ratios the targets are set in.
func report(out io.Writer, runs map[string][]result, withNginx bool) {
	m := map[string]result{}
	for name, rs := range runs {
		m[name] = median(rs)
	}
	fmt.Fprintf(out, "  %-34s %9s %9s %9s  %s\n", "measurement", "req/s", "p50", "p99", "runs (req/s)")
	for _, name := range []string{tPrefill, tNginx, tBareJSON, tPage, tBarePage, tToken} {
		rs, ok := runs[name]
		if !ok {
			continue
		}
		r := m[name]
		var each []string
		for _, x := range rs {
			each = append(each, thousands(x.rps))
		}
		fmt.Fprintf(out, "  %-34s %9s %6.2f ms %6.2f ms  %s (%d errors)\n", name, thousands(r.rps), ms(r.p50), ms(r.p99), strings.Join(each, " / "), r.errors)
	}
	fmt.Fprintln(out, "\n  ratios (medians of this run):")
	if withNginx {
		fmt.Fprintf(out, "    prefill JSON / nginx proxy_cache:         %.2f× req/s, p99 %.2f× nginx's (target ≥ 1.0×, p99 ≤ 1.5×)\n",
			m[tPrefill].rps/m[tNginx].rps, float64(m[tPrefill].p99)/float64(m[tNginx].p99))
	}
	fmt.Fprintf(out, "    prefill JSON / bare Gin, same bytes:      %.2f×\n", m[tPrefill].rps/m[tBareJSON].rps)
	fmt.Fprintf(out, "    landing with cookie / bare Gin same page: %.2f× (target ≥ 0.6×)\n", m[tPage].rps/m[tBarePage].rps)
	fmt.Fprintf(out, "    token landing / bare Gin same-size page:  %.2f× (target ≥ 0.7×)\n", m[tToken].rps/m[tBarePage].rps)
}

// profile fetches the server child's CPU profile over the next d.
func profile(bare, file string, d time.Duration) chan error {
	return record(bare, "profile", file, d)
}

// record writes the server's pprof record of kind (profile: CPU; trace:
// the execution trace) over the next d to file. An answer that is not
// the record (a second trace while one runs is a 500 with a sentence)
// is an error, not a file that go tool cannot read.
func record(bare, kind, file string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := control.Get(fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", bare, kind, int(d.Seconds()+0.5)))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			done <- fmt.Errorf("the server answered %s: %s", resp.Status, bytes.TrimSpace(msg))
			return
		}
		f, err := os.Create(file)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		done <- err
	}()
	return done
}

// recorded reports how a record ended: where it is, or why there is none.
// A record that failed costs its line, not the rest of the report.
func recorded(out io.Writer, done chan error, what, file, tool string) {
	if err := <-done; err != nil {
		fmt.Fprintf(out, "  (no %s: %v)\n", what, err)
		return
	}
	fmt.Fprintf(out, "  (%s in %s: %s %s)\n", what, file, tool, file)
}

// writable makes sure every file a flag names can be written before the
// load starts, rather than after minutes of measuring.
func writable(files ...string) error {
	for _, name := range files {
		if name == "" {
			continue
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}
