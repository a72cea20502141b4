package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// memoryResult is the heap a gateway holds per lead after n tokens.
type memoryResult struct {
	Via          string
	Leads        int     // tokens sent
	Cached       int     // leads in the lead cache afterwards
	BytesPerLead float64 // heap after GC, over the tokens sent
	HeapMB       float64
}

// memoryPerLead sends n new tokens to a fresh gateway, in process, the way
// a user reaches it: via "prefill", a lender's server fetching each token
// from the prefill API with its key; via "landing", a consumer arriving
// with the token (the 303, its cookie sealed) and loading the form with
// that cookie. Every cache that grows per token is counted, because the
// heap is measured as a whole: the lead, the answers formatted from it,
// the per-token rate-limit counters and the opened cookies.
func (ch *child) memoryPerLead(via string, n int, heapProfile string) (memoryResult, error) {
	if via != "prefill" && via != "landing" {
		return memoryResult{}, fmt.Errorf("via: %q, want prefill or landing", via)
	}
	h, cache, err := ch.gateway("", false)
	if err != nil {
		return memoryResult{}, err
	}
	before := settledHeap()
	for i := range n {
		token := fmt.Sprintf("mem%013d", i)
		if via == "prefill" {
			call(h, "/api/v1/prefill/"+token+"?flow=us", "X-Api-Key", "loadtest-key-0123456789")
			continue
		}
		w := call(h, "/?action_token="+token, "", "")
		cookie, _, _ := strings.Cut(w.h.Get("Set-Cookie"), ";")
		call(h, "/", "Cookie", cookie)
	}
	after := settledHeap()
	if heapProfile != "" {
		if f, err := os.Create(heapProfile); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	r := memoryResult{Via: via, Leads: n, Cached: cache.Len(), HeapMB: float64(after) / (1 << 20),
		BytesPerLead: (float64(after) - float64(before)) / float64(n)}
	runtime.KeepAlive(h)
	return r, nil
}

// settledHeap is the heap once collections stop shrinking it. One GC is
// not enough: a cache's sweeper keeps its entries until the cleanup that
// stops it has run, after the collection that found the cache dropped, so
// an earlier gateway's leads would still count as this one's baseline.
func settledHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	for range 20 {
		last := m.HeapAlloc
		time.Sleep(20 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&m)
		if m.HeapAlloc >= last-last/100 {
			break // shrank by less than 1%
		}
	}
	return m.HeapAlloc
}

// call serves one GET of path in process, with one header when name is
// set, and keeps only the answer's headers.
func call(h http.Handler, path, name, value string) *headersOnly {
	r, _ := http.NewRequest("GET", "http://127.0.0.1:8080"+path, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	if name != "" {
		r.Header.Set(name, value)
	}
	w := &headersOnly{h: http.Header{}}
	h.ServeHTTP(w, r)
	return w
}

// headersOnly is a ResponseWriter that keeps the headers and the status.
type headersOnly struct {
	h      http.Header
	status int
}

func (w *headersOnly) Header() http.Header         { return w.h }
func (w *headersOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *headersOnly) WriteHeader(status int)      { w.status = status }
