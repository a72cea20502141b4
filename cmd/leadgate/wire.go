package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/gateway"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/redis"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/submit"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
	"github.com/leadgate/leadgate/providers/cashfin"
	"github.com/leadgate/leadgate/providers/sandbox"
	"github.com/leadgate/leadgate/templates"
)

// upstreams are the clients of the upstream APIs as the handlers and the
// workers use them, each behind its breaker, plus the shared state.
type upstreams struct {
	met *metrics.Metrics
	// leads is Cashcat: the in-process cache in front of the shared
	// (Redis) cache, in front of the budgets, the breaker and HTTP.
	leads *cashcat.Cache
	// cost is what one paid call costs: configured, or estimated from the
	// last balance Cashcat reported.
	cost       func() (cashcat.Cost, bool)
	buyers     map[string]*submit.Guarded
	caps       map[string]providers.CapsConfig
	limitStore func(prefix string) limiter.Store // nil: in memory
	breakers   func() map[string]string          // upstream → closed, half-open, open
	redisState func() string
	close      func()
	// openings counts each breaker's openings, for the dashboard.
	openings *openings
}

// openings counts how often each upstream's breaker opened.
type openings struct {
	mu sync.Mutex
	n  map[string]int64
}

func (o *openings) add(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[name]++
}

func (o *openings) counts() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

// newUpstreams builds the upstream clients, the metrics that watch them
// and, with redis.url, what replicas share.
func newUpstreams(cfg *config.Config, log *slog.Logger) (*upstreams, error) {
	up := &upstreams{redisState: func() string { return "not configured" }, close: func() {}, openings: &openings{n: map[string]int64{}}}
	onState := func(name string, from, to gobreaker.State) {
		log.Warn("circuit breaker changed state", "upstream", name, "from", from.String(), "to", to.String())
		if to == gobreaker.StateOpen {
			up.openings.add(name)
		}
	}
	// Metrics read the breakers at each scrape; they are all made below,
	// before the first scrape can happen.
	var breakers func() map[string]string
	up.met = metrics.New(func() map[string]string { return breakers() })

	cashcatHTTP, err := cashcat.NewHTTPClient(cfg.Cashcat)
	if err != nil {
		return nil, err
	}
	cc, err := cashcat.New(cfg.Cashcat.BaseURL, cashcatHTTP, log)
	if err != nil {
		return nil, fmt.Errorf("cashcat.base_url: %w", err)
	}
	ccBreaker := cashcat.NewBreaker(cc, providers.NewBreaker[*providers.Lead]("cashcat", cfg.Cashcat.Breaker, onState))
	var rs *redis.Conn
	if cfg.Redis.URL != "" {
		if rs, err = redis.Open(cfg.Redis.URL, cfg.Redis.Timeout, log); err != nil {
			return nil, fmt.Errorf("redis.url: not a redis:// url")
		}
		up.close = func() { rs.Close() }
		up.limitStore = func(prefix string) limiter.Store { return redis.NewLimitStore(rs, cfg.Redis.KeyPrefix, prefix) }
		up.met.RedisShared(rs.Shared)
		up.redisState = func() string {
			if rs.Check(context.Background()) {
				return "ok"
			}
			return "unreachable: running unshared (per-replica lead cache and rate limits)"
		}
	}
	estimate := &costEstimate{}
	up.cost = estimate.get
	if c := cfg.Cashcat.CostPerCall; c != nil {
		up.cost = func() (cashcat.Cost, bool) { return *c, true }
	}
	if up.leads, err = leadChain(cfg, ccBreaker, rs, up.limitStore, up.met, estimate, log); err != nil {
		up.close()
		return nil, err
	}
	if up.buyers, up.caps, err = newBuyers(cfg, onState, log); err != nil {
		up.close()
		return nil, err
	}
	breakers = breakerStates(ccBreaker, up.buyers)
	up.breakers = breakers
	return up, nil
}

