package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/sony/gobreaker/v2"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/leadgate/leadgate/gateway"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/redis"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/buyers"
	"github.com/leadgate/leadgate/providers/cashcat"
	"github.com/leadgate/leadgate/providers/cashfin"
	"github.com/leadgate/leadgate/providers/sandbox"
	"github.com/leadgate/leadgate/templates"
)

// Compile-time guards: every client of the buyers' table is a
// submit.Buyer (the table checks each against buyers.Buyer), and a tiered
// one a submit.Tiered.
var (
	_ submit.Buyer  = buyers.Buyer(nil)
	_ submit.Tiered = buyers.Tiered(nil)
)

// sandboxKey seals personal data in sandbox mode when no key is set, so a
// sandbox database still opens after a restart. It is public: never use
// sandbox mode with real data.
var sandboxKey = []byte("leadgate-sandbox-key-NOT-SECRET!")

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// --- flags and config ---
	fs := flag.NewFlagSet("leadgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default: $LEADGATE_CONFIG or config.yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		*cfgPath = getenv("LEADGATE_CONFIG")
	}
	if *cfgPath == "" {
		*cfgPath = "config.yaml"
	}
	cfg, err := config.Load(*cfgPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stdout, getenv("LEADGATE_LOG_FORMAT"))

	// --- sandbox-mode secrets ---
	sandboxPassword := false // the documented one, which may be printed
	if cfg.Sandbox.Enabled {
		if cfg.Server.SessionSecret == "" {
			b := make([]byte, 32)
			rand.Read(b)
			cfg.Server.SessionSecret = base64.StdEncoding.EncodeToString(b)
			log.Warn("sandbox mode: no server.session_secret; using a random one (sessions end at restart)")
		}
		if cfg.Admin.Password == "" {
			cfg.Admin.Password, sandboxPassword = "sandbox", true
			log.Warn("sandbox mode: no admin.password; /admin takes the documented sandbox password")
		}
		if cfg.Storage.EncryptionKey == "" {
			cfg.Storage.EncryptionKey = base64.StdEncoding.EncodeToString(sandboxKey)
			log.Warn("sandbox mode: no storage.encryption_key; using the public sandbox key: never store real data like this")
		}
	}

	// --- listeners first, so :0 works and local upstream paths resolve ---
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("server.addr: %w", err)
	}
	defer ln.Close()
	adminLn, err := net.Listen("tcp", cfg.Server.AdminAddr)
	if err != nil {
		return fmt.Errorf("server.admin_addr: %w", err)
	}
	defer adminLn.Close()
	localBase, sandboxPublic := localURLs(cfg.Server.PublicURL, ln.Addr().(*net.TCPAddr).Port)
	cfg.ResolveLocal(localBase)
	log.Info("starting", "config", *cfgPath, "addr", ln.Addr().String(), "admin_addr", adminLn.Addr().String(), "effective_config", cfg.RedactedYAML())

	// --- storage ---
	var old [][]byte
	for _, k := range cfg.Storage.OldEncryptionKeys {
		b, _ := base64.StdEncoding.DecodeString(k)
		old = append(old, b)
	}
	keys, err := vault.New(cfg.EncryptionKey(), old...)
	if err != nil {
		return fmt.Errorf("storage.encryption_key: %w", err)
	}
	st, err := store.Open(ctx, cfg.Storage.DSN, keys)
	if err != nil {
		return err
	}
	defer st.Close()

	// --- Cashcat: cache in front of breaker in front of HTTP ---
	cashcatHTTP, err := cashcat.NewHTTPClient(cfg.Cashcat)
	if err != nil {
		return err
	}
	cc, err := cashcat.New(cfg.Cashcat.BaseURL, cashcatHTTP, log)
	if err != nil {
		return fmt.Errorf("cashcat.base_url: %w", err)
	}
	onState := func(name string, from, to gobreaker.State) {
		log.Warn("circuit breaker changed state", "upstream", name, "from", from.String(), "to", to.String())
	}
	// Metrics read the breakers at each scrape; they are all made below,
	// before the first scrape can happen.
	var breakers func() map[string]string
	met := metrics.New(func() map[string]string { return breakers() })
	watchBalance := balanceWatch(log)
	ccBreaker := cashcat.NewBreaker(cc, providers.NewBreaker[*providers.Lead]("cashcat", cfg.Cashcat.Breaker, onState))
	fetched := func(l *providers.Lead, err error) { met.CashcatFetched(l, err); watchBalance(l, err) }
	events := cashcat.CacheEvents{Hit: met.CacheHit, NegativeHit: met.CacheNegativeHit, Miss: met.CacheMiss, Fetched: fetched}

	// --- Redis: the lead cache shared by replicas (optional) ---
	redisState := func() string { return "not configured" }
	var limitStore func(prefix string) limiter.Store
	var rs *redis.Conn
	if cfg.Redis.URL != "" {
		if rs, err = redis.Open(cfg.Redis.URL, cfg.Redis.Timeout, log); err != nil {
			return fmt.Errorf("redis.url: not a redis:// url")
		}
		defer rs.Close()
		limitStore = func(prefix string) limiter.Store { return redis.NewLimitStore(rs, cfg.Redis.KeyPrefix, prefix) }
		met.RedisShared(rs.Shared)
		redisState = func() string {
			if rs.Check(context.Background()) {
				return "ok"
			}
			return "unreachable: running unshared (per-replica lead cache and rate limits)"
		}
	}

	// --- what callers may spend: budgets of paid calls, in front of the
	// breaker and behind every cache (a cached token costs nothing) ---
	budget, err := cashcatBudget(ccBreaker, cfg.Cashcat, limitStore, met, log)
	if err != nil {
		return err
	}
	var behind cashcat.Source = budget
	if rs != nil {
		sharedLeads := redis.NewLeads(rs, cfg.Redis.KeyPrefix, budget, cfg.Cashcat.CacheTTL, cfg.Cashcat.NegativeCacheTTL, cfg.Cashcat.Timeout+time.Second)
		// Only real Cashcat calls count as calls: a shared hit is not one.
		sharedLeads.Fetched, events.Fetched = fetched, nil
		behind = sharedLeads
	}
	leads := cashcat.NewCache(behind, cfg.Cashcat.CacheTTL, cfg.Cashcat.NegativeCacheTTL, cfg.Cashcat.CacheMaxEntries,
		cfg.Cashcat.Timeout+time.Second, events)

	// --- buyers, each with its own client, breaker and timeout ---
	guarded, caps, err := newBuyers(cfg, onState, log)
	if err != nil {
		return err
	}
	// Config validation has made sure every flow's buyers are configured.
	clients := map[string]submit.Buyer{}
	for name, g := range guarded {
		clients[name] = g
	}
	flows := map[string][]string{}
	for _, f := range cfg.Flows {
		flows[f.Name] = f.Buyers
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
	worker := submit.New(st, clients, flows, submit.Config{
		Owner: owner, Lease: cfg.Submission.Lease, Workers: cfg.Submission.Workers,
		Caps: caps, CRM: cfg.Providers.Cashfin.Enabled,
	}, log, submit.Events{Attempt: met.Attempt, Decided: met.Decided})
	breakers = breakerStates(ccBreaker, guarded)

	// --- background jobs: the CRM mirror and retention ---
	var mirror *jobs.Mirror
	if cfg.Providers.Cashfin.Enabled {
		c := cfg.Providers.Cashfin
		client, err := cashfin.New(c, buyerHTTP(c.Timeout))
		if err != nil {
			return fmt.Errorf("providers.cashfin: %w", err)
		}
		mirror = &jobs.Mirror{Store: st, CRM: client, Owner: owner, Log: log, Done: met.Mirrored}
	}
	retention := &jobs.Retention{Store: st, Keep: cfg.Storage.Retention, Log: log}
	visits := &jobs.Visits{Store: st, Log: log, MaxCampaigns: cfg.Funnel.MaxCampaignsPerDay}

	// --- HTTP ---
	pages, err := views.New(templates.FS, views.Options{TestFill: cfg.Sandbox.Enabled})
	if err != nil {
		return err
	}
	var sb http.Handler
	if cfg.Sandbox.Enabled {
		sb = sandbox.New(sandbox.Options{PublicURL: sandboxPublic})
	}
	handler, err := gateway.NewServer(gateway.Deps{
		Config: cfg, Log: log, Leads: leads, Store: st, Submitter: worker, Views: pages, Sandbox: sb,
		Observe: met.Request, Funnel: visits, LimitStore: limitStore,
	})
	if err != nil {
		return err
	}
	admin := gateway.NewAdmin(gateway.AdminDeps{Log: log, Store: st, Views: pages, Breakers: breakers, Metrics: met.Handler(), Redis: redisState,
		Username: cfg.Admin.Username, Password: cfg.Admin.Password, PublicURL: cfg.Server.PublicURL, Flows: flowNames(cfg)})
	srv := newHTTPServer(handler)
	adminSrv := newHTTPServer(admin)

	// --- run until the context ends, then stop in order ---
	var wg sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); worker.Run(workCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); retention.Run(workCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); visits.Run(workCtx) }()
	if mirror != nil {
		wg.Add(1)
		go func() { defer wg.Done(); mirror.Run(workCtx) }()
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- adminSrv.Serve(adminLn) }()
	log.Info("serving", "url", localBase, "sandbox", cfg.Sandbox.Enabled)
	open := cfg.Server.PublicURL
	if sandboxPublic == "" {
		open = localBase // a loopback public_url, with the port actually bound
	}
	announce(stdout, isTerminal(stdout), cfg.Sandbox.Enabled, open, browseURL(adminLn.Addr())+"/admin", cfg.Admin.Username, sandboxPassword)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down: finishing requests and submissions in flight", "timeout", cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	srv.Shutdown(sctx)
	adminSrv.Shutdown(sctx)
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		// Attempts still running are recorded as started; on the next
		// start they become "in doubt" and are not re-sent.
		log.Warn("shutdown deadline passed with submissions in flight")
	}
	log.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// cashcatBudget builds the budgets of paid Cashcat calls around next
