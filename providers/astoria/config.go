// Package astoria is the client of Astoria Company's payday "direct post"
// API (form-urlencoded in, XML out, price tiers).
package astoria

import (
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.astoria:` block of the config.
type Config struct {
	BaseURL       string                  `yaml:"base_url"`
	VendorID      string                  `yaml:"vendor_id"`
	LeadMode      *int                    `yaml:"lead_mode"` // 0 = test, 1 = live; nil: not given, an error outside sandbox mode
	Tiers         []string                `yaml:"tiers"`     // [ALL] or ridden down highest first
	TimeLimit     time.Duration           `yaml:"time_limit"`
	Timeout       time.Duration           `yaml:"timeout"`
	RedirectHosts []string                `yaml:"redirect_hosts"`
	Breaker       providers.BreakerConfig `yaml:"breaker"`
	Caps          providers.CapsConfig    `yaml:"caps"`
}
