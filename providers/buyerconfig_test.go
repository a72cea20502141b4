package providers

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A block names its keys relative to itself; whoever reads it puts the
// block's place in front, whatever the shape of the key.
func TestProblemsUnderAKey(t *testing.T) {
	var block Problems
	block.Add("", "username and password are required")
	block.Add("tiers[1]", "unknown tier")
	block.Add("[0]", "first")
	block.Under("caps", errors.Join(&ConfigError{Key: "timezone", Problem: "unknown time zone"}, errors.New("plain")))
	var p Problems
	p.Under("providers.x", block.Err())
	got := p.Err().Error()
	want := strings.Join([]string{"providers.x: username and password are required", "providers.x.tiers[1]: unknown tier",
		"providers.x[0]: first", "providers.x.caps.timezone: unknown time zone", "providers.x.caps: plain"}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var none Problems
	none.Under("providers.x", nil)
	if none.Err() != nil {
		t.Errorf("no problem: got %v", none.Err())
	}
}

func TestSharedBuyerKeys(t *testing.T) {
	tests := []struct {
		name    string
		cfg     BuyerConfig
		sandbox bool
		want    string // "" when valid
	}{
		{"off: base_url not needed", BuyerConfig{}, false, ""},
		{"absolute url", BuyerConfig{BaseURL: "https://buyer.example/api"}, false, ""},
		{"a path in sandbox mode", BuyerConfig{BaseURL: "/sandbox/x"}, true, ""},
		{"a path outside sandbox mode", BuyerConfig{BaseURL: "/sandbox/x"}, false, `base_url: "/sandbox/x" is a path: only allowed with sandbox.enabled`},
		{"not http", BuyerConfig{BaseURL: "ftp://buyer.example"}, false, `base_url: "ftp://buyer.example" is not an absolute http(s) url`},
		{"caps checked even when off", BuyerConfig{Caps: CapsConfig{Timezone: "Mars/Olympus"}}, false, `caps.timezone: unknown time zone "Mars/Olympus"`},
		{"negative caps", BuyerConfig{BaseURL: "https://b.example", Caps: CapsConfig{Hourly: -1}}, false, "caps: caps cannot be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Check(tt.sandbox); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	b := BuyerConfig{}
	b.Fill(time.Minute)
	if b.Timeout != time.Minute || b.Breaker.Failures != 5 || b.Breaker.OpenFor != 30*time.Second {
		t.Errorf("defaults: got %+v", b)
	}
}