// (cashcat.budget_per_ip, .unknown_budget_per_ip, .daily_budget), counted
// in the shared limiter store when Redis is configured.
func cashcatBudget(next cashcat.Source, c cashcat.Config, limitStore func(string) limiter.Store, met *metrics.Metrics, log *slog.Logger) (*cashcat.Budget, error) {
	store := func(prefix string) limiter.Store {
		if limitStore != nil {
			return limitStore(prefix)
		}
		return memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: prefix, CleanUpInterval: time.Minute})
	}
	limit := func(key, rate, prefix string) (*limiter.Limiter, error) {
		if rate == "off" {
			return nil, nil
		}
		r, err := limiter.NewRateFromFormatted(rate)
		if err != nil {
			return nil, fmt.Errorf("cashcat.%s: %w", key, err)
		}
		return limiter.New(store(prefix), r), nil
	}
	cfg := cashcat.BudgetConfig{Refused: met.BudgetRefused}
	var err error
	if cfg.PerIP, err = limit("budget_per_ip", c.BudgetPerIP, "cashcat-budget-ip"); err != nil {
		return nil, err
	}
	if cfg.Unknown, err = limit("unknown_budget_per_ip", c.UnknownBudgetPerIP, "cashcat-budget-unknown"); err != nil {
		return nil, err
	}
	if c.DailyBudget > 0 {
		// Keyed by the UTC date: a window a little longer than a day
		// only makes sure yesterday's key has expired.
		cfg.Daily = limiter.New(store("cashcat-budget-daily"), limiter.Rate{Period: 25 * time.Hour, Limit: c.DailyBudget})
	}
	return cashcat.NewBudget(next, cfg, log), nil
}

func newLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: durationText}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationText writes a duration as "20s", as the config file does: the
// JSON handler would write nanoseconds, which nobody reads at a glance.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// isTerminal tells whether w is a terminal, where a person reads.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// announce prints, for a person at a terminal, one line beside the JSON
// logs: where to click. A password is printed only when it is the
// sandbox's documented one, never one from the config or environment.
func announce(w io.Writer, tty, sandbox bool, public, admin, user string, sandboxPassword bool) {
	if !tty {
		return
	}
	public = strings.TrimRight(public, "/")
	if sandboxPassword {
		admin += fmt.Sprintf(" (%s / sandbox)", user)
	}
	if sandbox {
		fmt.Fprintf(w, "leadgate is serving the sandbox: open %s/?utm_source=cashcat.ph&action_token=usdemo0000000001 · admin: %s\n", public, admin)
		return
	}
	fmt.Fprintf(w, "leadgate is serving %s · admin: %s\n", public, admin)
}

// browseURL is an http URL a browser on this machine can open for a
// listener's address: a wildcard address is reached as localhost.
func browseURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		// POST /apply may wait for a buyer's decision (submission.wait).
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 32 << 10,
	}
}

// buyerHTTP is a buyer's own client: no proxy from the environment, no
// redirects followed (a buyer's API answers, it does not redirect).
func buyerHTTP(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 32
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// localURLs: where the gateway reaches its own listener (for upstreams
// configured as /sandbox/... paths), and the public base the sandbox
// lender page should be linked on. On a loopback public_url the gateway
// keeps its host name with the port actually bound; elsewhere the sandbox
// links to public_url and the gateway calls itself on 127.0.0.1.
func localURLs(publicURL string, port int) (local, sandboxPublic string) {
	u, _ := url.Parse(publicURL)
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return fmt.Sprintf("%s://%s", "http", net.JoinHostPort(u.Hostname(), fmt.Sprint(port))), ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), publicURL
}

