package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// applyRun runs the apply journey for o.apply and samples the CRM
// mirror's backlog every tenth of it: a mirror that keeps up holds a
// backlog that does not grow.
func applyRun(out io.Writer, u urls, o options, receiver *slowReceiver) error {
	fmt.Fprintf(out, "\napply journey (new session, form, POST, store write, instant buyer, 303), %d connections, %s:\n", o.conns, o.apply)
	done := make(chan result, 1)
	tr := &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}
	closedSteps := &steps{}
	go func() { done <- applyJourney(tr, u.Gateway, o.conns, o.apply, closedSteps) }()
	var profiled chan error
	if o.applyprofile != "" {
		profiled = profile(u.Bare, o.applyprofile, o.apply)
	}
	var samples, pbSamples []string
	tick := time.NewTicker(o.apply / 6)
	defer tick.Stop()
	var apps result
wait:
	for {
		select {
		case apps = <-done:
			break wait
		case <-tick.C:
			s, err := crm(u)
			if err != nil {
				return err
			}
			samples = append(samples, fmt.Sprint(s.Backlog))
			pbSamples = append(pbSamples, fmt.Sprint(s.PostbackBacklog))
		}
	}
	fmt.Fprintf(out, "  %-34s %9s/s p50 %6.2f ms, p99 %6.2f ms (%d errors)\n", "applications", thousands(apps.rps), ms(apps.p50), ms(apps.p99), apps.errors)
	closedSteps.report(out)
	if profiled != nil {
		recorded(out, profiled, "server CPU profile over the apply journey", o.applyprofile, "go tool pprof -top -cum")
	}
	end, err := crm(u)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  CRM backlog (due, not mirrored) every %s: %s; at the end %d (leadgate_crm_backlog)\n",
		(o.apply / 6).Round(time.Second), strings.Join(samples, ", "), end.Backlog)
	fmt.Fprintf(out, "  postback backlog (due, not delivered) every %s: %s; at the end %d (leadgate_postback_backlog)\n",
		(o.apply / 6).Round(time.Second), strings.Join(pbSamples, ", "), end.PostbackBacklog)
	drained := time.Now()
	for (end.Backlog > 0 || end.PostbackBacklog > 0) && time.Since(drained) < time.Minute {
		time.Sleep(100 * time.Millisecond)
		if end, err = crm(u); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "  CRM leads created: %d, postbacks delivered: %d; both backlogs empty %.1f s after the load stopped (the CRM and the postback receiver, in the generator's process, answer in 20 ms a call)\n",
		end.Created, receiver.delivered(), time.Since(drained).Seconds())
	// The closed loop's latency is its own queue: 64 consumers at N a
	// second wait 64/N on average whatever the server does. Consumers
	// arriving on their own, at half the rate the server just sustained,
	// see what it takes to serve one.
	rate := max(1, apps.rps/2)
	openSteps := &steps{}
	var traced chan error
	if o.opentrace != "" {
		traced = record(u.Bare, "trace", o.opentrace, o.apply/3)
	}
	open := openLoop(rate, o.apply/3, func(i int) error { return oneApplication(tr, u.Gateway, fmt.Sprintf("o-%d", i), openSteps) })
	fmt.Fprintf(out, "  %-34s %9s/s p50 %6.2f ms, p99 %6.2f ms, arriving at a fixed %.0f a second (half the rate above) for %s (%d errors)\n",
		"applications, open loop", thousands(open.rps), ms(open.p50), ms(open.p99), rate, o.apply/3, open.errors)
	openSteps.report(out)
	if traced != nil {
		recorded(out, traced, "server execution trace over the open loop (its figures above paid for the tracing)", o.opentrace, "go tool trace")
	}
	return nil
}

func crm(u urls) (crmState, error) {
	var s crmState
	body, err := get(control, u.Bare+"/crm")
	if err == nil {
		err = json.Unmarshal([]byte(body), &s)
	}
	return s, err
}

// applyJourney: each consumer lands, completes the form and is sent to
// the buyer: a store write and an instant buyer per application.
func applyJourney(tr http.RoundTripper, base string, conns int, d time.Duration, st *steps) result {
	return closedLoop(conns, d, func(w, i int) (time.Duration, error) {
		t0 := time.Now()
		err := oneApplication(tr, base, fmt.Sprintf("c%d-%d", w, i), st)
		return time.Since(t0), err
	})
}

