// Package cashfin is the client of the Cashfin Leads API, the CRM that
// mirrors every lead and its outcome.
package cashfin

import "time"

// Config is the `providers.cashfin:` block of the config.
type Config struct {
	Enabled      bool          `yaml:"enabled"`
	BaseURL      string        `yaml:"base_url"`
	ClientSecret string        `yaml:"client_secret"`
	Timeout      time.Duration `yaml:"timeout"`
}