// balanceWatch warns the operator when Cashcat reports a low balance.
func balanceWatch(log *slog.Logger) func(*providers.Lead, error) {
	return func(l *providers.Lead, err error) {
		if err != nil || l == nil || !l.Balance.Known {
			return
		}
		if l.Balance.AvailableRequests < 50 {
			log.Warn("cashcat balance running low: top up to keep prefill working",
				"alert", "cashcat_balance_low", "available_requests", l.Balance.AvailableRequests,
				"amount", l.Balance.Amount, "currency", l.Balance.Currency)
		}
	}
}

// newBuyers makes every configured buyer of the table: its client behind
// its own breaker and timeout (for a tiered buyer, one timeout per tier
// post: the flow's deadline bounds the ride), and its caps.
func newBuyers(cfg *config.Config, onState func(string, gobreaker.State, gobreaker.State), log *slog.Logger) (map[string]*submit.Guarded, map[string]providers.CapsConfig, error) {
	guarded := map[string]*submit.Guarded{}
	caps := map[string]providers.CapsConfig{}
	for _, r := range buyers.All() {
		b := cfg.Providers.Buyer(r.Name)
		c := b.Common()
		if !c.Configured() {
			continue
		}
		client, err := r.New(b, buyerHTTP(c.Timeout))
		if err != nil {
			return nil, nil, fmt.Errorf("providers.%s: %w", r.Name, err)
		}
		guarded[r.Name] = submit.Guard(client, providers.NewBreaker[providers.Decision](r.Name, c.Breaker, onState), c.Timeout)
		caps[r.Name] = c.Caps
		if w, ok := b.(buyers.Warner); ok {
			for _, msg := range w.Warnings(cfg.Sandbox.Enabled) {
				log.Warn("providers." + r.Name + "." + msg)
			}
		}
	}
	return guarded, caps, nil
}

func breakerStates(cc *cashcat.Breaker, buyers map[string]*submit.Guarded) func() map[string]string {
	return func() map[string]string {
		m := map[string]string{"cashcat": cc.State().String()}
		for name, g := range buyers {
			m[name] = g.State().String()
		}
		return m
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func flowNames(cfg *config.Config) []string {
	var names []string
	for _, f := range cfg.Flows {
		names = append(names, f.Name)
	}
	return names
}
