package views

import (
	"math"
	"strings"
	"testing"
	"time"
)

// A chart is drawn in bounded time and size whatever the values: a
// buyer's absurd price (1e308, summed to +Inf) made the grid loop run
// until the process ran out of memory, on every view of the dashboard.
func TestDailyChartWithAbsurdValues(t *testing.T) {
	days := []string{"2026-11-25", "2026-11-26"}
	for _, vs := range [][]float64{{1e308, 1e308}, {math.Inf(1), 3}, {math.NaN(), 2}, {-5, 1e300}, {math.MaxFloat64, 0}, {0, 0}, {12.5, 99}} {
		done := make(chan DailyChart, 1)
		go func() { done <- NewDailyChart("Revenue", "USD", days, []Series{{Name: "es"}}, [][]float64{vs}) }()
		var ch DailyChart
		select {
		case ch = <-done:
		case <-timeAfter():
			t.Fatalf("%v: the chart is still drawing", vs)
		}
		if len(ch.Grid) > 6 || len(ch.Grid) < 2 {
			t.Errorf("%v: %d grid lines", vs, len(ch.Grid))
		}
		for _, p := range ch.Series[0].Points {
			if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) || p.Y < 0 || p.Y > float64(ch.Height) {
				t.Errorf("%v: a point drawn at y=%v, off the chart", vs, p.Y)
			}
		}
		for _, l := range ch.YLabels {
			if strings.Contains(l.Text, "Inf") || strings.Contains(l.Text, "NaN") {
				t.Errorf("%v: a label %q", vs, l.Text)
			}
		}
	}
}

func timeAfter() <-chan time.Time { return time.After(5 * time.Second) }
