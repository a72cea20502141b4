package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The funnel's series take only configured flows, variants and steps:
// whatever else arrives counts under (other).
func TestFunnelLabelsAreTheConfiguredOnes(t *testing.T) {
	m := New(func() map[string]string { return nil })
	f := m.Funnel(map[string]FlowNames{"es": {Variants: []string{"a", "b"}, Steps: []string{"you", "contact"}}})
	f.Visit("es", "b")
	f.Visit("es", "b")
	f.Visit("es", "evil<script>")
	f.Visit("es", "")
	f.Visit("made-up", "a")
	f.Step("es", "a", "reached", "you")
	f.Step("es", "a", "reached", "free text from a url")
	f.Step("es", "a", "started", "")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for _, want := range []string{
		`leadgate_funnel_visits_total{flow="es",variant="b"} 2`,
		`leadgate_funnel_visits_total{flow="es",variant="(other)"} 1`,
		`leadgate_funnel_visits_total{flow="es",variant="(none)"} 1`,
		`leadgate_funnel_visits_total{flow="(other)",variant="(other)"} 1`,
		`leadgate_funnel_steps_total{flow="es",stage="reached",step="you",variant="a"} 1`,
		`leadgate_funnel_steps_total{flow="es",stage="reached",step="(other)",variant="a"} 1`,
		`leadgate_funnel_steps_total{flow="es",stage="started",step="",variant="a"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "evil") || strings.Contains(body, "made-up") || strings.Contains(body, "free text") {
		t.Error("a label value that is not configured reached /metrics")
	}
}
