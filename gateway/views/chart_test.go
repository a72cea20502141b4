package views

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
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

// A Spanish page names every country in Spanish, in Spanish order after
// the origins Casheddy's list puts first: in Casheddy's own spellings a
// Moroccan or a German in Spain did not find theirs ("Al Maghrib",
// "Deutschland"). The value sent is the country's code either way.
func TestNationalitiesInTheirPagesLanguage(t *testing.T) {
	v, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	es, en := v.lists["countries"]["es"], v.lists["countries"]["en"]
	for _, want := range []string{`<option value="MA">Marruecos</option>`, `<option value="DE">Alemania</option>`, `<option value="JP">Japón</option>`,
		`<option value="GB">Reino Unido</option>`, `<option value="MX">México</option>`, `<option value="CN-XZ">Tíbet</option>`} {
		if !strings.Contains(es, want) {
			t.Errorf("the Spanish list has no %s", want)
		}
	}
	if !strings.Contains(en, `<option value="MA">Morocco</option>`) {
		t.Error("the English list does not name Morocco in English")
	}
	labels := regexp.MustCompile(`<option value="([A-Z-]+)">([^<]*)</option>`).FindAllStringSubmatch(es, -1)
	if len(labels) != len(providers.Countries) || labels[0][1] != "ES" || labels[1][1] != "MX" {
		t.Fatalf("the Spanish list starts %v (%d options)", labels[:min(len(labels), 4)], len(labels))
	}
	col := collate.New(language.Spanish)
	for i := leadingCountries + 1; i < len(labels); i++ {
		if col.CompareString(labels[i-1][2], labels[i][2]) > 0 {
			t.Errorf("%q comes before %q", labels[i-1][2], labels[i][2])
		}
	}
}
