package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// FlowNames are a flow's configured variants and step keys: the only
// label values its funnel series take, so that nothing from a URL or a
// request body can grow the series.
type FlowNames struct{ Variants, Steps []string }

// Funnel counts visits per variant and the step funnel per variant.
type Funnel struct {
	visits, steps *prometheus.CounterVec
	flows         map[string]FlowNames
}

// Funnel registers the funnel's counters for the configured flows.
func (m *Metrics) Funnel(flows map[string]FlowNames) *Funnel {
	f := &Funnel{flows: flows,
		visits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_funnel_visits_total",
			Help: "Visits (sessions that came back with their cookie), by flow and experiment variant."}, []string{"flow", "variant"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadgate_funnel_steps_total",
			Help: "The step funnel, by flow, variant, stage (started, reached, left, returned: a leave of a session that came back and sent) and step."}, []string{"flow", "variant", "stage", "step"}),
	}
	m.reg.MustRegister(f.visits, f.steps)
	return f
}

// Visit counts a visit.
func (f *Funnel) Visit(flow, variant string) {
	flow, variant = f.labels(flow, variant)
	f.visits.WithLabelValues(flow, variant).Inc()
}

// Step counts a stage of the step funnel ("" step for started).
func (f *Funnel) Step(flow, variant, stage, step string) {
	names, ok := f.flows[flow]
	if step != "" && (!ok || !slices.Contains(names.Steps, step)) {
		step = "(other)"
	}
	flow, variant = f.labels(flow, variant)
	f.steps.WithLabelValues(flow, variant, stage, step).Inc()
}

// labels keeps a flow and a variant to the configured ones.
func (f *Funnel) labels(flow, variant string) (string, string) {
	names, ok := f.flows[flow]
	switch {
	case !ok:
		return "(other)", "(other)"
	case variant == "":
		return flow, "(none)"
	case !slices.Contains(names.Variants, variant):
		return flow, "(other)"
	}
	return flow, variant
}