// leadChain is Cashcat as the pages see it: the in-process cache in front
// of the shared cache (with Redis), in front of the budgets of paid calls
// (behind every cache: a cached token costs nothing), the breaker and HTTP.
func leadChain(cfg *config.Config, breaker *cashcat.Breaker, rs *redis.Conn, limitStore func(string) limiter.Store,
	met *metrics.Metrics, estimate *costEstimate, log *slog.Logger) (*cashcat.Cache, error) {
	watchBalance := balanceWatch(log)
	fetched := func(l *providers.Lead, err error) {
		met.CashcatFetched(l, err)
		watchBalance(l, err)
		estimate.observe(l, err)
	}
	events := cashcat.CacheEvents{Hit: met.CacheHit, NegativeHit: met.CacheNegativeHit, Miss: met.CacheMiss, Fetched: fetched}
	budget, err := cashcatBudget(breaker, cfg.Cashcat, limitStore, met, log)
	if err != nil {
		return nil, err
	}
	var behind cashcat.Source = budget
	if rs != nil {
		shared := redis.NewLeads(rs, cfg.Redis.KeyPrefix, budget, cfg.Cashcat.CacheTTL, cfg.Cashcat.NegativeCacheTTL, cfg.Cashcat.Timeout+time.Second)
		// Only real Cashcat calls count as calls: a shared hit is not one.
		shared.Fetched, events.Fetched = fetched, nil
		behind = shared
	}
	return cashcat.NewCache(behind, cfg.Cashcat.CacheTTL, cfg.Cashcat.NegativeCacheTTL, cfg.Cashcat.CacheMaxEntries,
		cfg.Cashcat.Timeout+time.Second, events), nil
}

// work is what runs in the background: the buyer waterfall, the CRM
// mirror, retention and the visit counter.
type work struct {
	worker    *submit.Worker
	mirror    *jobs.Mirror    // nil: mirroring off
	postbacks *jobs.Postbacks // nil: none configured
	retention *jobs.Retention
	visits    *jobs.Visits
}

