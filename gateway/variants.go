package gateway

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"sync"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/views"
)

// experiment is a flow's variants: one *Flow copy per variant, shown to
// the sessions assigned to it, and the weights new sessions are dealt by.
type experiment struct {
	arms    []*Flow // in config order: the first is the one the others are compared with
	weights []int
	// mu guards current: smooth weighted round robin (as nginx balances
	// upstreams), so that a replica's new sessions follow the weights
	// closely even over a few dozen sessions, and interleaved, so that
	// no variant gets the morning and another the evening.
	mu      sync.Mutex
	current []int
}

// newExperiment makes the variant copies of flow i from its config.
func newExperiment(i int, base *Flow) (*experiment, error) {
	if len(base.Variants) == 0 {
		return nil, nil
	}
	ex := &experiment{current: make([]int, len(base.Variants))}
	for j, v := range base.Variants {
		arm, err := variantFlow(base, v)
		if err != nil {
			return nil, fmt.Errorf("flows[%d].variants[%d]: %w", i, j, err)
		}
		ex.arms = append(ex.arms, arm)
		ex.weights = append(ex.weights, max(v.Weight, 0))
	}
	return ex, nil
}

// variantFlow is base as variant v shows it: its steps in v's order, the
// skipped fields out of the form, its layout and headline.
func variantFlow(base *Flow, v config.Variant) (*Flow, error) {
	arm := *base
	arm.Variant, arm.experiment = v.Name, nil
	f, err := base.Form.Without(v.Skip)
	if err != nil {
		return nil, fmt.Errorf("skip: %w", err)
	}
	arm.Form = f
	arm.OnePage = v.Layout == "one_page"
	if v.Headline != "" {
		arm.Headline = v.Headline
	}
	if len(v.Steps) > 0 {
		if arm.Steps, err = reorder(base.Steps, v.Steps); err != nil {
			return nil, err
		}
	}
	return &arm, nil
}

// reorder puts steps in the order of keys, which must name each of them
// once: a step left out would leave its fields unasked.
func reorder(steps []form.Step, keys []string) ([]form.Step, error) {
	if len(keys) != len(steps) {
		return nil, fmt.Errorf("steps: list each of the flow's %d steps once, got %d", len(steps), len(keys))
	}
	out := make([]form.Step, 0, len(steps))
	for _, k := range keys {
		i := slices.IndexFunc(steps, func(s form.Step) bool { return s.Key == k })
		if i < 0 || slices.ContainsFunc(out, func(s form.Step) bool { return s.Key == k }) {
			return nil, fmt.Errorf("steps: %q is not one of the flow's steps, or is listed twice", k)
		}
		out = append(out, steps[i])
	}
	return out, nil
}

// deal picks the variant of a new session by weight.
func (ex *experiment) deal() *Flow {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	best, total := -1, 0
	for i, w := range ex.weights {
		ex.current[i] += w
		total += w
		if w > 0 && (best < 0 || ex.current[i] > ex.current[best]) {
			best = i
		}
	}
	ex.current[best] -= total
	return ex.arms[best]
}

// Assign returns the flow as the session's variant shows it, and that
// variant's name: the one the session has (sticky, even once its weight
// is 0: an experiment stops for new sessions only), else one dealt by
// weight. A flow without variants is itself, with no name.
func (f *Flow) Assign(variant string) (*Flow, string) {
	if f.experiment == nil {
		return f, ""
	}
	if arm := f.As(variant); arm != f {
		return arm, variant
	}
	arm := f.experiment.deal()
	return arm, arm.Variant
}

// Dealing says whether variant is an arm new sessions are dealt (its
// weight above 0), or the flow has no experiment and variant is "".
func (f *Flow) Dealing(variant string) bool {
	if f.experiment == nil {
		return variant == ""
	}
	for i, arm := range f.experiment.arms {
		if arm.Variant == variant {
			return f.experiment.weights[i] > 0
		}
	}
	return false
}

// Stable is the arm of f that key always gets, drawn by the weights of
// the arms new sessions are dealt (the flow itself without variants). It
// takes no turn of the round robin: asked at every draft save of one
// session, it answers the same, and the new sessions' deal is untouched.
func (f *Flow) Stable(key string) *Flow {
	ex := f.experiment
	if ex == nil {
		return f
	}
	total := 0
	for _, w := range ex.weights {
		total += w
	}
	if total == 0 {
		return f
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	n := int(h.Sum32() % uint32(total))
	for i, w := range ex.weights {
		if n < w {
			return ex.arms[i]
		}
		n -= w
	}
	return f
}

// As is the flow as variant shows it; the flow itself when it has no such
// variant.
func (f *Flow) As(variant string) *Flow {
	if f.experiment == nil || variant == "" {
		return f
	}
	for _, arm := range f.experiment.arms {
		if arm.Variant == variant {
			return arm
		}
	}
	return f
}

// VariantNames lists the flow's variants in config order (none without an
// experiment): the only variant names counted.
func (f *Flow) VariantNames() []string {
	if f.experiment == nil {
		return nil
	}
	names := make([]string, len(f.experiment.arms))
	for i, a := range f.experiment.arms {
		names[i] = a.Variant
	}
	return names
}

// checkVariants makes sure each variant of f can be shown: its headline
// is a message of the flow's language.
func checkVariants(f *Flow, vs *views.Views) error {
	for _, name := range f.VariantNames() {
		if h := f.As(name).Headline; h != "" {
			if _, ok := vs.Catalog(f.Locale)[h]; !ok {
				return fmt.Errorf("variant %s: headline %q is not a message in %q", name, h, f.Locale)
			}
		}
	}
	return nil
}

// firstVariant is the variant a session asks for of flow: its own, else,
// for a session that has none yet, the link's ?variant= (the link
// builder's, to buy traffic for one variant) while that variant is dealt:
// a stopped one's links, still out there, get a dealt arm. Assign keeps
// only a name the flow has.
func firstVariant(sess session.Session, flow *Flow, q url.Values) string {
	if sess.Attribution.Variant != "" {
		return sess.Attribution.Variant
	}
	if v := q.Get("variant"); flow.Dealing(v) {
		return v
	}
	return ""
}
