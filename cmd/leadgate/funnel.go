package main

import (
	"github.com/leadgate/leadgate/gateway"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/metrics"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// countedFunnel is the visit and step counter with its Prometheus
// series: each count goes to the store's batches and to /metrics.
type countedFunnel struct {
	*jobs.Visits
	m *metrics.Funnel
}

func (c countedFunnel) Visit(flow string, a providers.Attribution, prefilled bool) {
	c.Visits.Visit(flow, a, prefilled)
	c.m.Visit(flow, a.Variant)
}

func (c countedFunnel) Started(flow string, a providers.Attribution) {
	c.Visits.Started(flow, a)
	c.m.Step(flow, a.Variant, store.StageStarted, "")
}

func (c countedFunnel) Reached(flow string, a providers.Attribution, step string) {
	c.Visits.Reached(flow, a, step)
	c.m.Step(flow, a.Variant, store.StageReached, step)
}

func (c countedFunnel) Left(line string) {
	c.Visits.Left(line)
	if k, step, _, ok := jobs.ReadLeftLine(line); ok {
		c.m.Step(k.Flow, k.Variant, store.StageLeft, step)
	}
}

// Returned counts, in /metrics, a leave taken back under its own stage:
// a counter only goes up, so left less returned is who left for good.
func (c countedFunnel) Returned(line string) {
	c.Visits.Returned(line)
	if k, step, _, ok := jobs.ReadLeftLine(line); ok {
		c.m.Step(k.Flow, k.Variant, store.StageReturned, step)
	}
}

// funnelNames are the configured flows' variants and steps, the label
// values of the funnel's series.
func funnelNames(cfg []config.Flow) map[string]metrics.FlowNames {
	out := map[string]metrics.FlowNames{}
	flows, err := gateway.NewFlows(cfg)
	if err != nil {
		return out // the public listener refuses to start on it anyway
	}
	for _, c := range cfg {
		f := flows.ByName(c.Name)
		n := metrics.FlowNames{Variants: f.VariantNames()}
		for _, s := range f.Steps {
			n.Steps = append(n.Steps, s.Key)
		}
		out[c.Name] = n
	}
	return out
}

var (
	_ gateway.VisitCounter = countedFunnel{}
	_ gateway.StepCounter  = countedFunnel{}
)