// steps are the latencies of a journey's two requests, each on its own:
// a consumer waits for the form, then fills it in, then waits for the
// answer to the POST. A journey's latency holds both waits, which no
// consumer has at once (and, in the open loop, from when it was due:
// what the generator was late too).
type steps struct {
	mu         sync.Mutex
	form, post []time.Duration
}

func (s *steps) add(form, post time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.form, s.post = append(s.form, form), append(s.post, post)
	s.mu.Unlock()
}

func (s *steps) report(out io.Writer) {
	f := summarize(s.form, int64(len(s.form)), 0, time.Second)
	p := summarize(s.post, int64(len(s.post)), 0, time.Second)
	fmt.Fprintf(out, "    each request: the form page p50 %.2f ms, p99 %.2f ms; the POST (store write, buyer, 303) p50 %.2f ms, p99 %.2f ms (target p99 ≤ 20 ms, read per request)\n",
		ms(f.p50), ms(f.p99), ms(p.p50), ms(p.p99))
}

func oneApplication(tr http.RoundTripper, base, who string, st *steps) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t0 := time.Now()
	page, err := get(c, base+"/")
	if err != nil {
		return err
	}
	took := time.Since(t0)
	form := url.Values{}
	for _, name := range []string{"csrf_token", "submission_id"} {
		form.Set(name, hidden(page, name))
	}
	for k, v := range usForm() {
		form.Set(k, v)
	}
	form.Set("email", who+"@example.com")
	t1 := time.Now()
	resp, err := c.PostForm(base+"/apply", form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://lender.example/") {
		return errors.New("application not accepted at once: " + resp.Status + " " + resp.Header.Get("Location"))
	}
	st.add(took, time.Since(t1))
	return nil
}

