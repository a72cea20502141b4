package config

import (
	"fmt"
	"regexp"
	"slices"
)

// Variant is one arm of a flow's experiment (flows[].variants): a new
// session is given one by weight and keeps it. What a variant may change
// is how the same form is shown: the order of its steps, optional fields
// left out, one page instead of steps, and the headline.
type Variant struct {
	Name string `yaml:"name"`
	// Weight is the variant's share of new sessions, relative to the
	// others'; 0 stops giving it out (its sessions and history stay).
	Weight int `yaml:"weight"`
	// Steps is the order of the flow's step keys (all of them); empty:
	// the flow's own order.
	Steps []string `yaml:"steps"`
	// Skip lists optional fields not asked.
	Skip []string `yaml:"skip"`
	// Layout is "steps" (the default) or "one_page".
	Layout string `yaml:"layout"`
	// Headline is the catalog key of the page's headline; empty: the
	// form's own.
	Headline string `yaml:"headline"`
}

// Layouts a variant may have.
var Layouts = []string{"", "steps", "one_page"}

// variantName keeps variant names fit for a metric label, a CSV cell and
// the CRM's source detail: short, lowercase, no spaces.
var (
	variantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	// flowName: a flow's name is written in links (?flow=), in each
	// form (flow/variant), in metrics and in the drafts' step signals
	// (flow:step); none of them may be broken by it.
	flowName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)
	catalogKey = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
)

// validateVariants checks what can be checked without the forms (their
// steps and fields are checked when the flows are prepared).
func validateVariants(key string, vs []Variant, p *problems) {
	if len(vs) == 0 {
		return
	}
	names := map[string]bool{}
	total := 0
	for i, v := range vs {
		vk := fmt.Sprintf("%s.variants[%d]", key, i)
		switch {
		case !variantName.MatchString(v.Name):
			p.add(vk+".name", "want 1-32 lowercase letters, digits, - or _, got %q", v.Name)
		case names[v.Name]:
			p.add(vk+".name", "variant %q is defined twice", v.Name)
		}
		names[v.Name] = true
		if v.Weight < 0 {
			p.add(vk+".weight", "want 0 or more, got %d", v.Weight)
		}
		total += max(v.Weight, 0)
		if !slices.Contains(Layouts, v.Layout) {
			p.add(vk+".layout", "want steps or one_page, got %q", v.Layout)
		}
		if v.Headline != "" && !catalogKey.MatchString(v.Headline) {
			p.add(vk+".headline", "want a catalog key such as form.title, got %q", v.Headline)
		}
	}
	if total == 0 {
		p.add(key+".variants", "the weights add up to 0: give at least one variant a weight (100/0 stops an experiment)")
	}
}
