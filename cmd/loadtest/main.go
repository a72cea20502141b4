// Command loadtest measures leadgate as a user would, on this machine:
// the gateway runs in a child process pinned to CPU 0 (with an instant
// buyer, a Cashcat and a CRM on HTTP in the same child), the load comes
// from Debian's wrk pinned to CPU 1 (1 thread, 64 connections) when it is
// installed, else from a Go client in this process. In the same run, and
// in alternating order, it measures the references a lender would
// compare with: nginx as a caching reverse proxy in front of the same
// Cashcat (proxy_cache, proxy_cache_lock on, every request a hit) when
// nginx is installed, and a bare Gin handler answering the gateway's own
// bytes. Every ratio comes from one invocation.
//
//	go run ./cmd/loadtest [-warmup 10s] [-duration 10s] [-runs 3] [-conns 64]
//	                      [-apply 60s] [-leads 100000] [-cpuprofile f] [-applyprofile f] [-heapprofile f]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
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

// options are the command's flags.
type options struct {
	warmup, duration, apply time.Duration
	runs, conns, leads      int
	generator               string
	cpuprofile, heapprofile string
	applyprofile, opentrace string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.DurationVar(&o.warmup, "warmup", 10*time.Second, "warm-up before the measured runs (all targets in turn)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measured run of one target")
	fs.IntVar(&o.runs, "runs", 3, "measured runs of each target, in alternating order")
	fs.IntVar(&o.conns, "conns", 64, "connections of the load generator")
	fs.DurationVar(&o.apply, "apply", 60*time.Second, "length of the apply journey run (the CRM backlog is sampled over it)")
	fs.IntVar(&o.leads, "leads", 100_000, "tokens sent for the heap per lead measurements")
	fs.StringVar(&o.generator, "generator", "auto", "wrk, go, or auto (wrk when installed)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write the server's CPU profile over the first measured round to this file")
	fs.StringVar(&o.applyprofile, "applyprofile", "", "write the server's CPU profile over the apply journey to this file")
	fs.StringVar(&o.opentrace, "opentrace", "", "write the server's execution trace over the open-loop apply run to this file (go tool trace): where its slowest requests waited")
	fs.StringVar(&o.heapprofile, "heapprofile", "", "write the server's heap profile at 100,000 leads via the prefill API to this file")
	err := fs.Parse(args)
	return o, err
}

func run(args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if err := writable(o.cpuprofile, o.applyprofile, o.heapprofile, o.opentrace); err != nil {
		return err
	}
	// The traffic source's postback receiver runs here, beside the load
	// generator: it is another machine's work, not the server's core's.
	receiver := &slowReceiver{}
	receiverURL, err := listen(receiver)
	if err != nil {
		return err
	}
	u, stop, err := startChild(receiverURL)
	if err != nil {
		return err
	}
	defer stop()
	pin(1) // the Go client, when it is the generator, and this process on CPU 1
	gen, err := newGenerator(o.generator, o.conns)
	if err != nil {
		return err
	}
	var ngx *nginx
	if n, err := startNginx(u.Cashcat); err != nil {
		fmt.Fprintf(out, "nginx reference: %v\n", err)
	} else {
		ngx = n
		defer ngx.stop()
	}
	fmt.Fprintf(out, "leadgate load test: %d CPUs; server pinned to CPU 0%s, %s; generator: %s pinned to CPU 1, %d connections;\n"+
		"warm-up %s, then %d runs of %s per target in alternating order (figures: median of the runs)\n\n",
		runtime.NumCPU(), ngxNote(ngx), strings.Join(serverGC(), " "), gen.name(), o.conns, o.warmup, o.runs, o.duration)
	// The heap per lead is measured first, in a server that has done
	// nothing else yet, and reported last. Measured after the apply
	// journey, it counted what that journey left behind and released
	// during the measurement: a minute of answered applications kept by
	// timers (fixed since) made 930 bytes a lead read as 650-790.
	var mem bytes.Buffer
	if err := memory(&mem, u, o); err != nil {
		return err
	}
	if err := throughput(out, gen, u, ngx, o); err != nil {
		return err
	}
	// The bursts twice: on a server that has served only the cached
	// reads, and after the apply journey has left it a store of a
	// hundred thousand applications and a heap to match. The second read
	// 83-86 ms at p99 where the first read 59-65 ms (by hand, the same
	// build): one server, two states a lender's will be in.
	bursts(out, u, ngx, "on a server that has served the cached reads only")
	if err := applyRun(out, u, o, receiver); err != nil {
		return err
	}
	bursts(out, u, nil, "after the apply journey")
	_, err = out.Write(mem.Bytes())
	return err
}

func ngxNote(n *nginx) string {
	if n == nil {
		return ""
	}
	return " (nginx too, one worker)"
}

// productionGC is the garbage collector's setting the README gives for
// production (Going to production): the gateway's live heap is small, so
// Go's default (GOGC=100) collects every few megabytes allocated, tens of
// times a second under this load; 400 lets four times as much be
// allocated between collections, and the (soft) limit makes them come
// sooner as the heap nears it.
var productionGC = []string{"GOGC=400", "GOMEMLIMIT=1GiB"}

// serverGC is the server child's GC setting: the production one, or what
// this command's own environment sets (an empty value is Go's own default,
// so it counts as unset).
func serverGC() []string {
	var env []string
	for _, kv := range productionGC {
		name, _, _ := strings.Cut(kv, "=")
		if v := os.Getenv(name); v != "" {
			kv = name + "=" + v
		}
		env = append(env, kv)
	}
	return env
}

// startChild starts the server child, pinned to CPU 0 with taskset when
// there is one, and returns its URLs.
func startChild(receiverURL string) (urls, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return urls{}, nil, err
	}
	child := exec.Command(self)
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		child = exec.Command(ts, "-c", "0", self)
	}
	child.Env = append(os.Environ(), "LOADTEST_ROLE=server", "GOMAXPROCS=1", "LOADTEST_POSTBACK_URL="+receiverURL)
	child.Env = append(child.Env, serverGC()...)
	child.Stderr = os.Stderr
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return urls{}, nil, err
	}
	stop := func() { child.Process.Kill(); child.Wait() }
	var u urls
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&u); err != nil {
		stop()
		return urls{}, nil, fmt.Errorf("child did not start: %w", err)
	}
	return u, stop, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 400 {
		err = errors.New(resp.Status + ": " + string(b))
	}
	return string(b), err
}

// control is the client of the child's private listener.
var control = &http.Client{Timeout: 10 * time.Minute}
