// Command loadtest measures leadgate under load on this machine: the
// gateway runs in a child process pinned to one core with instant
// in-process fakes for Cashcat and the buyers; the load generator runs in
// this process pinned to another. A bare Gin handler answering the same
// bytes is measured in the same run, and every figure is printed with
// its ratio to it.
//
//	go run ./cmd/loadtest [-duration 5s] [-conns 32] [-cpuprofile server.pprof]
//
// fortio's library would be the generator of choice, but one of its
// dependencies is not served by the module proxy here; this one is a
// closed-loop client (max requests/s) plus an open-loop one at a fixed
// rate (latency at 1,000 requests/s), on keep-alive connections.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if os.Getenv("LOADTEST_ROLE") == "server" {
		if err := serve(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// pin keeps this process on one CPU, when the machine has two or more.
func pin(cpu int) {
	if runtime.NumCPU() < 2 {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	unix.SchedSetaffinity(0, &set)
	runtime.GOMAXPROCS(1)
}

// urls are where the child serves: the gateway and the bare Gin handler.
type urls struct {
	Gateway, Bare string
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	duration := fs.Duration("duration", 5*time.Second, "how long each closed-loop measurement runs")
	conns := fs.Int("conns", 32, "concurrent connections of the closed-loop client")
	cpuprofile := fs.String("cpuprofile", "", "write the server's CPU profile over the closed-loop runs to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), "LOADTEST_ROLE=server")
	child.Stderr = os.Stderr
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Process.Kill()
	var u urls
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&u); err != nil {
		return fmt.Errorf("child did not start: %w", err)
	}
	pin(1) // the generator on CPU 1, the server on CPU 0

	fmt.Fprintf(out, "leadgate load test: %d CPUs, server pinned to CPU 0, generator to CPU 1, %d connections, %s per run\n\n",
		runtime.NumCPU(), *conns, *duration)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	reqs, err := newRequests(client, u)
	if err != nil {
		return err
	}
	if err := closedLoop(out, client, u, reqs, *conns, *duration, *cpuprofile); err != nil {
		return err
	}
	openLoops(out, client, u, reqs, *duration)

	fmt.Fprintln(out, "\nfull apply journey (form, store write, instant buyer):")
	apps := applyJourney(client.Transport, u.Gateway, *conns, *duration)
	fmt.Fprintf(out, "  %-28s %8.0f applications/s, p50 %6.2f ms, p99 %6.2f ms (%d errors)\n", "landing + apply + redirect", apps.rps, ms(apps.p50), ms(apps.p99), apps.errors)

	fmt.Fprintln(out, "\n200 requests at once for one new token, Cashcat taking 50 ms:")
	burst := oneTokenBurst(client, u)
	fmt.Fprintf(out, "  Cashcat calls: %d; all 200 answered within %.1f ms (slowest)\n", burst.calls, ms(burst.slowest))

	mem, err := get(client, u.Bare+"/memory-per-lead")
	if err == nil {
		fmt.Fprintf(out, "\nresident memory per cached lead: %s\n", strings.TrimSpace(mem))
	}
	return nil
}

// requests make the requests the load test sends.
type requests struct {
	landing func() (*http.Request, error)
	prefill func(base string) func() (*http.Request, error)
	bare    func(path string) func() (*http.Request, error)
}

// newRequests makes a session with the lead in the cache, for the landing
// page, and the request makers of every measurement.
func newRequests(client *http.Client, u urls) (requests, error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: client.Transport}
	if _, err := get(browser, u.Gateway+"/?action_token=loadtest00000001"); err != nil {
		return requests{}, err
	}
	gw, _ := url.Parse(u.Gateway)
	cookie := jar.Cookies(gw)[0]
	return requests{
		landing: func() (*http.Request, error) {
			r, err := http.NewRequest("GET", u.Gateway+"/", nil)
			if err == nil {
				r.AddCookie(cookie)
			}
			return r, err
		},
		prefill: func(base string) func() (*http.Request, error) {
			return func() (*http.Request, error) {
				r, err := http.NewRequest("GET", base+"/api/v1/prefill/loadtest00000001?flow=us", nil)
				if err == nil {
					r.Header.Set("X-API-Key", "loadtest-key-0123456789")
				}
				return r, err
			}
		},
		bare: func(path string) func() (*http.Request, error) {
			return func() (*http.Request, error) { return http.NewRequest("GET", u.Bare+path, nil) }
		},
	}, nil
}

// closedLoop measures the gateway against the bare handler, as fast as
// the server answers, in alternating rounds.
func closedLoop(out io.Writer, client *http.Client, u urls, reqs requests, conns int, duration time.Duration, cpuprofile string) error {
	var profiled chan error
	if cpuprofile != "" {
		// Both closed-loop pairs: four runs of duration each.
		profiled = profile(u.Bare, cpuprofile, 4*duration)
	}
	fmt.Fprintln(out, "closed loop (as fast as the server answers; gateway and bare handler measured in alternating rounds):")
	bPrefill, gPrefill := paired(client, reqs.bare("/prefill"), reqs.prefill(u.Gateway), conns, duration)
	bPage, gPage := paired(client, reqs.bare("/page"), reqs.landing, conns, duration)
	report(out, "bare Gin, prefill bytes", bPrefill, bPrefill)
	report(out, "prefill JSON (cached)", gPrefill, bPrefill)
	report(out, "bare Gin, page bytes", bPage, bPage)
	report(out, "landing page (cached)", gPage, bPage)
	if profiled != nil {
		if err := <-profiled; err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		fmt.Fprintf(out, "  (server CPU profile in %s: go tool pprof -top -cum %s)\n", cpuprofile, cpuprofile)
	}
	return nil
}

// openLoops measures latency as users arriving at 1,000 requests/s see it.
func openLoops(out io.Writer, client *http.Client, u urls, reqs requests, duration time.Duration) {
	fmt.Fprintln(out, "\nopen loop at 1,000 requests/s (latency as users arriving at that rate see it):")
	for _, tc := range []struct {
		name string
		req  func() (*http.Request, error)
	}{{"prefill JSON (cached)", reqs.prefill(u.Gateway)}, {"landing page (cached)", reqs.landing}} {
		r := openLoop(client, tc.req, 1000, duration)
		fmt.Fprintf(out, "  %-28s %9.0f req/s, p50 %6.2f ms, p99 %6.2f ms, %d errors\n", tc.name, r.rps, ms(r.p50), ms(r.p99), r.errors)
	}
}

// profile fetches the server child's CPU profile over the next d.
func profile(bare, file string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", bare, int(d.Seconds()+0.5)))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(file)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		done <- err
	}()
	return done
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func report(out io.Writer, name string, r, base result) {
	fmt.Fprintf(out, "  %-28s %9.0f req/s (%.2f× bare), p50 %6.2f ms, p99 %6.2f ms, %d errors\n",
		name, r.rps, r.rps/base.rps, ms(r.p50), ms(r.p99), r.errors)
}

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func do(c *http.Client, newReq func() (*http.Request, error)) (time.Duration, error) {
	r, err := newReq()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.Do(r)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

func summarize(lat []time.Duration, n int64, errs int64, took time.Duration) result {
	slices.Sort(lat)
	r := result{rps: float64(n) / took.Seconds(), errors: errs}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

// rounds is how many alternating rounds paired splits its time into.
const rounds = 5

// paired measures the bare handler and the gateway in alternating rounds
// (bare first, then gateway first, and so on), each side for d in all.
// On a shared machine the throughput drifts by tens of percent from one
// second to the next; measured back to back in one block each, the ratio
// would mostly measure that drift. Interleaved, both sides see the same
// machine.
func paired(c *http.Client, bare, gw func() (*http.Request, error), conns int, d time.Duration) (result, result) {
	var b, g sample
	for i := range rounds {
		first, second := &b, &g
		firstReq, secondReq := bare, gw
		if i%2 == 1 {
			first, second, firstReq, secondReq = &g, &b, gw, bare
		}
		first.add(closedLoopSample(conns, d/rounds, func(int, int) (time.Duration, error) { return do(c, firstReq) }))
		second.add(closedLoopSample(conns, d/rounds, func(int, int) (time.Duration, error) { return do(c, secondReq) }))
	}
	return b.result(), g.result()
}

// sample is what a closed loop saw: latencies, counts and its duration.
type sample struct {
	lat     []time.Duration
	n, errs int64
	took    time.Duration
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.n += o.n
	s.errs += o.errs
	s.took += o.took
}

func (s sample) result() result { return summarize(s.lat, s.n, s.errs, s.took) }

// closedLoopOf runs op on conns workers, one after another on each, for d.
func closedLoopOf(conns int, d time.Duration, op func(worker, i int) (time.Duration, error)) result {
	return closedLoopSample(conns, d, op).result()
}

func closedLoopSample(conns int, d time.Duration, op func(worker, i int) (time.Duration, error)) sample {
	var mu sync.Mutex
	var all []time.Duration
	var n, errs atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := 0; time.Now().Before(stop); i++ {
				if l, err := op(w, i); err != nil {
					errs.Add(1)
				} else {
					lat = append(lat, l)
					n.Add(1)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sample{lat: all, n: n.Load(), errs: errs.Load(), took: time.Since(start)}
}

// openLoop sends rate requests per second for d, whatever the answers
// take: latency is measured as a user arriving at that rate sees it.
func openLoop(c *http.Client, newReq func() (*http.Request, error), rate int, d time.Duration) result {
	var mu sync.Mutex
	var all []time.Duration
	var n, errs atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	stop := time.After(d)
	start := time.Now()
	var wg sync.WaitGroup
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := do(c, newReq)
				if err != nil {
					errs.Add(1)
					return
				}
				n.Add(1)
				mu.Lock()
				all = append(all, l)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return summarize(all, n.Load(), errs.Load(), time.Since(start))
}

var hidden = regexp.MustCompile(`name="(csrf_token|submission_id)" value="([^"]*)"`)

// applyJourney: each consumer lands, completes the form and is sent to
// the buyer: a store write and an instant buyer per application.
func applyJourney(tr http.RoundTripper, base string, conns int, d time.Duration) result {
	return closedLoopOf(conns, d, func(w, i int) (time.Duration, error) {
		t0 := time.Now()
		err := oneApplication(tr, base, fmt.Sprintf("c%d-%d", w, i))
		return time.Since(t0), err
	})
}

func oneApplication(tr http.RoundTripper, base, who string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := get(c, base+"/")
	if err != nil {
		return err
	}
	form := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	for k, v := range usForm() {
		form.Set(k, v)
	}
	form.Set("email", who+"@example.com")
	resp, err := c.PostForm(base+"/apply", form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://lender.example/") {
		return errors.New("application not accepted at once: " + resp.Status + " " + resp.Header.Get("Location"))
	}
	return nil
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

type burstResult struct {
	calls   int
	slowest time.Duration
}

// oneTokenBurst: 200 landings for one token nobody asked for yet, at once.
func oneTokenBurst(c *http.Client, u urls) burstResult {
	token := fmt.Sprintf("slow%012d", time.Now().UnixNano()%1e12)
	var wg sync.WaitGroup
	var slowest atomic.Int64
	start := make(chan struct{})
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			resp, err := c.Get(u.Gateway + "/?action_token=" + token)
			if err == nil {
				resp.Body.Close()
			}
			for d := int64(time.Since(t0)); ; {
				cur := slowest.Load()
				if d <= cur || slowest.CompareAndSwap(cur, d) {
					break
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	body, _ := get(c, u.Bare+"/calls?token="+token)
	var n int
	fmt.Sscan(body, &n)
	return burstResult{calls: n, slowest: time.Duration(slowest.Load())}
}