// hidden is the value of the page's hidden input name.
func hidden(page, name string) string {
	_, rest, ok := strings.Cut(page, `name="`+name+`" value="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func usForm() map[string]string {
	day := func(days int) string { return time.Now().AddDate(0, 0, days).Format("2006-01-02") }
	return map[string]string{
		"loan_amount": "500", "first_name": "John", "last_name": "Smith", "birth_date": "1985-07-04",
		"ssn": "876543210", "is_citizen": "1", "is_military": "0", "drivers_license_number": "D1234567", "drivers_license_state": "TX",
		"mobile_phone": "5125550134", "home_phone": "5125550135", "work_phone": "5125550136",
		"address_line1": "1 Congress Ave", "city": "Austin", "state": "TX", "postal_code": "78702", "housing": "rent", "months_at_address": "30",
		"income_source": "employed", "employment_type": "full_time", "employer_name": "Acme", "employer_phone": "5125550100",
		"employer_address": "2 Main St", "supervisor_name": "Jane Roe", "employed_since": "2022-03-01", "monthly_income": "3500",
		"pay_frequency": "biweekly", "pay_method": "direct_deposit", "last_pay_date": day(-5), "next_pay_date": day(9),
		"bank_name": "Chase", "bank_routing_number": "021000021", "bank_account_number": "12345678", "bank_account_type": "checking",
		"bank_months": "40", "consent_terms": "1", "consent_tcpa": "1",
	}
}

// bursts sends 200 requests at once for each of ten tokens nobody asked
// for yet (Cashcat answering in 50 ms), to the gateway's landing and, for
// one token, through nginx when ngx is not nil: Cashcat calls per token and the latency the
// 200 consumers saw. Each gateway burst is paired with one against the
// bare Gin handler that waits 50 ms once per token and answers the same
// 303 (the floor of the method on this machine, in the same run), the
// order alternating.
func bursts(out io.Writer, u urls, ngx *nginx, when string) {
	fmt.Fprintf(out, "\n200 requests at once per new token, Cashcat answering in 50 ms, each on a new connection, %s:\n", when)
	stamp := time.Now().UnixNano() % 1e9
	var lat, floor []time.Duration
	var errs, floorErrs int64
	calls := 0
	for i := range 10 {
		token := fmt.Sprintf("slow%03d%09d", i, stamp)
		// In turn first: what one burst leaves behind (garbage, pollers
		// due) falls on the gateway and the floor alike.
		if i%2 == 1 {
			floorErrs += burst(u.Bare+"/wait?token="+token, http.StatusSeeOther, &floor)
		}
		errs += burst(u.Gateway+"/?action_token="+token, http.StatusSeeOther, &lat)
		calls += atoi(must(get(control, u.Bare+"/calls?token="+token)))
		if i%2 == 0 {
			floorErrs += burst(u.Bare+"/wait?token="+token, http.StatusSeeOther, &floor)
		}
	}
	r := summarize(lat, int64(len(lat)), errs, time.Second)
	f := summarize(floor, int64(len(floor)), floorErrs, time.Second)
	fmt.Fprintf(out, "  %-34s %.2f Cashcat calls per token (10 tokens), p50 %6.2f ms, p99 %6.2f ms (target 1.00, p99 ≤ 60 ms) (%d errors)\n",
		"leadgate token landing", float64(calls)/10, ms(r.p50), ms(r.p99), r.errors)
	fmt.Fprintf(out, "  %-34s p50 %6.2f ms, p99 %6.2f ms (the method's floor here; leadgate p99 %.2f× it) (%d errors)\n",
		"bare Gin, one 50 ms wait, same 303", ms(f.p50), ms(f.p99), float64(r.p99)/float64(f.p99), f.errors)
	if ngx == nil {
		return
	}
	token := fmt.Sprintf("slowngx0%08d", stamp%1e8)
	lat = lat[:0]
	errs = burst(ngx.url+"/api/v1/actions/action/"+token, http.StatusOK, &lat)
	r = summarize(lat, int64(len(lat)), errs, time.Second)
	fmt.Fprintf(out, "  %-34s %.2f Cashcat calls per token, p50 %6.2f ms, p99 %6.2f ms (%d errors)\n",
		"nginx proxy_cache_lock", float64(atoi(must(get(control, u.Bare+"/calls?token="+token)))), ms(r.p50), ms(r.p99), r.errors)
}

// burst sends 200 GETs of rawURL at once, each on a new connection as 200
// consumers' phones would, adds the latency of each answered with status
// to lat, and returns how many were not.
//
// Each request is written and read as bare HTTP/1.1 bytes: 200 consumers
// bring 200 CPUs, the load test has one, and net/http's client spent as
// much of it per request as the server did (a 200-request burst at a bare
// handler waiting 50 ms took 62–70 ms at p99 through net/http, 59–62 ms
// this way, on the same server in alternation). What is left above 50 ms
// is the server's work and the kernel's.
func burst(rawURL string, status int, lat *[]time.Duration) (errs int64) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 200
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")
	want := fmt.Sprintf("HTTP/1.1 %d ", status)
	var mu sync.Mutex
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			ok := exchangeRaw(u.Host, req, want)
			took := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				errs++
				return
			}
			*lat = append(*lat, took)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exchangeRaw sends req on a new connection to host and reads the answer
// to its end (the server closes the connection): whether its status line
// begins with want.
func exchangeRaw(host string, req []byte, want string) bool {
	c, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return false
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, want) {
		return false
	}
	_, err = io.Copy(io.Discard, br)
	return err == nil
}

func must(s string, _ error) string { return s }

// memory reports the heap per lead through the prefill API and through
// landings, each on a fresh gateway in the server child.
func memory(out io.Writer, u urls, o options) error {
	fmt.Fprintf(out, "\nheap per cached lead, %s new tokens on a fresh gateway (heap after GC over tokens; every per-token cache counted):\n", thousands(float64(o.leads)))
	for _, via := range []string{"prefill", "landing"} {
		q := url.Values{"via": {via}, "n": {fmt.Sprint(o.leads)}}
		if via == "prefill" && o.heapprofile != "" {
			q.Set("heapprofile", o.heapprofile)
		}
		body, err := get(control, u.Bare+"/memory?"+q.Encode())
		if err != nil {
			return fmt.Errorf("memory via %s: %w", via, err)
		}
		var r memoryResult
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return err
		}
		fmt.Fprintf(out, "  via %-8s %6.0f bytes per lead (%s leads cached, heap %.0f MB) (target ≤ 1,024)\n",
			r.Via, r.BytesPerLead, thousands(float64(r.Cached)), r.HeapMB)
	}
	if o.heapprofile != "" {
		fmt.Fprintf(out, "  (heap profile at %s leads via the prefill API in %s: go tool pprof -sample_index=inuse_space %s)\n",
			thousands(float64(o.leads)), o.heapprofile, o.heapprofile)
	}
	return nil
}
