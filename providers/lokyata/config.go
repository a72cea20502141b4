// Package lokyata is the client of Lokyata's Lead Buy API (JSON, x-api-key).
package lokyata

import (
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.lokyata:` block of the config.
type Config struct {
	BaseURL        string                  `yaml:"base_url"`
	APIKey         string                  `yaml:"api_key"`
	LeadProviderID string                  `yaml:"lead_provider_id"`
	CampaignID     string                  `yaml:"campaign_id"`
	AffiliateID    string                  `yaml:"affiliate_id"`
	LeadPrice      float64                 `yaml:"lead_price"`
	TestType       string                  `yaml:"test_type"` // Accept | Deny | Review, only for testing
	Timeout        time.Duration           `yaml:"timeout"`
	RedirectHosts  []string                `yaml:"redirect_hosts"`
	Breaker        providers.BreakerConfig `yaml:"breaker"`
	Caps           providers.CapsConfig    `yaml:"caps"`
}
