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
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/postback"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
	"github.com/leadgate/leadgate/providers/cashfin"
	"github.com/leadgate/leadgate/templates"
)

const serverConfig = `
server: { public_url: "http://127.0.0.1:8080", session_secret: "loadtest-session-secret-0123456789abcdef", access_log_sample: 100 }
storage: { dsn: "sqlite://%s", encryption_key: "%s" }
rate_limits: { landing: "100000000-S", apply: "100000000-S", prefill_api: "100000000-S" }
prefill_api: { keys: ["loadtest-key-0123456789"] }
providers:
  lokyata: { base_url: "https://lokyata.invalid", api_key: k, lead_price: 25 }
  cashfin: { workers: 256 }
submission: { wait: 5s, workers: 16 }
flows:
  - { name: us, form: us, currency: USD, buyers: [lokyata], default: true }
`

// fakeCashcat is Cashcat's Actions API on HTTP, as the gateway and nginx
// call it: it answers at once (tokens starting with "slow" in 50 ms, as
// a real Cashcat might) and counts its calls per token.
type fakeCashcat struct {
	mu    sync.Mutex
	calls map[string]int
	lead  []byte
}

func (f *fakeCashcat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	f.mu.Lock()
	f.calls[token]++
	f.mu.Unlock()
	if strings.HasPrefix(token, "slow") {
		time.Sleep(50 * time.Millisecond)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(f.lead)
}

func (f *fakeCashcat) count(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[token]
}

// parsed is a lead source in process, for the memory measurements: each
// lead parsed from its own copy of the body, as the HTTP client does.
type parsed struct{ body []byte }

func (p parsed) Lead(context.Context, string) (*providers.Lead, error) {
	return cashcat.Parse([]byte(string(p.body)))
}

// instantBuyer accepts every lead at once.
type instantBuyer struct{}

func (instantBuyer) Name() string { return "lokyata" }
func (instantBuyer) Submit(ctx context.Context, s *providers.Submission, _ string) (providers.Decision, error) {
	return providers.Decision{Outcome: providers.Accepted, RedirectURL: "https://lender.example/welcome", Price: 25}, nil
}

// slowCRM is a Cashfin that takes 20 ms a call, as a CRM across the
// internet does: the mirror keeps up only by working in parallel.
type slowCRM struct {
	mu      sync.Mutex
	created int
}

func (c *slowCRM) Find(ctx context.Context, search, marker string) (string, error) {
	time.Sleep(20 * time.Millisecond)
	return "", nil
}

func (c *slowCRM) Create(ctx context.Context, l cashfin.Lead) (string, error) {
	time.Sleep(20 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created++
	return fmt.Sprintf("crm-%d", c.created), nil
}

// slowReceiver is a traffic source's conversion endpoint that answers in
// 20 ms, as one across the internet does, and counts what it got.
type slowReceiver struct {
	mu  sync.Mutex
	got int
}

func (r *slowReceiver) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	r.got++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *slowReceiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// sampleLead is the US sandbox lead, as Cashcat sends it.
const sampleLead = `{"lead":{"ext_id":"US0SANDBOX1","createdOn":"2026-11-20 10:00:00.000000+00:00","firstName":"John","middleName":"Quincy","lastName":"Smith","email":"john.smith@example.com","birthday":"1985-07-04","gender":"Male","countryResidence":"United States","hometown":"Austin","monthlyIncome":"From 3.000 to 4.000","monthlyIncomeCurrency":"USD","socialStatus":"Employed Full Time"},"loan":{"product":"PDL","requestedCurrency":"USD","requestedAmount":500},"clicks":{"object":"USCLICK000000001","clicks":3},"balance":{"company":"sandbox lender","amount":249,"currency":"USD","availableRequests":249}}`

// urls are where the child serves: the gateway, its private control
// listener (the bare Gin handler, counts, memory, profiles) and the fake
// Cashcat.
type urls struct {
	Gateway, Bare, Cashcat string
}

// child is the server process's parts that the control listener reads.
type child struct {
	cfg     *config.Config
	st      *store.Store
	log     *slog.Logger
	pages   *views.Views
	cashcat *fakeCashcat
	crm     *slowCRM
	met     *metrics.Metrics
	// receiver is where postbacks go: the parent's receiver (another
	// process, as a traffic source is another machine), or one in this
	// process when it runs alone (benchmarks).
	receiver string
}

func serve(out io.Writer) error {
	// Gin's mode is process-wide: set once, before any engine is made.
	gin.SetMode(gin.ReleaseMode)
	pin(0)
	dir, err := os.MkdirTemp("", "leadgate-loadtest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ch, err := newChild(dir)
	if err != nil {
		return err
	}
	defer ch.st.Close()
	cc, err := listen(ch.cashcat)
	if err != nil {
		return err
	}
	h, _, err := ch.gateway(cc, true)
	if err != nil {
		return err
	}
	gw, err := listen(h)
	if err != nil {
		return err
	}
	bare, err := listen(ch.control(h))
	if err != nil {
		return err
	}
	json.NewEncoder(out).Encode(urls{Gateway: gw, Bare: bare, Cashcat: cc})
	select {} // until the parent kills us
}

// newChild opens the store in dir and makes the server's parts.
func newChild(dir string) (*child, error) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	cfg, err := config.Parse([]byte(fmt.Sprintf(serverConfig, filepath.Join(dir, "lt.db"), key)), func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	keys, _ := vault.New(cfg.EncryptionKey())
	st, err := store.Open(context.Background(), cfg.Storage.DSN, keys)
	if err != nil {
		return nil, err
	}
	pages, err := views.New(templates.FS, views.Options{})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &child{cfg: cfg, st: st, pages: pages, cashcat: &fakeCashcat{calls: map[string]int{}, lead: []byte(sampleLead)},
		crm: &slowCRM{}, receiver: os.Getenv("LOADTEST_POSTBACK_URL"), log: slog.New(slog.NewJSONHandler(io.Discard, nil)), // logs formatted, as in production
		met: metrics.New(func() map[string]string { return nil })}, nil
}

// listen serves h on a new port of the loopback and returns its URL.
func listen(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go (&http.Server{Handler: h}).Serve(l)
	return "http://" + l.Addr().String(), nil
}

// gateway builds a gateway on the child's store, its leads fetched from
// the fake Cashcat at cashcatURL (or parsed in process when empty), with
// everything production runs on a request: JSON logs formatted,
// Prometheus metrics, funnel counting, the submission worker and, when
// work is set, the CRM mirror and a postback on every sale.
func (ch *child) gateway(cashcatURL string, work bool) (http.Handler, *cashcat.Cache, error) {
	var source cashcat.Source = parsed{[]byte(sampleLead)}
	if cashcatURL != "" {
		client, err := cashcat.New(cashcatURL, &http.Client{Timeout: 5 * time.Second}, ch.log)
		if err != nil {
			return nil, nil, err
		}
		source = client
	}
	events := cashcat.CacheEvents{Hit: ch.met.CacheHit, NegativeHit: ch.met.CacheNegativeHit, Miss: ch.met.CacheMiss, Fetched: ch.met.CashcatFetched}
	leads := cashcat.NewCache(source, time.Hour, time.Minute, ch.cfg.Cashcat.CacheMaxEntries, 5*time.Second, events)
	visits := &jobs.Visits{Store: ch.st, Log: ch.log, MaxCampaigns: ch.cfg.Funnel.MaxCampaignsPerDay}
	sales := func(event, _ string, _ providers.Attribution) []string {
		if event == string(providers.StatusAccepted) {
			return []string{"conversion"}
		}
		return nil
	}
	worker := submit.New(ch.st, map[string]submit.Buyer{"lokyata": instantBuyer{}}, map[string][]string{"us": {"lokyata"}},
		submit.Config{Owner: "loadtest", Lease: 15 * time.Second, Workers: 64, Poll: 50 * time.Millisecond, CRM: true, Postbacks: sales}, ch.log,
		submit.Events{Attempt: ch.met.Attempt, Decided: ch.met.Decided})
	if work {
		receiver := ch.receiver
		if receiver == "" {
			var err error
			if receiver, err = listen(&slowReceiver{}); err != nil {
				return nil, nil, err
			}
		}
		go visits.Run(context.Background())
		go worker.Run(context.Background())
		mirror := &jobs.Mirror{Store: ch.st, CRM: ch.crm, Owner: "loadtest", Log: ch.log, Done: ch.met.Mirrored,
			Poll: 200 * time.Millisecond, Backlog: ch.met.CRMBacklog, Workers: ch.cfg.Providers.Cashfin.Workers}
		go mirror.Run(context.Background())
		spec := jobs.PostbackSpec{Template: postback.Template{Method: "GET", URL: receiver + "/pb?txn={application_id}&payout={revenue}"},
			Timeout: 5 * time.Second, GiveUpAfter: time.Hour}
		postbacks := &jobs.Postbacks{Store: ch.st, Specs: map[string]jobs.PostbackSpec{"conversion": spec}, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: jobs.PostbackWorkers}},
			Owner: "loadtest", Log: ch.log, Poll: 200 * time.Millisecond, Done: ch.met.Postback, Backlog: ch.met.PostbackBacklog}
		go postbacks.Run(context.Background())
	}
	h, err := gateway.NewServer(gateway.Deps{Config: ch.cfg, Log: ch.log, Leads: leads, Store: ch.st, Submitter: worker, Views: ch.pages,
		Observe: ch.met.Request, Funnel: visits})
	return h, leads, err
}

// control is the child's private listener: the bare Gin handler answering
// the gateway's own bytes, Cashcat's call counts, the memory measurement,
// the CRM backlog and the server's profiles.
func (ch *child) control(h http.Handler) http.Handler {
	prefill := capture(h, "/api/v1/prefill/loadtest00000001?flow=us", "loadtest-key-0123456789", false)
	page := capture(h, "/?action_token=loadtest00000001", "", true)
	bare := gin.New()
	bare.GET("/prefill", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", prefill) })
	bare.GET("/page", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", page) })
	bare.GET("/calls", func(c *gin.Context) { c.String(http.StatusOK, "%d", ch.cashcat.count(c.Query("token"))) })
	bare.GET("/wait", waitOnce(capture303(h, "/?action_token=loadtest00000002")))
	bare.GET("/memory", func(c *gin.Context) {
		r, err := ch.memoryPerLead(c.Query("via"), atoi(c.Query("n")), c.Query("heapprofile"))
		if err != nil {
			c.String(http.StatusInternalServerError, "%v", err)
			return
		}
		c.JSON(http.StatusOK, r)
	})
	bare.GET("/crm", func(c *gin.Context) {
		n, err := ch.st.CRMBacklog(c, time.Now())
		if err != nil {
			c.String(http.StatusInternalServerError, "%v", err)
			return
		}
		pb, err := ch.st.PostbackBacklog(c, time.Now())
		if err != nil {
			c.String(http.StatusInternalServerError, "%v", err)
			return
		}
		ch.crm.mu.Lock()
		created := ch.crm.created
		ch.crm.mu.Unlock()
		c.JSON(http.StatusOK, crmState{Backlog: n, Created: created, PostbackBacklog: pb})
	})
	bare.GET("/metrics", gin.WrapH(ch.met.Handler()))
	bare.GET("/debug/pprof/profile", gin.WrapF(pprof.Profile))
	bare.GET("/debug/pprof/trace", gin.WrapF(pprof.Trace))
	return bare
}

// capture303 is the gateway's token landing for path: its status and
// headers (the 303 with its Location and session cookie).
func capture303(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// waitOnce is the burst's floor: a bare Gin handler that waits 50 ms once
// per token (the first request starts the wait, the others join it, as
// the gateway's one Cashcat call) and then answers the gateway's own 303.
// What it takes beyond 50 ms is what 200 new connections at once cost on
// this machine, with nothing of the gateway's work in it.
func waitOnce(reply *httptest.ResponseRecorder) gin.HandlerFunc {
	var mu sync.Mutex
	waits := map[string]chan struct{}{}
	return func(c *gin.Context) {
		token := c.Query("token")
		mu.Lock()
		done, ok := waits[token]
		if !ok {
			done = make(chan struct{})
			waits[token] = done
			time.AfterFunc(50*time.Millisecond, func() { close(done) })
		}
		mu.Unlock()
		<-done
		for k, v := range reply.Header() {
			c.Writer.Header()[k] = v
		}
		c.Status(reply.Code)
		c.Writer.WriteHeaderNow()
	}
}

// crmState is the background work's state: applications due for the CRM
// mirror and leads it created; postbacks due.
type crmState struct {
	Backlog, Created, PostbackBacklog int
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
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
