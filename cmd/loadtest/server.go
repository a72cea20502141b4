package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
	"github.com/leadgate/leadgate/templates"
)

const serverConfig = `
server: { public_url: "http://127.0.0.1:8080", session_secret: "loadtest-session-secret-0123456789abcdef" }
storage: { dsn: "sqlite://%s", encryption_key: "%s" }
rate_limits: { landing: "100000000-S", apply: "100000000-S", prefill_api: "100000000-S" }
prefill_api: { keys: ["loadtest-key-0123456789"] }
providers:
  lokyata: { base_url: "https://lokyata.invalid", api_key: k, lead_price: 25 }
submission: { wait: 5s, workers: 16 }
flows:
  - { name: us, form: us, currency: USD, buyers: [lokyata], default: true }
`

// fakeCashcat answers at once (tokens starting with "slow" in 50 ms, as
// a real Cashcat might) and counts its calls per token.
type fakeCashcat struct {
	mu    sync.Mutex
	calls map[string]int
	lead  []byte
}

func (f *fakeCashcat) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	f.mu.Lock()
	f.calls[token]++
	f.mu.Unlock()
	if strings.HasPrefix(token, "slow") {
		time.Sleep(50 * time.Millisecond)
	}
	return cashcat.Parse(f.lead)
}

// instantBuyer accepts every lead at once.
type instantBuyer struct{}

func (instantBuyer) Name() string { return "lokyata" }
func (instantBuyer) Submit(ctx context.Context, s *providers.Submission, _ string) (providers.Decision, error) {
	return providers.Decision{Outcome: providers.Accepted, RedirectURL: "https://lender.example/welcome", Price: 25}, nil
}

// sampleLead is the US sandbox lead, as Cashcat sends it.
const sampleLead = `{"lead":{"ext_id":"US0SANDBOX1","createdOn":"2026-11-20 10:00:00.000000+00:00","firstName":"John","middleName":"Quincy","lastName":"Smith","email":"john.smith@example.com","birthday":"1985-07-04","gender":"Male","countryResidence":"United States","hometown":"Austin","monthlyIncome":"From 3.000 to 4.000","monthlyIncomeCurrency":"USD","socialStatus":"Employed Full Time"},"loan":{"product":"PDL","requestedCurrency":"USD","requestedAmount":500},"clicks":{"object":"USCLICK000000001","clicks":3},"balance":{"company":"sandbox lender","amount":249,"currency":"USD","availableRequests":249}}`

func serve(out io.Writer) error {
	// Gin's mode is process-wide: set once, before any engine is made.
	gin.SetMode(gin.ReleaseMode)
	pin(0)
	dir, err := os.MkdirTemp("", "leadgate-loadtest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	cfg, err := config.Parse([]byte(fmt.Sprintf(serverConfig, filepath.Join(dir, "lt.db"), key)), func(string) string { return "" })
	if err != nil {
		return err
	}
	keys, _ := vault.New(cfg.EncryptionKey())
	st, err := store.Open(context.Background(), cfg.Storage.DSN, keys)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil)) // logs formatted, as in production
	upstream := &fakeCashcat{calls: map[string]int{}, lead: []byte(sampleLead)}
	// Metrics and funnel counting as in production: they run on every request.
	met := metrics.New(func() map[string]string { return nil })
	events := cashcat.CacheEvents{Hit: met.CacheHit, NegativeHit: met.CacheNegativeHit, Miss: met.CacheMiss, Fetched: met.CashcatFetched}
	leads := cashcat.NewCache(upstream, time.Hour, time.Minute, 1_000_000, 5*time.Second, events)
	visits := &jobs.Visits{Store: st, Log: log, MaxCampaigns: cfg.Funnel.MaxCampaignsPerDay}
	go visits.Run(context.Background())
	worker := submit.New(st, map[string]submit.Buyer{"lokyata": instantBuyer{}}, map[string][]string{"us": {"lokyata"}},
		submit.Config{Owner: "loadtest", Lease: 15 * time.Second, Workers: 16, Poll: 50 * time.Millisecond}, log,
		submit.Events{Attempt: met.Attempt, Decided: met.Decided})
	go worker.Run(context.Background())
	pages, err := views.New(templates.FS, views.Options{})
	if err != nil {
		return err
	}
	h, err := gateway.NewServer(gateway.Deps{Config: cfg, Log: log, Leads: leads, Store: st, Submitter: worker, Views: pages,
		Observe: met.Request, Funnel: visits})
	if err != nil {
		return err
	}
	gw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go (&http.Server{Handler: h}).Serve(gw)

	// The bytes the bare handler answers: what the gateway answers.
	gwURL := "http://" + gw.Addr().String()
	prefill := capture(h, "/api/v1/prefill/loadtest00000001?flow=us", "loadtest-key-0123456789", false)
	page := capture(h, "/?action_token=loadtest00000001", "", true)
	bare := gin.New()
	bare.GET("/prefill", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", prefill) })
	bare.GET("/page", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", page) })
	bare.GET("/calls", func(c *gin.Context) {
		upstream.mu.Lock()
		defer upstream.mu.Unlock()
		c.String(http.StatusOK, "%d", upstream.calls[c.Query("token")])
	})
	bare.GET("/memory-per-lead", func(c *gin.Context) { c.String(http.StatusOK, memoryPerLead()) })
	// The server's own profile, for -cpuprofile (the bare listener is
	// the load test's private one).
	bare.GET("/debug/pprof/profile", gin.WrapF(pprof.Profile))
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go (&http.Server{Handler: bare}).Serve(bl)
	json.NewEncoder(out).Encode(urls{Gateway: gwURL, Bare: "http://" + bl.Addr().String()})
	select {} // until the parent kills us
}

// capture is what the gateway answers to path (following the token
// exchange, with the session, for a page).
func capture(h http.Handler, path, apiKey string, follow bool) []byte {
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if apiKey != "" {
		req.Header.Set("X-API-Key", apiKey)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// memoryPerLead fills a fresh lead cache with 20,000 leads and reports
// the heap it holds per lead.
func memoryPerLead() string {
	const n = 20000
	upstream := &fakeCashcat{calls: map[string]int{}, lead: []byte(sampleLead)}
	cache := cashcat.NewCache(upstream, time.Hour, time.Minute, 1_000_000, 5*time.Second, cashcat.CacheEvents{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		cache.Lead(context.Background(), fmt.Sprintf("mem%013d", i))
	}
	upstream.calls = nil // only the cache's own memory counts
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(cache)
	return fmt.Sprintf("%.0f bytes (%d leads, heap after GC)", per, cache.Len())
}
