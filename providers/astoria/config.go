// Package astoria is the client of Astoria Company's payday "direct post"
// API (form-urlencoded in, XML out, price tiers).
package astoria

import (
	"fmt"
	"slices"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Config is the `providers.astoria:` block of the config.
type Config struct {
	providers.BuyerConfig `yaml:",inline"`
	VendorID              string        `yaml:"vendor_id"`
	LeadMode              *int          `yaml:"lead_mode"` // 0 = test, 1 = live; nil: not given, an error outside sandbox mode
	Tiers                 []string      `yaml:"tiers"`     // [ALL] or ridden down highest first
	TimeLimit             time.Duration `yaml:"time_limit"`
}

// Defaults fills what the file left empty. In sandbox mode lead_mode is
// 0, test: the sandbox refuses live leads.
func (c *Config) Defaults(sandbox bool) {
	if c.TimeLimit == 0 {
		c.TimeLimit = 60 * time.Second
	}
	if len(c.Tiers) == 0 {
		c.Tiers = []string{"ALL"}
	}
	if c.LeadMode == nil && sandbox {
		c.LeadMode = new(0)
	}
	// Astoria works on a lead for up to time_limit: our HTTP timeout must
	// outlast it, or we would give up on leads it is about to accept.
	c.Fill(c.TimeLimit + 15*time.Second)
}

// Validate checks the block, naming each key relative to it.
func (c *Config) Validate(sandbox bool) error {
	var p providers.Problems
	p.Under("", c.Check(sandbox))
	if !c.Configured() {
		return p.Err()
	}
	if c.VendorID == "" {
		p.Add("vendor_id", "required")
	}
	switch m := c.LeadMode; {
	case m == nil:
		p.Add("lead_mode", "required outside sandbox mode: 1 (live) or 0 (test, nothing is sold)")
	case *m != 0 && *m != 1:
		p.Add("lead_mode", "want 0 (test) or 1 (live), got %d", *m)
	}
	for i, tier := range c.Tiers {
		if _, ok := TierPrice(tier); !ok {
			p.Add(fmt.Sprintf("tiers[%d]", i), "unknown tier %q (want ALL or one of Astoria's, such as tier150 or tier2.25)", tier)
		}
	}
	if slices.Contains(c.Tiers, "ALL") && len(c.Tiers) > 1 {
		p.Add("tiers", "ALL already rides every tier: list it alone or list tiers without it")
	}
	if lim := c.TimeLimit; lim < 60*time.Second || lim%time.Second != 0 {
		p.Add("time_limit", "must be whole seconds and at least 60s (Astoria does not try its partners with less), got %s", lim)
	}
	if c.Timeout <= c.TimeLimit {
		p.Add("timeout", "must be longer than time_limit (%s), or leads Astoria is about to accept are given up", c.TimeLimit)
	}
	return p.Err()
}

// Warnings are what an operator should know at start.
func (c *Config) Warnings(sandbox bool) []string {
	if c.LeadMode != nil && *c.LeadMode == 0 && !sandbox {
		return []string{"lead_mode is 0: Astoria takes every lead as a test lead and pays for none"}
	}
	return nil
}

// Redacted is a copy that is safe to log: Astoria's block has no secret.
func (c *Config) Redacted() Config { return *c }
