// Package cashfin is the client of the Cashfin Leads API, the CRM that
// mirrors every lead and its outcome.
package cashfin

import (
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.cashfin:` block of the config. Cashfin is not
// a buyer: it has neither breaker nor caps, and is on when enabled.
type Config struct {
	Enabled      bool          `yaml:"enabled"`
	BaseURL      string        `yaml:"base_url"`
	ClientSecret string        `yaml:"client_secret"`
	Timeout      time.Duration `yaml:"timeout"`
}

// Defaults fills what the file left empty.
func (c *Config) Defaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
}

// Validate checks the block, naming each key relative to it.
func (c *Config) Validate(sandbox bool) error {
	if !c.Enabled {
		return nil
	}
	var p providers.Problems
	p.Under("base_url", providers.CheckUpstream(c.BaseURL, sandbox))
	if c.ClientSecret == "" {
		p.Add("client_secret", "required when cashfin is enabled (set CASHFIN_CLIENT_SECRET)")
	}
	return p.Err()
}

// Redacted is a copy that is safe to log.
func (c *Config) Redacted() Config {
	r := *c
	r.ClientSecret = providers.Mask(r.ClientSecret)
	return r
}
