// Package cashcat is the client of Cashcat's Actions API: GET the lead behind
// an action token, from the lender's whitelisted egress IP. Every call costs
// the lender money, so the client is meant to sit behind Cache and a breaker.
package cashcat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `cashcat:` block of the config.
type Config struct {
	BaseURL          string                  `yaml:"base_url"`
	EgressProxy      string                  `yaml:"egress_proxy"`
	EgressLocalAddr  string                  `yaml:"egress_local_addr"`
	Timeout          time.Duration           `yaml:"timeout"`
	CacheTTL         time.Duration           `yaml:"cache_ttl"`
	NegativeCacheTTL time.Duration           `yaml:"negative_cache_ttl"`
	CacheMaxEntries  int                     `yaml:"cache_max_entries"`
	Breaker          providers.BreakerConfig `yaml:"breaker"`
	// BudgetPerIP and UnknownBudgetPerIP are rates ("120-H", or "off") of
	// paid calls one client IP may cause, in all and for tokens Cashcat
	// did not know; DailyBudget is the deployment's paid calls per UTC day
	// (0: no ceiling).
	BudgetPerIP        string `yaml:"budget_per_ip"`
	UnknownBudgetPerIP string `yaml:"unknown_budget_per_ip"`
	DailyBudget        int64  `yaml:"daily_budget"`
	// CostPerCall is what one paid call costs, for spend and profit; unset,
	// it is read from the balance Cashcat reports (an estimate).
	CostPerCall *Cost `yaml:"cost_per_call"`
}

// Cost is an amount of money in a currency.
type Cost struct {
	Amount   float64 `yaml:"amount"`
	Currency string  `yaml:"currency"`
}

// ValidToken reports whether s has the shape of an action token: 16
// letters or digits. Anything else is never sent upstream (it would cost
// money to learn it is unknown). A loop, not a regexp: it runs on every
// landing and prefill call.
func ValidToken(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// maxBody bounds what we read of an answer; a lead is well under 4 KiB.
const maxBody = 64 << 10

// Client fetches leads from the Actions API.
type Client struct {
	base *url.URL
	http *http.Client
	log  *slog.Logger
}

// New returns a client for the API at baseURL, calling through hc (see
// NewHTTPClient for one that leaves from the whitelisted IP).
func New(baseURL string, hc *http.Client, log *slog.Logger) (*Client, error) {
	u, err := providers.BaseURL("cashcat", baseURL)
	if err != nil {
		return nil, err
	}
	return &Client{base: u, http: hc, log: log}, nil
}

// NewHTTPClient returns an HTTP client whose connections leave through
// cfg.EgressProxy, or from the local address cfg.EgressLocalAddr: Cashcat
// authorises requests by source IP, so the lender's whitelisted address
// must be the one that calls.
func NewHTTPClient(cfg Config) (*http.Client, error) {
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil, // never the environment's proxy: only the whitelisted path
		DialContext:           dialer.DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
	}
	if cfg.EgressProxy != "" {
		u, err := url.Parse(cfg.EgressProxy)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("cashcat.egress_proxy: %q is not an http(s) proxy url", providers.RedactURL(cfg.EgressProxy))
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if cfg.EgressLocalAddr != "" {
		ip := net.ParseIP(cfg.EgressLocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("cashcat.egress_local_addr: %q is not an ip address", cfg.EgressLocalAddr)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// The Actions API never redirects; following one could send the
		// paid request (and its answer) somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Lead fetches the lead behind token. Errors wrap the providers sentinels:
// ErrNotFound (404), ErrUnauthorized (401: our IP is not whitelisted),
// ErrPaymentRequired (402), ErrBadResponse, ErrUnavailable.
func (c *Client) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	if !ValidToken(token) {
		return nil, fmt.Errorf("cashcat: %w: malformed action token", providers.ErrRejectedRequest)
	}
	body, status, err := c.do(ctx, token)
	switch {
	case status == http.StatusUnauthorized, status == http.StatusPaymentRequired:
		// Refused before any lead was looked up: our IP is not on
		// Cashcat's list (it cannot know whom to bill), or the balance
		// is empty. The funnel's spend counts nothing for either.
	case status != 0 || !errors.Is(err, providers.ErrNotDelivered):
		// The request left: Cashcat may charge for it, whatever else it
		// answered (its document does not say), so it is counted.
		spent(ctx)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusOK:
		lead, err := Parse(body)
		if err != nil {
			return nil, fmt.Errorf("cashcat: %w", err)
		}
		return lead, nil
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("cashcat: %w", providers.ErrNotFound)
	case status == http.StatusUnauthorized:
		// Operator-facing: nothing the consumer did; the lender must fix
		// the whitelist. The consumer still gets the form, unfilled.
		c.log.Error("cashcat refuses our egress ip: ask cashcat to whitelist it",
			"alert", "cashcat_unauthorized", "cashcat_code", errorCode(body))
		return nil, fmt.Errorf("cashcat: %w", providers.ErrUnauthorized)
	case status == http.StatusPaymentRequired:
		c.log.Error("cashcat balance exhausted: top up to get prefill data again",
			"alert", "cashcat_payment_required", "cashcat_code", errorCode(body))
		return nil, fmt.Errorf("cashcat: %w", providers.ErrPaymentRequired)
	case status >= 500:
		return nil, fmt.Errorf("cashcat: %w: status %d", providers.ErrUnavailable, status)
	default:
		// 405 and any other 4xx: our request is wrong, Cashcat is fine.
		return nil, fmt.Errorf("cashcat: %w: status %d", providers.ErrRejectedRequest, status)
	}
}

func (c *Client) do(ctx context.Context, token string) ([]byte, int, error) {
	u := c.base.JoinPath("api/v1/actions/action", token)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("cashcat: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// Cashcat's statuses mean their own things (402: balance used up):
	// read in Lead. The transport error never carries the URL's token.
	status, body, err := providers.Send(c.http, req, "cashcat", maxBody)
	return body, status, err
}
