// Package metrics is leadgate's Prometheus instrumentation: one registry
// made in run (never the global default), filled by small hooks the other
// packages call, and served on the admin listener at /metrics.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// Metrics holds every collector.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	cashcat      *prometheus.CounterVec
	cache        *prometheus.CounterVec
	cacheHit     prometheus.Counter
	cacheNegHit  prometheus.Counter
	cacheMiss    prometheus.Counter
	balanceReqs  prometheus.Gauge
	balanceAmt   prometheus.Gauge
	attempts     *prometheus.CounterVec
	attemptTime  *prometheus.HistogramVec
	applications *prometheus.CounterVec
	revenue      *prometheus.CounterVec
	crm          prometheus.Counter
	crmBacklog   prometheus.Gauge
	pbBacklog    prometheus.Gauge
	budget       *prometheus.CounterVec
	postbacks    *prometheus.CounterVec
	series       sync.Map // routeStatus → requestSeries
}

// New registers leadgate's metrics; breakers is read at each scrape.
func New(breakers func() map[string]string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_http_requests_total",
		Help: "Requests served on the public listener, by route pattern and status."}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leadgate_http_request_duration_seconds",
		Help: "Time to answer a request, by route pattern.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"})
	m.cashcat = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_cashcat_calls_total",
		Help: "Calls made to the Cashcat Actions API (each one is paid), by result."}, []string{"result"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_cashcat_cache_total",
		Help: "Lead lookups by cache result: hit, negative_hit (known unknown token), miss."}, []string{"result"})
	m.cacheHit, m.cacheNegHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("negative_hit"), m.cache.WithLabelValues("miss")
	m.balanceReqs = prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadgate_cashcat_balance_available_requests",
		Help: "Requests left on the Cashcat balance, as last reported."})
	m.balanceAmt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadgate_cashcat_balance_amount",
		Help: "Amount left on the Cashcat balance, as last reported (its own currency)."})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_buyer_attempts_total",
		Help: "Posts to buyers, by buyer and outcome (accepted, declined, needs_fix, error, skipped)."}, []string{"buyer", "outcome"})
	m.attemptTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leadgate_buyer_attempt_duration_seconds",
		Help: "Time a buyer took to answer, by buyer.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 90}}, []string{"buyer"})
	m.applications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_applications_decided_total",
		Help: "Applications decided, by flow and status."}, []string{"flow", "status"})
	m.revenue = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_revenue_total",
		Help: "Revenue of accepted leads, by flow (in the flow's currency)."}, []string{"flow"})
	m.crm = prometheus.NewCounter(prometheus.CounterOpts{Name: "leadgate_crm_leads_mirrored_total",
		Help: "Applications mirrored to the Cashfin CRM."})
	m.crmBacklog = prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadgate_crm_backlog",
		Help: "Applications due for the Cashfin CRM mirror and not mirrored yet, as last counted: growing means the mirror falls behind."})
	m.pbBacklog = prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadgate_postback_backlog",
		Help: "Postbacks due for delivery and not delivered yet, as last counted: growing means delivery falls behind."})
	m.budget = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_cashcat_budget_refused_total",
		Help: "Cashcat calls not made because a budget was spent, by budget: ip, unknown (tokens Cashcat did not know, per IP), daily."}, []string{"budget"})
	for _, b := range []string{"ip", "unknown", "daily"} {
		m.budget.WithLabelValues(b) // every series from the start, at 0
	}
	m.postbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_postbacks_total",
		Help: "Tries to deliver a postback to a traffic source, by postback name (from the config) and result: delivered, retry, failed."}, []string{"postback", "result"})
	for _, c := range []prometheus.Collector{m.requests, m.postbacks, m.latency, m.cashcat, m.cache, m.balanceReqs, m.balanceAmt,
		m.attempts, m.attemptTime, m.applications, m.revenue, m.crm, m.crmBacklog, m.pbBacklog, m.budget,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	f(breakerCollector{read: breakers, desc: prometheus.NewDesc("leadgate_breaker_state",
		"Circuit breaker state by upstream: 0 closed, 1 half-open, 2 open.", []string{"upstream"}, nil)})
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request records one answered request. The series of each route and
// status are looked up once and kept: WithLabelValues hashes its labels
// and takes a lock on every call, and this runs on every request. Routes
// are patterns and statuses a few dozen, so the map stays small.
func (m *Metrics) Request(route string, status int, d time.Duration) {
	key := routeStatus{route, status}
	s, ok := m.series.Load(key)
	if !ok {
		s, _ = m.series.LoadOrStore(key, requestSeries{
			count:   m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route),
		})
	}
	rs := s.(requestSeries)
	rs.count.Inc()
	rs.latency.Observe(d.Seconds())
}