// newWork builds the background work on the store.
func newWork(cfg *config.Config, st *store.Store, up *upstreams, log *slog.Logger) (*work, error) {
	// Config validation has made sure every flow's buyers are configured.
	clients := map[string]submit.Buyer{}
	for name, g := range up.buyers {
		clients[name] = g
	}
	flows := map[string][]string{}
	dedupe := map[string]time.Duration{}
	for _, f := range cfg.Flows {
		flows[f.Name] = f.Buyers
		if f.Dedupe != nil {
			dedupe[f.Name] = f.Dedupe.Window
		}
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
	w := &work{
		worker: submit.New(st, clients, flows, submit.Config{
			Owner: owner, Lease: cfg.Submission.Lease, Workers: cfg.Submission.Workers,
			Caps: up.caps, CRM: cfg.Providers.Cashfin.Enabled, Dedupe: dedupe, Postbacks: cfg.PostbacksFor,
		}, log, submit.Events{Attempt: up.met.Attempt, Decided: up.met.Decided}),
		retention: &jobs.Retention{Store: st, Keep: cfg.Storage.Retention, Drafts: st, DraftTTL: cfg.Drafts.TTL, Log: log},
		visits:    &jobs.Visits{Store: st, Log: log, MaxCampaigns: cfg.Funnel.MaxCampaignsPerDay},
	}
	if c := cfg.Providers.Cashfin; c.Enabled {
		client, err := cashfin.New(c, buyerHTTP(c.Timeout, c.Workers))
		if err != nil {
			return nil, fmt.Errorf("providers.cashfin: %w", err)
		}
		w.mirror = &jobs.Mirror{Store: st, CRM: client, Owner: owner, Log: log, Workers: c.Workers, Done: up.met.Mirrored, Backlog: up.met.CRMBacklog}
	}
	if len(cfg.Postbacks) > 0 {
		specs := map[string]jobs.PostbackSpec{}
		for _, pb := range cfg.Postbacks {
			specs[pb.Name] = jobs.PostbackSpec{Template: pb.Template(), Timeout: pb.Timeout, GiveUpAfter: pb.GiveUpAfter}
		}
		pbHTTP := buyerHTTP(time.Minute, jobs.PostbackWorkers)
		w.postbacks = &jobs.Postbacks{Store: st, Specs: specs, HTTP: pbHTTP, Owner: owner, Log: log, Done: up.met.Postback,
			Backlog: up.met.PostbackBacklog}
	}
	return w, nil
}

// runners are the background loops, each run until its context ends.
func (w *work) runners() []func(context.Context) {
	r := []func(context.Context){w.worker.Run, w.retention.Run, w.visits.Run}
	if w.mirror != nil {
		r = append(r, w.mirror.Run)
	}
	if w.postbacks != nil {
		r = append(r, w.postbacks.Run)
	}
	return r
}

// newHandlers builds the public and the admin listeners' handlers.
func newHandlers(cfg *config.Config, st *store.Store, up *upstreams, w *work, log *slog.Logger, sandboxPublic string) (public, admin http.Handler, err error) {
	pages, err := views.New(templates.FS, views.Options{TestFill: cfg.Sandbox.Enabled})
	if err != nil {
		return nil, nil, err
	}
	var sb http.Handler
	if cfg.Sandbox.Enabled {
		sb = sandbox.New(sandbox.Options{PublicURL: sandboxPublic})
	}
	counted := countedFunnel{Visits: w.visits, m: up.met.Funnel(funnelNames(cfg.Flows))}
	public, err = gateway.NewServer(gateway.Deps{
		Config: cfg, Log: log, Leads: up.leads, Store: st, Drafts: st, Submitter: w.worker, Views: pages, Sandbox: sb,
		Observe: up.met.Request, Funnel: counted, Steps: counted, LimitStore: up.limitStore, DedupeSecret: dedupeSecret(cfg.EncryptionKey()),
	})
	if err != nil {
		return nil, nil, err
	}
	currencies := map[string]string{}
	for _, f := range cfg.Flows {
		currencies[f.Name] = f.Currency
	}
	admin = gateway.NewAdmin(gateway.AdminDeps{Log: log, Store: st, Views: pages, Breakers: up.breakers, Metrics: up.met.Handler(),
		Redis: up.redisState, Username: cfg.Admin.Username, Password: cfg.Admin.Password, PublicURL: cfg.Server.PublicURL, Flows: flowNames(cfg),
		Currencies: currencies, Cost: up.cost, FlowConfig: cfg.Flows, BreakerOpenings: up.openings.counts})
	return public, admin, nil
}

// dedupeSecret is the key of the duplicate keys' hashes, derived from the
// encryption key: the hashes are worth nothing without it, and it needs
// no key of its own. (Rotating the encryption key starts a new window.)
func dedupeSecret(encryptionKey []byte) []byte {
	m := hmac.New(sha256.New, encryptionKey)
	m.Write([]byte("leadgate dedupe keys v1"))
	return m.Sum(nil)
}

// costEstimate is what one Cashcat call costs, as Cashcat's own balance
// tells it: the amount left over the requests it still allows. An
// estimate (a balance topped up at another price skews it): the README
// recommends cashcat.cost_per_call.
type costEstimate struct {
	mu   sync.Mutex
	cost cashcat.Cost
	ok   bool
}

func (e *costEstimate) observe(l *providers.Lead, err error) {
	if err != nil || l == nil || !l.Balance.Known || l.Balance.AvailableRequests <= 0 || l.Balance.Currency == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cost, e.ok = cashcat.Cost{Amount: l.Balance.Amount / float64(l.Balance.AvailableRequests), Currency: l.Balance.Currency}, true
}

func (e *costEstimate) get() (cashcat.Cost, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cost, e.ok
}
