package providers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// BuyerConfig is what every buyer's block of the config has. Each buyer's
// own Config embeds it inline, so the keys stay where an operator writes
// them (`providers.lokyata.timeout`), and so the gateway wires every buyer
// alike: client timeout, breaker, caps.
type BuyerConfig struct {
	// BaseURL switches the buyer on: a block without one is not used.
	BaseURL       string        `yaml:"base_url"`
	Timeout       time.Duration `yaml:"timeout"`
	RedirectHosts []string      `yaml:"redirect_hosts"`
	Breaker       BreakerConfig `yaml:"breaker"`
	Caps          CapsConfig    `yaml:"caps"`
}

// Common is b itself: through the embedding, every buyer's Config answers
// it, which is how the gateway reads the shared keys of any buyer.
func (b *BuyerConfig) Common() *BuyerConfig { return b }

// Configured reports whether the buyer is on: it has a base URL.
func (b *BuyerConfig) Configured() bool { return b.BaseURL != "" }

// Fill sets the shared defaults: timeout, when the file gave none, and
// the breaker's (5 failures, open for 30s).
func (b *BuyerConfig) Fill(timeout time.Duration) {
	if b.Timeout == 0 {
		b.Timeout = timeout
	}
	if b.Breaker.Failures == 0 {
		b.Breaker.Failures = 5
	}
	if b.Breaker.OpenFor == 0 {
		b.Breaker.OpenFor = 30 * time.Second
	}
}

// Check validates the shared keys, each named relative to the block:
// base_url when the buyer is on, and the caps, which are checked even in a
// block that is off.
func (b *BuyerConfig) Check(sandbox bool) error {
	var p Problems
	if b.Configured() {
		p.Under("base_url", CheckUpstream(b.BaseURL, sandbox))
	}
	if tz := b.Caps.Timezone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			p.Add("caps.timezone", "unknown time zone %q", tz)
		}
	}
	if b.Caps.Hourly < 0 || b.Caps.Daily < 0 {
		p.Add("caps", "caps cannot be negative")
	}
	return p.Err()
}

// CheckUpstream accepts an upstream's base URL: an absolute http(s) URL,
// or, in sandbox mode, a path such as /sandbox/cashcat that points at the
// gateway's own listener.
func CheckUpstream(raw string, sandbox bool) error {
	if raw == "" {
		return errors.New("empty")
	}
	if strings.HasPrefix(raw, "/") {
		if !sandbox {
			return fmt.Errorf("%q is a path: only allowed with sandbox.enabled", RedactURL(raw))
		}
		return nil
	}
	if u, err := url.Parse(raw); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an absolute http(s) url", RedactURL(raw))
	}
	return nil
}

// Mask hides a secret in a config written to the log: "***", or "" when
// there was none, so a missing secret still shows.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "***"
}

// RedactURL hides what a URL in the logged config may carry of a secret:
// its user and password (a proxy's, a DSN's, a base URL's), its fragment
// and the value of every query parameter (a DSN's ?password=, an
// ?api_key=, an ?access=). What is left names the place: scheme, host,
// path and the parameters' names. Unparseable, it shows nothing of
// itself.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		// Not a URL with an authority: "user:pass@host:3128" reads as a
		// scheme and an opaque part, which would print as it came.
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "***" + raw[i:]
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	if u.Fragment != "" {
		u.Fragment = "***"
	}
	// A user alone may be the secret (https://TOKEN@host); beside a
	// password it names the account.
	user := ""
	if u.User != nil {
		user = "***@"
		if _, ok := u.User.Password(); ok {
			user = url.PathEscape(u.User.Username()) + ":***@"
		}
		u.User = nil
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "***"
		} else {
			// Every value: a parameter's name need not say it holds a
			// secret (?access=, ?code=, ?s=).
			for k := range q {
				q[k] = []string{"***"}
			}
			u.RawQuery = q.Encode()
		}
	}
	out := strings.ReplaceAll(u.String(), "%2A%2A%2A", "***") // readable, not escaped
	if user != "" {
		scheme, rest, ok := strings.Cut(out, "://")
		if !ok {
			return "***" // a user and no authority to put it before
		}
		out = scheme + "://" + user + rest
	}
	return out
}

// ConfigError is one problem of a config block. Key names where it is,
// relative to the block ("" for the block itself): whoever reads the
// block puts its own place in front (`providers.lokyata.` + `api_key`).
type ConfigError struct {
	Key, Problem string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return e.Problem
	}
	return e.Key + ": " + e.Problem
}

// Problems collects what is wrong with a config block.
type Problems []error

// Add records a problem of key.
func (p *Problems) Add(key, format string, args ...any) {
	*p = append(*p, &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

// Under records the problems of err, a sub-block's or a value's, with
// their keys placed under key. A plain error is a problem of key itself.
func (p *Problems) Under(key string, err error) {
	if err == nil {
		return
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			p.Under(key, e)
		}
		return
	}
	ce, ok := err.(*ConfigError)
	if !ok {
		*p = append(*p, &ConfigError{Key: key, Problem: err.Error()})
		return
	}
	switch {
	case key == "":
		*p = append(*p, ce)
	case ce.Key == "":
		*p = append(*p, &ConfigError{Key: key, Problem: ce.Problem})
	case strings.HasPrefix(ce.Key, "["):
		*p = append(*p, &ConfigError{Key: key + ce.Key, Problem: ce.Problem})
	default:
		*p = append(*p, &ConfigError{Key: key + "." + ce.Key, Problem: ce.Problem})
	}
}

// Err is every problem joined, or nil when there is none.
func (p Problems) Err() error { return errors.Join(p...) }