type routeStatus struct {
	route  string
	status int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// CacheHit, CacheNegativeHit and CacheMiss count lead lookups.
// The series are resolved once in New: a hit is counted on every cached
// landing and prefill call.
func (m *Metrics) CacheHit()         { m.cacheHit.Inc() }
func (m *Metrics) CacheNegativeHit() { m.cacheNegHit.Inc() }
func (m *Metrics) CacheMiss()        { m.cacheMiss.Inc() }

// BudgetRefused counts one Cashcat call a budget did not allow.
func (m *Metrics) BudgetRefused(budget string) { m.budget.WithLabelValues(budget).Inc() }

// CashcatFetched records one Cashcat call and the balance it reported. A
// call a budget refused or the open breaker stopped was not made (and not
// paid): BudgetRefused and the breaker's state tell about those.
func (m *Metrics) CashcatFetched(l *providers.Lead, err error) {
	result := "ok"
	switch {
	case errors.Is(err, cashcat.ErrBudgetSpent), errors.Is(err, providers.ErrBreakerOpen):
		return
	case err == nil:
	case isNotFound(err):
		result = "not_found"
	default:
		result = "error"
	}
	m.cashcat.WithLabelValues(result).Inc()
	if err == nil && l != nil && l.Balance.Known {
		m.balanceReqs.Set(float64(l.Balance.AvailableRequests))
		m.balanceAmt.Set(l.Balance.Amount)
	}
}

// Attempt records one buyer attempt.
func (m *Metrics) Attempt(buyer, _ string, outcome providers.Outcome, d time.Duration, _ float64) {
	m.attempts.WithLabelValues(buyer, string(outcome)).Inc()
	if outcome != providers.Skipped {
		m.attemptTime.WithLabelValues(buyer).Observe(d.Seconds())
	}
}

// Decided records one decided application.
func (m *Metrics) Decided(flow string, status providers.Status, revenue float64) {
	m.applications.WithLabelValues(flow, string(status)).Inc()
	if revenue > 0 {
		m.revenue.WithLabelValues(flow).Add(revenue)
	}
}

// Postback counts one try of a configured postback.
func (m *Metrics) Postback(name, result string) { m.postbacks.WithLabelValues(name, result).Inc() }

// CRMBacklog sets the applications due for the CRM mirror and not
// mirrored yet, as the mirror last counted them.
func (m *Metrics) CRMBacklog(n int) { m.crmBacklog.Set(float64(n)) }

// PostbackBacklog sets the postbacks due for delivery and not delivered
// yet, as last counted.
func (m *Metrics) PostbackBacklog(n int) { m.pbBacklog.Set(float64(n)) }

// Mirrored counts one lead mirrored to the CRM.
func (m *Metrics) Mirrored(string) { m.crm.Inc() }

// RedisShared reports, at each scrape, whether this replica shares its
// lead cache and rate limits through Redis (1) or runs unshared after
// finding Redis unreachable (0). Only a replica configured with Redis
// has the gauge.
func (m *Metrics) RedisShared(shared func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leadgate_redis_shared",
		Help: "1 while the lead cache and rate limits are shared through Redis, 0 while this replica runs unshared."},
		func() float64 {
			if shared() {
				return 1
			}
			return 0
		}))
}

type breakerCollector struct {
	read func() map[string]string
	desc *prometheus.Desc
}

func (b breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b breakerCollector) Collect(ch chan<- prometheus.Metric) {
	for name, state := range b.read() {
		v := map[string]float64{"closed": 0, "half-open": 1, "open": 2}[state]
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, v, name)
	}
}

func isNotFound(err error) bool { return errors.Is(err, providers.ErrNotFound) }
