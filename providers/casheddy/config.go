package casheddy

import (
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.casheddy:` block of the config.
type Config struct {
	providers.BuyerConfig `yaml:",inline"`
	Username              string `yaml:"username"`
	Password              string `yaml:"password"`
	// LeadPrice is what the contract with Casheddy pays for an accepted
	// lead: its answer carries no price, so without it the flow's revenue,
	// EPC and postbacks' payout would read 0.
	LeadPrice float64 `yaml:"lead_price"`
}

// Defaults fills what the file left empty.
func (c *Config) Defaults(sandbox bool) { c.Fill(30 * time.Second) }

// Validate checks the block, naming each key relative to it.
func (c *Config) Validate(sandbox bool) error {
	var p providers.Problems
	p.Under("", c.Check(sandbox))
	if c.Configured() && (c.Username == "" || c.Password == "") {
		p.Add("", "username and password are required (set CASHEDDY_USERNAME and CASHEDDY_PASSWORD)")
	}
	if why := providers.PriceProblem(c.LeadPrice); why != "" {
		p.Add("lead_price", "%s", why)
	}
	return p.Err()
}

// Redacted is a copy that is safe to log.
func (c *Config) Redacted() Config {
	r := *c
	r.Password = providers.Mask(r.Password)
	return r
}
