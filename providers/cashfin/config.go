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
	// Workers is how many applications are mirrored at once. A first try
	// is one call across the internet (a retry two: look up, then create),
	// and a worker is held for the store's record of it too: about
	// applications a second × (the call + a few milliseconds). The load
	// test (calls of 20 ms) needed 256 at 2,000 a second.
	Workers int `yaml:"workers"`
}

// Defaults fills what the file left empty.
func (c *Config) Defaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
}

// Validate checks the block, naming each key relative to it.
func (c *Config) Validate(sandbox bool) error {
	var p providers.Problems
	if c.Workers < 1 || c.Workers > 256 {
		p.Add("workers", "must be from 1 to 256")
	}
	if !c.Enabled {
		return p.Err()
	}
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
