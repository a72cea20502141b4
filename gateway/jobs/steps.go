package jobs

import (
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// The step funnel is counted beside the visits, on the same lines (day,
// flow, first touch, variant, with the same bound on campaigns) and
// flushed with them: its stages line up with the visits they follow, and
// every replica adds to the same rows of the shared store.

// Started counts a session's first touched field (gateway.StepCounter).
func (v *Visits) Started(flow string, a providers.Attribution) {
	v.step(flow, a, store.StageStarted, "")
}

// Reached counts a session reaching a step.
func (v *Visits) Reached(flow string, a providers.Attribution, step string) {
	v.step(flow, a, store.StageReached, step)
}

// Left counts a session leaving on a step, and the last field it touched
// (a name; "" when it touched none, which is not counted).
func (v *Visits) Left(flow string, a providers.Attribution, step, field string) {
	v.step(flow, a, store.StageLeft, step)
	if field != "" {
		v.step(flow, a, store.StageLastField, field)
	}
}

func (v *Visits) step(flow string, a providers.Attribution, stage, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	// Not paid: a step never takes a place its visit did not have.
	v.stepLocked(store.StepKey{FunnelKey: v.keyLocked(flow, a, false), Stage: stage, Name: name}, 1)
}

func (v *Visits) stepLocked(k store.StepKey, n int64) {
	if v.steps == nil {
		v.steps = map[store.StepKey]int64{}
	}
	v.steps[k] += n
}
