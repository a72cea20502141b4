package jobs

import (
	"net/url"

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

// LeftLine is the line a session leaving now on step, field the last it
// touched, is counted on: what Left counts and Returned takes back. The
// session's draft keeps it (store.MarkLeft), so the leave is taken back on
// the very line it was counted on, whatever day or replica the session
// comes back on to send.
func (v *Visits) LeftLine(flow string, a providers.Attribution, step, field string) string {
	v.mu.Lock()
	k := v.keyLocked(flow, a, false)
	v.mu.Unlock()
	return url.Values{"day": {k.Day}, "flow": {k.Flow}, "source": {k.Source}, "campaign": {k.Campaign},
		"variant": {k.Variant}, "step": {step}, "field": {field}}.Encode()
}

// Left counts a session leaving on its line (LeftLine): the step it was
// on, and the last field it touched (not counted when it touched none).
func (v *Visits) Left(line string) { v.leave(line, 1) }

// Returned takes back the leave counted on line: the session came back
// and sent its application, so it did not leave without sending. Counted
// in memory like the leave, the two add up to nothing in the store,
// flushed by one replica or two.
func (v *Visits) Returned(line string) { v.leave(line, -1) }

func (v *Visits) leave(line string, n int64) {
	k, step, field, ok := ReadLeftLine(line)
	if !ok {
		return // not a line LeftLine wrote: nothing to count
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stepLocked(store.StepKey{FunnelKey: k, Stage: store.StageLeft, Name: step}, n)
	if field != "" {
		v.stepLocked(store.StepKey{FunnelKey: k, Stage: store.StageLastField, Name: field}, n)
	}
}

// ReadLeftLine reads a line LeftLine wrote: ok is false for anything else.
func ReadLeftLine(line string) (k store.FunnelKey, step, field string, ok bool) {
	q, err := url.ParseQuery(line)
	if err != nil || q.Get("day") == "" || q.Get("step") == "" {
		return store.FunnelKey{}, "", "", false
	}
	k = store.FunnelKey{Day: q.Get("day"), Flow: q.Get("flow"), Source: q.Get("source"), Campaign: q.Get("campaign"), Variant: q.Get("variant")}
	return k, q.Get("step"), q.Get("field"), true
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
