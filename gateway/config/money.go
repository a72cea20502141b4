package config

import (
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/leadgate/leadgate/gateway/postback"
	"github.com/leadgate/leadgate/providers"
)

// Attribution is the `attribution:` block.
type Attribution struct {
	// ClickParams are, per utm_source glob, the query parameters that
	// carry that source's click id (besides gclid, fbclid and the other
	// ad platforms' own, always captured): {cashcat.ph: [click_id]}.
	ClickParams map[string][]string `yaml:"click_params"`
}

// ClickParamsOf are the click parameters captured for a visit from
// source: the ad platforms' and those configured for the source.
func (a Attribution) ClickParamsOf(source string) []string {
	names := slices.Clone(providers.ClickParams)
	for glob, params := range a.ClickParams {
		if ok, _ := path.Match(strings.ToLower(glob), strings.ToLower(source)); ok {
			for _, p := range params {
				if !slices.Contains(names, p) {
					names = append(names, p)
				}
			}
		}
	}
	return names
}

// allClickParams are every configured click parameter, each a macro.
func (a Attribution) allClickParams() []string {
	var all []string
	for _, params := range a.ClickParams {
		all = append(all, params...)
	}
	return all
}

// Postback is one entry of `postbacks:`: a conversion report to a traffic
// source, sent on some events of the applications it matches.
type Postback struct {
	Name string `yaml:"name"`
	// Match holds globs on utm_source, utm_medium, utm_campaign,
	// utm_content, utm_term and flow; every key given must match.
	Match  map[string][]string `yaml:"match"`
	On     []string            `yaml:"on"`     // accepted, declined, redirected
	Method string              `yaml:"method"` // GET (default) or POST
	URL    string              `yaml:"url"`
	Body   string              `yaml:"body"`
	// BodyType is form (default) or json: how macros in the body are
	// escaped, and the request's Content-Type.
	BodyType    string        `yaml:"body_type"`
	Timeout     time.Duration `yaml:"timeout"`
	GiveUpAfter time.Duration `yaml:"give_up_after"`
}

// Template is the postback's request.
func (p Postback) Template() postback.Template {
	return postback.Template{Method: p.Method, URL: p.URL, Body: p.Body, JSON: p.BodyType == "json"}
}

// Wants says whether the postback is sent on event for an application of
// flow with attribution a.
func (p Postback) Wants(event, flow string, a providers.Attribution) bool {
	if !slices.Contains(p.On, event) {
		return false
	}
	values := map[string]string{"utm_source": a.Source, "utm_medium": a.Medium, "utm_campaign": a.Campaign,
		"utm_content": a.Content, "utm_term": a.Term, "flow": flow}
	for key, globs := range p.Match {
		matched := false
		for _, g := range globs {
			if ok, _ := path.Match(strings.ToLower(g), strings.ToLower(values[key])); ok && values[key] != "" {
				matched = true
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// PostbacksFor names the postbacks that want event of an application of
// flow with attribution a.
func (c *Config) PostbacksFor(event, flow string, a providers.Attribution) []string {
	var names []string
	for _, pb := range c.Postbacks {
		if pb.Wants(event, flow, a) {
			names = append(names, pb.Name)
		}
	}
	return names
}

// Dedupe is a flow's `dedupe:` block: a consumer is posted to a buyer
// once within window, recognised by any of keys.
type Dedupe struct {
	Window time.Duration `yaml:"window"`
	Keys   []string      `yaml:"keys"`
}

// DedupeKeys are the fields a consumer can be recognised by.
var DedupeKeys = []string{"ssn", "national_id", "email", "mobile_phone"}

var postbackName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

func (c *Config) fillMoney() {
	for i := range c.Postbacks {
		pb := &c.Postbacks[i]
		if pb.Method == "" {
			pb.Method = http.MethodGet
		}
		if pb.BodyType == "" {
			pb.BodyType = "form"
		}
		if pb.Timeout == 0 {
			pb.Timeout = 10 * time.Second
		}
		if pb.GiveUpAfter == 0 {
			pb.GiveUpAfter = 72 * time.Hour
		}
	}
}

func (c *Config) validateMoney(p *problems) {
	for glob, params := range c.Attribution.ClickParams {
		key := "attribution.click_params." + glob
		if _, err := path.Match(glob, ""); err != nil {
			p.add(key, "bad glob %q", glob)
		}
		for _, name := range params {
			if !regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`).MatchString(name) {
				p.add(key, "%q is not a query parameter name", name)
			}
		}
	}
	names := map[string]bool{}
	for i, pb := range c.Postbacks {
		key := fmt.Sprintf("postbacks[%d]", i)
		switch {
		case !postbackName.MatchString(pb.Name):
			p.add(key+".name", "%q: want lowercase letters, digits, - and _", pb.Name)
		case names[pb.Name]:
			p.add(key+".name", "postback %q is defined twice", pb.Name)
		}
		names[pb.Name] = true
		if len(pb.On) == 0 {
			p.add(key+".on", "at least one of %s", strings.Join(postback.Events, ", "))
		}
		for _, ev := range pb.On {
			if !slices.Contains(postback.Events, ev) {
				p.add(key+".on", "unknown event %q (want %s)", ev, strings.Join(postback.Events, ", "))
			}
		}
		for k, globs := range pb.Match {
			if !slices.Contains([]string{"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "flow"}, k) {
				p.add(key+".match."+k, "unknown key")
			}
			for _, g := range globs {
				if _, err := path.Match(g, ""); err != nil {
					p.add(key+".match."+k, "bad glob %q", g)
				}
			}
		}
		if pb.BodyType != "form" && pb.BodyType != "json" {
			p.add(key+".body_type", "want form or json, got %q", pb.BodyType)
		}
		if pb.Timeout <= 0 || pb.GiveUpAfter <= 0 {
			p.add(key, "timeout and give_up_after must be positive")
		}
		p.under(key, pb.Template().Check(c.Attribution.allClickParams(), c.Sandbox.Enabled))
	}
	for i, f := range c.Flows {
		if f.Dedupe == nil {
			continue
		}
		key := fmt.Sprintf("flows[%d].dedupe", i)
		if f.Dedupe.Window <= 0 {
			p.add(key+".window", "must be positive, such as 720h")
		}
		if len(f.Dedupe.Keys) == 0 {
			p.add(key+".keys", "at least one of %s", strings.Join(DedupeKeys, ", "))
		}
		for _, k := range f.Dedupe.Keys {
			if !slices.Contains(DedupeKeys, k) {
				p.add(key+".keys", "unknown key %q (want %s)", k, strings.Join(DedupeKeys, ", "))
			}
		}
	}
	if cost := c.Cashcat.CostPerCall; cost != nil {
		// Spend and revenue are added up per currency: one code per money.
		if cost.Amount < 0 {
			p.add("cashcat.cost_per_call.amount", "cannot be negative")
		}
		if len(cost.Currency) != 3 || strings.ToUpper(cost.Currency) != cost.Currency {
			p.add("cashcat.cost_per_call.currency", "want a 3-letter code such as USD, got %q", cost.Currency)
		}
	}
}
