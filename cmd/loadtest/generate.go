package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is one URL the generator loads, with its headers.
type target struct {
	name, url string
	header    http.Header
}

// result is what one run of a target measured.
type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

// generator loads one target for a while with a fixed number of
// connections, each sending its next request when the last is answered.
type generator interface {
	name() string
	run(t target, d time.Duration) (result, error)
}

func newGenerator(which string, conns int) (generator, error) {
	wrk, err := exec.LookPath("wrk")
	switch {
	case which == "wrk" && err != nil:
		return nil, fmt.Errorf("-generator wrk: %w (apt-get install -y wrk)", err)
	case which == "wrk" || (which == "auto" && err == nil):
		return wrkGen{path: wrk, conns: conns}, nil
	case which == "go" || which == "auto":
		return goGen{conns: conns, client: newClient()}, nil
	}
	return nil, fmt.Errorf("-generator: %q, want wrk, go or auto", which)
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// wrkGen is Debian's wrk, one thread, pinned to CPU 1 with taskset.
type wrkGen struct {
	path  string
	conns int
}

func (g wrkGen) name() string { return "wrk -t1 -c" + strconv.Itoa(g.conns) + " (Debian's)" }

func (g wrkGen) run(t target, d time.Duration) (result, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-t1", "-c" + strconv.Itoa(g.conns), "-d" + strconv.Itoa(secs) + "s", "--latency", "--timeout", "5s"}
	for k, vs := range t.header {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	cmd := exec.Command(g.path, append(args, t.url)...)
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		cmd = exec.Command(ts, append([]string{"-c", "1", g.path}, append(args, t.url)...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockets = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk --latency's report: requests/s, the 50th and 99th
// percentiles, and every error it counts (socket errors, answers that
// are not 2xx or 3xx).
func parseWrk(out string) (result, error) {
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk: no Requests/sec in %q", out)
	}
	var r result
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		d := time.Duration(v * float64(map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]))
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += n
	}
	if m := wrkSockets.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.errors += n
		}
	}
	return r, nil
}

// goGen is a Go client in this process: on CPU 1 too, but it spends more
// of that core per request than wrk, so it saturates first.
type goGen struct {
	conns  int
	client *http.Client
}

func (g goGen) name() string { return "Go net/http client (wrk is not installed)" }

func (g goGen) run(t target, d time.Duration) (result, error) {
	return closedLoop(g.conns, d, func(int, int) (time.Duration, error) {
		r, err := http.NewRequest("GET", t.url, nil)
		if err != nil {
			return 0, err
		}
		r.Header = t.header.Clone()
		return do(g.client, r)
	}), nil
}

// do sends r and reads the whole answer; 4xx and 5xx are errors.
func do(c *http.Client, r *http.Request) (time.Duration, error) {
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

// closedLoop runs op on conns workers, one after another on each, for d.
func closedLoop(conns int, d time.Duration, op func(worker, i int) (time.Duration, error)) result {
	var mu sync.Mutex
	var all []time.Duration
	var n, errs atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
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
		})
	}
	wg.Wait()
	return summarize(all, n.Load(), errs.Load(), time.Since(start))
}

// openLoop starts op at a fixed rate for d, each in its own goroutine,
// whether or not the earlier ones are answered: consumers arrive on their
// own, not when the last one left. Its latencies are what a consumer sees
// at that rate; a closed loop's are its own queue (Little's law: 64
// consumers at N per second wait 64/N seconds on average).
func openLoop(rate float64, d time.Duration, op func(i int) error) result {
	var mu sync.Mutex
	var all []time.Duration
	var n, errs atomic.Int64
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * every)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		wg.Go(func() {
			if err := op(i); err != nil {
				errs.Add(1)
				return
			}
			// From when it was due: a generator that falls behind does not
			// hide the wait (coordinated omission).
			l := time.Since(at)
			n.Add(1)
			mu.Lock()
			all = append(all, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(all, n.Load(), errs.Load(), d)
}

func summarize(lat []time.Duration, n, errs int64, took time.Duration) result {
	slices.Sort(lat)
	r := result{rps: float64(n) / took.Seconds(), errors: errs}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

// median is the run of the median throughput, with its own p99, and
// the errors of all runs.
func median(runs []result) result {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b result) int { return int(a.rps - b.rps) })
	m := s[len(s)/2]
	m.errors = 0 // every run's errors count
	for _, r := range runs {
		m.errors += r.errors
	}
	return m
}

// thousands writes n with thin commas: 51,000.
func thousands(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
