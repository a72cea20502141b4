// Package config loads leadgate's YAML config in one step: read, expand
// ${ENV} references, decode strictly into typed structs, fill defaults and
// validate, with every error naming the key it is about.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ulule/limiter/v3"
	"gopkg.in/yaml.v3"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/postback"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/buyers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// Config is the whole of config.yaml (SPEC §2).
type Config struct {
	Server     Server         `yaml:"server"`
	Admin      Admin          `yaml:"admin"`
	Storage    Storage        `yaml:"storage"`
	Redis      Redis          `yaml:"redis"`
	RateLimits RateLimits     `yaml:"rate_limits"`
	Cashcat    cashcat.Config `yaml:"cashcat"`
	Providers  Providers      `yaml:"providers"`
	PrefillAPI PrefillAPI     `yaml:"prefill_api"`
	Submission Submission     `yaml:"submission"`
	Flows      []Flow         `yaml:"flows"`
	Sandbox    Sandbox        `yaml:"sandbox"`
	Funnel     Funnel         `yaml:"funnel"`
	Drafts     Drafts         `yaml:"drafts"`
	// Attribution and Postbacks close the money loop (money.go).
	Attribution Attribution `yaml:"attribution"`
	Postbacks   []Postback  `yaml:"postbacks"`
}

// Funnel is the `funnel:` block: the marketers' counts.
type Funnel struct {
	// MaxCampaignsPerDay bounds the distinct (utm_source, utm_campaign)
	// pairs counted per day; the rest count as "(other)", so random
	// campaign names cannot grow the dashboard without bound.
	MaxCampaignsPerDay int `yaml:"max_campaigns_per_day"`
}

// Drafts is the `drafts:` block: what a consumer typed, kept server-side
// until sent.
type Drafts struct {
	// TTL is how long a draft is kept after its last save: at most a
	// session's life (24h), as no cookie could reach it later.
	TTL time.Duration `yaml:"ttl"`
}

