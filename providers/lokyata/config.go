// Package lokyata is the client of Lokyata's Lead Buy API (JSON, x-api-key).
package lokyata

import (
	"slices"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.lokyata:` block of the config.
type Config struct {
	providers.BuyerConfig `yaml:",inline"`
	APIKey                string  `yaml:"api_key"`
	LeadProviderID        string  `yaml:"lead_provider_id"`
	CampaignID            string  `yaml:"campaign_id"`
	AffiliateID           string  `yaml:"affiliate_id"`
	LeadPrice             float64 `yaml:"lead_price"`
	TestType              string  `yaml:"test_type"` // Accept | Deny | Review, only for testing
}

// Defaults fills what the file left empty.
func (c *Config) Defaults(sandbox bool) { c.Fill(30 * time.Second) }

// Validate checks the block, naming each key relative to it.
func (c *Config) Validate(sandbox bool) error {
	var p providers.Problems
	p.Under("", c.Check(sandbox))
	if !c.Configured() {
		return p.Err()
	}
	if c.APIKey == "" {
		p.Add("api_key", "required (set LOKYATA_API_KEY)")
	}
	// Sent in every post: a NaN or an infinity cannot be written as JSON,
	// so no post could be made at all.
	if why := providers.PriceProblem(c.LeadPrice); why != "" {
		p.Add("lead_price", "%s", why)
	}
	if t := c.TestType; t != "" && !slices.Contains([]string{"Accept", "Deny", "Review"}, t) {
		p.Add("test_type", "want Accept, Deny or Review, got %q", t)
	}
	return p.Err()
}

// Warnings are what an operator should know at start.
func (c *Config) Warnings(sandbox bool) []string {
	if c.TestType != "" {
		return []string{"test_type is set: Lokyata answers test decisions, not real ones (" + c.TestType + ")"}
	}
	return nil
}

// Redacted is a copy that is safe to log.
func (c *Config) Redacted() Config {
	r := *c
	r.APIKey = providers.Mask(r.APIKey)
	return r
}
