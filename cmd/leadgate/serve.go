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

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
	"github.com/leadgate/leadgate/providers/buyers"
	"github.com/leadgate/leadgate/providers/cashcat"
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
	// --- config, logger, the sandbox's own secrets ---
	cfg, cfgPath, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stdout, getenv("LEADGATE_LOG_FORMAT"))
	sandboxPassword := sandboxSecrets(cfg, log)

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
	log.Info("starting", "config", cfgPath, "addr", ln.Addr().String(), "admin_addr", adminLn.Addr().String(), "effective_config", cfg.RedactedYAML())

	// --- storage, upstreams, the workers, the handlers ---
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	up, err := newUpstreams(cfg, log)
	if err != nil {
		return err
	}
	defer up.close()
	work, err := newWork(cfg, st, up, log)
	if err != nil {
		return err
	}
	handler, admin, err := newHandlers(cfg, st, up, work, log, sandboxPublic)
	if err != nil {
		return err
	}

	// --- run until the context ends, then stop in order ---
	open := cfg.Server.PublicURL
	if sandboxPublic == "" {
		open = localBase // a loopback public_url, with the port actually bound
	}
	return serve(ctx, cfg, log, work, servers{public: newHTTPServer(handler), admin: newHTTPServer(admin), ln: ln, adminLn: adminLn},
		func() {
			log.Info("serving", "url", localBase, "sandbox", cfg.Sandbox.Enabled)
			announce(stdout, isTerminal(stdout), cfg.Sandbox.Enabled, open, browseURL(adminLn.Addr())+"/admin", cfg.Admin.Username, sandboxPassword)
		})
}

// loadConfig reads the config named by --config, LEADGATE_CONFIG or
// config.yaml, in that order.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config.Config, string, error) {
	fs := flag.NewFlagSet("leadgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: $LEADGATE_CONFIG or config.yaml)")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if *path == "" {
		*path = getenv("LEADGATE_CONFIG")
	}
	if *path == "" {
		*path = "config.yaml"
	}
	cfg, err := config.Load(*path, getenv)
	return cfg, *path, err
}

// sandboxSecrets fills, in sandbox mode only, the secrets a new user has
// not set yet, and says so. It reports whether the admin password is the
// documented sandbox one (which may then be printed).
func sandboxSecrets(cfg *config.Config, log *slog.Logger) (sandboxPassword bool) {
	if !cfg.Sandbox.Enabled {
		return false
	}
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
	return sandboxPassword
}

// openStore opens the store of storage.dsn with the keyring of the
// current and retired encryption keys.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	var old [][]byte
	for _, k := range cfg.Storage.OldEncryptionKeys {
		b, _ := base64.StdEncoding.DecodeString(k)
		old = append(old, b)
	}
	keys, err := vault.New(cfg.EncryptionKey(), old...)
	if err != nil {
		return nil, fmt.Errorf("storage.encryption_key: %w", err)
	}
	return store.Open(ctx, cfg.Storage.DSN, keys)
}

// servers are the two listeners and their HTTP servers.
type servers struct {
	public, admin *http.Server
	ln, adminLn   net.Listener
}

// serve runs the listeners and the background work until ctx ends (or a
// listener fails), then stops in order: no new requests, the requests
// and submissions in flight finished within server.shutdown_timeout.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, work *work, s servers, started func()) error {
	var wg sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.Background())
	for _, run := range work.runners() {
		wg.Add(1)
		go func() { defer wg.Done(); run(workCtx) }()
	}
	errc := make(chan error, 2)
	go func() { errc <- s.public.Serve(s.ln) }()
	go func() { errc <- s.admin.Serve(s.adminLn) }()
	started()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down: finishing requests and submissions in flight", "timeout", cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	s.public.Shutdown(sctx)
	s.admin.Shutdown(sctx)
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
		return bounded.NewLimitStore(bounded.MaxCounters)
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
	if cfg.Unknown != nil {
		// In the same store as the budget: a lookup on one replica waits
		// for the calls in flight on all of them.
		cfg.InFlight = limiter.New(store("cashcat-inflight"), cashcat.InFlightRate(c.Timeout+time.Second))
		// A lookup has cashcat.timeout + 1 s (the cache's bound on one
		// call): waiting 1 s at most leaves its call the whole timeout.
		cfg.Wait, cfg.CallTime = time.Second, c.Timeout
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
// redirects followed (a buyer's API answers, it does not redirect). It
// keeps an idle connection for each of the atOnce calls its user makes at
// once (at least 32): with fewer, every call past them opened a new
// connection (a TLS handshake across the internet) and closed it again.
func buyerHTTP(timeout time.Duration, atOnce int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = max(32, atOnce)
	tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
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
		client, err := r.New(b, buyerHTTP(c.Timeout, cfg.Submission.Workers))
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