// Server is the `server:` block.
type Server struct {
	Addr            string        `yaml:"addr"`
	AdminAddr       string        `yaml:"admin_addr"`
	PublicURL       string        `yaml:"public_url"`
	TrustedProxies  []string      `yaml:"trusted_proxies"`
	SessionSecret   string        `yaml:"session_secret"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	// AccessLogSample logs one answer in N below 400 on the public
	// listener (every error and slow answer always); 1 logs every one.
	AccessLogSample int `yaml:"access_log_sample"`
}

// Admin is the `admin:` block: HTTP Basic credentials of /admin.
type Admin struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Storage is the `storage:` block.
type Storage struct {
	DSN           string `yaml:"dsn"`
	EncryptionKey string `yaml:"encryption_key"`
	// OldEncryptionKeys still decrypt what was written before a rotation.
	OldEncryptionKeys []string      `yaml:"old_encryption_keys"`
	Retention         time.Duration `yaml:"retention"`
}

// Redis is the `redis:` block.
type Redis struct {
	URL string `yaml:"url"`
	// KeyPrefix namespaces every key, so that several deployments (or
	// test runs) can share one Redis.
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds every Redis call on the request path (dial, wait,
	// write, read and retries): past it the call is late, not failed.
	Timeout time.Duration `yaml:"timeout"`
}

// RateLimits are ulule/limiter rates ("60-M") per client IP.
type RateLimits struct {
	Landing    string `yaml:"landing"`
	Apply      string `yaml:"apply"`
	PrefillAPI string `yaml:"prefill_api"`
	// PrefillBrowser limits keyless prefill calls from an allowed Origin
	// (prefill.js): an Origin header proves nothing, so they get less.
	PrefillBrowser string `yaml:"prefill_browser"`
	// Draft limits the form's draft saves and its pagehide beacon.
	Draft string `yaml:"draft"`
}

// PrefillAPI is the `prefill_api:` block.
type PrefillAPI struct {
	Keys           []string `yaml:"keys"`
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Submission tunes how applications are sent to buyers.
type Submission struct {
	// Workers is how many applications one replica submits at once.
	Workers int `yaml:"workers"`
	// Wait is how long POST /apply holds the consumer for a decision
	// before sending them to the waiting page.
	Wait time.Duration `yaml:"wait"`
	// Lease is how long a worker owns an application it claimed unless
	// it renews it; a killed process's work is freed at once (the store
	// ties leases to the process), so it bounds only a stuck worker.
	Lease time.Duration `yaml:"lease"`
}

// Flow is one entry of `flows:`.
type Flow struct {
	Name        string              `yaml:"name"`
	Form        string              `yaml:"form"`
	Locale      string              `yaml:"locale"`
	Currency    string              `yaml:"currency"`
	Buyers      []string            `yaml:"buyers"`
	FallbackURL string              `yaml:"fallback_url"`
	Match       map[string][]string `yaml:"match"`
	Default     bool                `yaml:"default"`
	Deadline    time.Duration       `yaml:"deadline"`
	// Dedupe, when set, posts a consumer to each buyer once per window.
	Dedupe *Dedupe `yaml:"dedupe"`
	// Variants, when set, run an experiment on the flow's form.
	Variants []Variant `yaml:"variants"`
	// Steps are the screens of the form in order (the form's default
	// when empty); checked against the form's sections at start.
	Steps []form.Step `yaml:"steps"`
	// TermsURL and PrivacyURL, when set, make the words naming the terms
	// and the privacy policy in the terms consent links (links.go).
	TermsURL   string `yaml:"terms_url"`
	PrivacyURL string `yaml:"privacy_url"`
	// NoOffer is what the no-offer page says and offers.
	NoOffer NoOffer `yaml:"no_offer"`
}

// Sandbox is the `sandbox:` block.
type Sandbox struct {
	Enabled bool `yaml:"enabled"`
}

// Forms, locales and match keys that exist (the buyers that exist are
// the table's, providers/buyers).
var (
	Forms     = []string{"es", "us"}
	Locales   = []string{"es", "en"}
	MatchKeys = []string{"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "country", "host"}
)

// Load reads the config at file, expanding ${NAME} (and ${NAME:-default})
// from getenv.
func Load(file string, getenv func(string) string) (*Config, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(raw, getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// Parse is Load on bytes.
func Parse(raw []byte, getenv func(string) string) (*Config, error) {
	// ${NAME} is expanded inside scalar values of the parsed document, not
	// in its text: a secret holding a quote, a colon or a # stays one
	// string. Only the ${NAME} form is expanded: a bare $ is common in
	// passwords.
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	expand(&doc, getenv)
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true) // a misspelt key is an error, not a silent default
	// An empty file decodes to io.EOF: all defaults, then validation.
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func expand(n *yaml.Node, getenv func(string) string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			sub := envRef.FindStringSubmatch(m)
			if v := getenv(sub[1]); v != "" {
				return v
			}
			return sub[2]
		})
		// No tag and no style: the emitter quotes what must be quoted (a
		// colon, a #), and a number stays a number for an int key.
		n.Tag, n.Style = "", 0
		if n.Value == "" {
			n.Style = 0
			n.Tag = "!!null" // unset: as if the key were absent, so defaults hold
			n.Value = "null" // in a flow mapping an empty null is written ''
		}
	}
	for _, c := range n.Content {
		expand(c, getenv)
	}
}

// Default is the config before the file is read.
func Default() *Config {
	return &Config{
		Server: Server{
			Addr: ":8080", AdminAddr: "127.0.0.1:9090", PublicURL: "http://localhost:8080",
			ShutdownTimeout: 20 * time.Second, MaxBodyBytes: 64 << 10, AccessLogSample: 1,
		},
		Admin:      Admin{Username: "admin"},
		Storage:    Storage{DSN: "sqlite://leadgate.db", Retention: 720 * time.Hour},
		RateLimits: RateLimits{Landing: "60-M", Apply: "10-M", PrefillAPI: "120-M", PrefillBrowser: "30-M", Draft: "120-M"},
		Cashcat: cashcat.Config{
			BaseURL: "https://cashcat.ph", Timeout: 3 * time.Second,
			CacheTTL: 30 * time.Minute, NegativeCacheTTL: 2 * time.Minute, CacheMaxEntries: 200_000,
			Breaker:     providers.BreakerConfig{Failures: 5, OpenFor: 30 * time.Second},
			BudgetPerIP: "120-H", UnknownBudgetPerIP: "10-H",
		},
		Providers:  newProviders(),
		Funnel:     Funnel{MaxCampaignsPerDay: 500},
		Submission: Submission{Workers: 8, Wait: 5 * time.Second, Lease: 15 * time.Second},
		Drafts:     Drafts{TTL: 24 * time.Hour},
	}
}

// fill sets the defaults that depend on what the file said.
func (c *Config) fill() {
	c.fillMoney()
	breaker := func(b *providers.BreakerConfig) {
		if b.Failures == 0 {
			b.Failures = 5
		}
		if b.OpenFor == 0 {
			b.OpenFor = 30 * time.Second
		}
	}
	timeout := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	breaker(&c.Cashcat.Breaker)
	if c.Redis.KeyPrefix == "" {
		c.Redis.KeyPrefix = "leadgate:"
	}
	timeout(&c.Redis.Timeout, 250*time.Millisecond)
	c.Providers.complete()
	for _, b := range c.Providers.Buyers {
		b.Defaults(c.Sandbox.Enabled)
	}
	c.Providers.Cashfin.Defaults()
	for i := range c.Flows {
		f := &c.Flows[i]
		if f.Deadline == 0 {
			f.Deadline = 90 * time.Second
		}
		if f.Form == "" {
			f.Form = f.Name
		}
		if f.Locale == "" {
			f.Locale = map[string]string{"es": "es", "us": "en"}[f.Form]
		}
	}
}

// Configured reports whether a buyer has a block with a base URL.
func (c *Config) Configured(buyer string) bool {
	b := c.Providers.Buyer(buyer)
	return b != nil && b.Common().Configured()
}

// EncryptionKey decodes storage.encryption_key (already validated).
func (c *Config) EncryptionKey() []byte {
	k, _ := base64.StdEncoding.DecodeString(c.Storage.EncryptionKey)
	return k
}

type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// under adds the problems of a block that validates itself (a provider's),
// with their keys placed under key.
func (p *problems) under(key string, err error) {
	var q providers.Problems
	q.Under(key, err)
	*p = append(*p, q...)
}

// validateServerAndStorage checks the server: and storage: blocks.
func (c *Config) validateServerAndStorage(p *problems) {
	sandbox := c.Sandbox.Enabled
	if c.Server.Addr == "" {
		p.add("server.addr", "empty")
	}
	if u, err := url.Parse(c.Server.PublicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		p.add("server.public_url", "%q is not an absolute http(s) url", c.Server.PublicURL)
	}
	for i, cidr := range c.Server.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil && net.ParseIP(cidr) == nil {
			p.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR or IP", cidr)
		}
	}
	if !sandbox && len(c.Server.SessionSecret) < 32 {
		p.add("server.session_secret", "must be at least 32 characters outside sandbox mode (set LEADGATE_SESSION_SECRET)")
	}
	if c.Server.MaxBodyBytes <= 0 {
		p.add("server.max_body_bytes", "must be positive")
	}
	if c.Server.AccessLogSample < 1 {
		p.add("server.access_log_sample", "must be 1 (every answer logged) or more")
	}

	if !strings.HasPrefix(c.Storage.DSN, "sqlite://") && !strings.HasPrefix(c.Storage.DSN, "postgres://") && !strings.HasPrefix(c.Storage.DSN, "postgresql://") {
		p.add("storage.dsn", "want sqlite://PATH or postgres://..., got %q", redactDSN(c.Storage.DSN))
	}
	checkKey := func(key, v string) {
		if k, err := base64.StdEncoding.DecodeString(v); err != nil || len(k) != 32 {
			p.add(key, "must be 32 bytes in base64 (make one with: openssl rand -base64 32)")
		}
	}
	switch {
	case c.Storage.EncryptionKey != "":
		checkKey("storage.encryption_key", c.Storage.EncryptionKey)
	case !sandbox:
		p.add("storage.encryption_key", "missing: required outside sandbox mode (set LEADGATE_ENCRYPTION_KEY)")
	}
	for i, k := range c.Storage.OldEncryptionKeys {
		checkKey(fmt.Sprintf("storage.old_encryption_keys[%d]", i), k)
	}
	if c.Storage.Retention <= 0 {
		p.add("storage.retention", "must be positive")
	}
}

func (c *Config) validate() error {
	var p problems
	sandbox := c.Sandbox.Enabled

	c.validateServerAndStorage(&p)
	if c.Redis.URL != "" && !strings.HasPrefix(c.Redis.URL, "redis://") && !strings.HasPrefix(c.Redis.URL, "rediss://") {
		p.add("redis.url", "want redis://host:port/db")
	}
	if c.Redis.Timeout < 0 {
		p.add("redis.timeout", "must be positive")
	}
	for key, rate := range map[string]string{"rate_limits.landing": c.RateLimits.Landing, "rate_limits.apply": c.RateLimits.Apply,
		"rate_limits.prefill_api": c.RateLimits.PrefillAPI, "rate_limits.prefill_browser": c.RateLimits.PrefillBrowser,
		"rate_limits.draft": c.RateLimits.Draft} {
		if _, err := limiter.NewRateFromFormatted(rate); err != nil {
			p.add(key, "%q is not a rate such as 60-M", rate)
		}
	}
	for key, rate := range map[string]string{"cashcat.budget_per_ip": c.Cashcat.BudgetPerIP, "cashcat.unknown_budget_per_ip": c.Cashcat.UnknownBudgetPerIP} {
		if _, err := limiter.NewRateFromFormatted(rate); err != nil && rate != "off" {
			p.add(key, "%q is not a rate such as 120-H (or off)", rate)
		}
	}
	if c.Cashcat.DailyBudget < 0 {
		p.add("cashcat.daily_budget", "cannot be negative (0: no daily ceiling)")
	}
	if c.Drafts.TTL <= 0 || c.Drafts.TTL > 24*time.Hour {
		p.add("drafts.ttl", "must be positive and at most 24h (a session's life)")
	}
	if c.Funnel.MaxCampaignsPerDay < 1 {
		p.add("funnel.max_campaigns_per_day", "must be at least 1")
	}

	p.under("cashcat.base_url", providers.CheckUpstream(c.Cashcat.BaseURL, sandbox))
	if c.Cashcat.Timeout <= 0 {
		p.add("cashcat.timeout", "must be positive")
	}
	if c.Cashcat.CacheTTL <= 0 {
		p.add("cashcat.cache_ttl", "must be positive")
	}

	for _, r := range buyers.All() {
		p.under("providers."+r.Name, c.Providers.Buyer(r.Name).Validate(sandbox))
	}
	p.under("providers.cashfin", c.Providers.Cashfin.Validate(sandbox))

	for i, k := range c.PrefillAPI.Keys {
		if len(k) < 16 {
			p.add(fmt.Sprintf("prefill_api.keys[%d]", i), "too short: use at least 16 random characters")
		}
	}
	for i, o := range c.PrefillAPI.AllowedOrigins {
		origin, ok := browserOrigin(o)
		if !ok {
			p.add(fmt.Sprintf("prefill_api.allowed_origins[%d]", i), "%q is not an origin such as https://lender.example", o)
			continue
		}
		c.PrefillAPI.AllowedOrigins[i] = origin
	}
	if c.Submission.Workers < 1 {
		p.add("submission.workers", "must be at least 1")
	}
	if c.Submission.Lease < 3*time.Second {
		// Renewed every third of itself while a worker waits on buyers.
		p.add("submission.lease", "must be at least 3s")
	}

	c.validateFlows(&p)
	c.validateMoney(&p)
	return errors.Join(p...)
}

// browserOrigin writes an origin as a browser sends it in its Origin
// header (the Fetch standard's serialisation): lowercase scheme and host,
// no default port, no trailing slash. The gateway then compares origins
// exactly.
func browserOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

func (c *Config) validateFlows(p *problems) {
	if len(c.Flows) == 0 {
		p.add("flows", "at least one flow is required")
	}
	names := map[string]bool{}
	defaults := 0
	for i, f := range c.Flows {
		key := fmt.Sprintf("flows[%d]", i)
		switch {
		case f.Name == "":
			p.add(key+".name", "empty")
		case !flowName.MatchString(f.Name):
			p.add(key+".name", "%q: letters, digits, - and _ only (it is written in links, pages and counts)", providers.Cut(f.Name, 40))
		case names[f.Name]:
			p.add(key+".name", "flow %q is defined twice", f.Name)
		}
		names[f.Name] = true
		if !slices.Contains(Forms, f.Form) {
			p.add(key+".form", "unknown form %q (want one of %s)", f.Form, strings.Join(Forms, ", "))
		}
		if fm := form.Forms[f.Form]; fm != nil && len(f.Steps) > 0 {
			if err := fm.CheckSteps(f.Steps); err != nil {
				p.add(key+".steps", "%v", err)
			}
		}
		if !slices.Contains(Locales, f.Locale) {
			p.add(key+".locale", "unknown locale %q (want one of %s)", f.Locale, strings.Join(Locales, ", "))
		}
		if len(f.Currency) != 3 || strings.ToUpper(f.Currency) != f.Currency {
			p.add(key+".currency", "want a 3-letter code such as EUR, got %q", f.Currency)
		}
		if len(f.Buyers) == 0 {
			p.add(key+".buyers", "a flow needs at least one buyer")
		}
		seen := map[string]bool{}
		for j, b := range f.Buyers {
			bk := fmt.Sprintf("%s.buyers[%d]", key, j)
			switch {
			case !slices.Contains(buyers.Names(), b):
				p.add(bk, "unknown buyer %q (want one of %s)", b, strings.Join(buyers.Names(), ", "))
			case !c.Configured(b):
				p.add(bk, "buyer %q is not configured under providers.%s", b, b)
			case seen[b]:
				p.add(bk, "buyer %q is listed twice", b)
			}
			seen[b] = true
		}
		if f.FallbackURL != "" {
			if _, err := providers.CheckRedirect(f.FallbackURL, nil); err != nil {
				p.add(key+".fallback_url", "%q is not an absolute http(s) url", providers.RedactURL(f.FallbackURL))
			}
		}
		for k, globs := range f.Match {
			if !slices.Contains(MatchKeys, k) {
				p.add(key+".match."+k, "unknown key (want one of %s)", strings.Join(MatchKeys, ", "))
			}
			for _, g := range globs {
				if _, err := path.Match(g, ""); err != nil {
					p.add(key+".match."+k, "bad glob %q", g)
				}
			}
		}
		validateVariants(key, f.Variants, p)
		validateLinks(key, f, p)
		if f.Default {
			defaults++
		}
		if f.Deadline < 10*time.Second {
			p.add(key+".deadline", "must be at least 10s")
		}

	}
	if defaults > 1 {
		p.add("flows", "%d flows are marked default: at most one may be", defaults)
	}
}

// ResolveLocal rewrites every upstream base URL that is a path into an
// absolute URL on base, the address this gateway actually listens on.
func (c *Config) ResolveLocal(base string) {
	urls := []*string{&c.Cashcat.BaseURL, &c.Providers.Cashfin.BaseURL}
	for i := range c.Postbacks {
		urls = append(urls, &c.Postbacks[i].URL)
	}
	for _, b := range c.Providers.Buyers {
		urls = append(urls, &b.Common().BaseURL)
	}
	for _, u := range urls {
		if strings.HasPrefix(*u, "/") {
			*u = strings.TrimRight(base, "/") + *u
		}
	}
}

// Redacted is a copy that is safe to log: every credential is masked.
func (c *Config) Redacted() Config {
	r := *c
	mask := func(s *string) {
		if *s != "" {
			*s = "***"
		}
	}
	mask(&r.Server.SessionSecret)
	mask(&r.Admin.Password)
	mask(&r.Storage.EncryptionKey)
	r.Storage.OldEncryptionKeys = slices.Repeat([]string{"***"}, len(c.Storage.OldEncryptionKeys))
	r.Storage.DSN = redactDSN(r.Storage.DSN)
	r.Redis.URL = redactDSN(r.Redis.URL)
	r.Cashcat.BaseURL = providers.RedactURL(r.Cashcat.BaseURL)
	r.Cashcat.EgressProxy = providers.RedactURL(r.Cashcat.EgressProxy)
	r.Providers = c.Providers.Redacted()
	r.PrefillAPI.Keys = slices.Repeat([]string{"***"}, len(c.PrefillAPI.Keys))
	r.Flows = slices.Clone(c.Flows)
	for i := range r.Flows {
		r.Flows[i].FallbackURL = providers.RedactURL(r.Flows[i].FallbackURL)
	}
	r.Postbacks = slices.Clone(c.Postbacks)
	for i := range r.Postbacks {
		r.Postbacks[i].URL = postback.Redact(r.Postbacks[i].URL)
		if r.Postbacks[i].BodyType == "json" {
			r.Postbacks[i].Body = postback.RedactJSON(r.Postbacks[i].Body)
		} else {
			r.Postbacks[i].Body = postback.RedactForm(r.Postbacks[i].Body)
		}
	}
	return r
}

// RedactedYAML is Redacted written as YAML, with the file's own key names:
// the effective config as an operator would write it.
func (c *Config) RedactedYAML() string {
	r := c.Redacted()
	b, err := yaml.Marshal(&r)
	if err != nil {
		return "(unprintable: " + err.Error() + ")"
	}
	return string(b)
}

// redactDSN hides the password of a URL-shaped DSN: its user's password
// and its secret parameters (pgx takes ?password=).
func redactDSN(dsn string) string { return providers.RedactURL(dsn) }
