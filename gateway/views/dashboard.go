package views

import (
	"fmt"
	"math"
	"strconv"

	"github.com/leadgate/leadgate/providers"
)

// Cell is one cell of a dashboard table: its text as shown (and written
// to the CSV), the number it sorts by, and a link when it has one.
type Cell struct {
	Text string
	Sort float64
	Num  bool
	Link string
	// Ratio: Text shows Sort, a fraction, as a percentage; the CSV writes
	// the fraction, which a spreadsheet sums and formats ("–": empty).
	Ratio bool
}

// Column is a table's column: Key names it in the CSV and the sort
// parameter; SortURL is the link that sorts by it (no JavaScript needed),
// Sorted "ascending" or "descending" when the table is sorted by it.
type Column struct {
	Key, Label string
	Num        bool
	SortURL    string
	Sorted     string
}

// Table is one table of the dashboard, shown and downloaded alike.
type Table struct {
	ID, Title, Caption string
	Columns            []Column
	Rows               [][]Cell
	Foot               []Cell
	Empty              string
	// CSV is the table's download link; Note a line under it.
	CSV, Note string
}

// KPI is one figure at the top of the dashboard.
type KPI struct{ Label, Value string }

// KPIs are the period's figures in one currency.
type KPIs struct {
	Currency string
	Items    []KPI
}

// Point is one point of a chart's line, with its tooltip.
type Point struct {
	X, Y  float64
	Label string
}

// Series is one line of the daily chart.
type Series struct {
	Name, Class string
	Points      []Point
	Path        string // the polyline's points attribute
}

// DailyChart is an inline SVG chart of one value per day, drawn on the
// server: no script, no CDN. Its text is sized for the chart's box,
// which the stylesheet keeps at least 560 px wide (scrolling in its own
// box on a phone), so a label is never smaller than 12 px.
type DailyChart struct {
	Title, Unit   string
	Width, Height int
	Series        []Series
	XLabels       []ChartLabel
	YLabels       []ChartLabel
	Grid          []int // y of each grid line
	Left, Right   int   // the plot's edges
}

// ChartLabel is one text of a chart.
type ChartLabel struct {
	X, Y   float64
	Text   string
	Anchor string
}

// LinkBuilder is the UTM link builder's form and result.
type LinkBuilder struct {
	Source, Medium, Campaign, Content, Term, Flow, Variant string
	Link                                                   string
}

// RecentView is one recent application, without personal data.
type RecentView struct {
	ID, Created, Flow, Buyer, Revenue, Source, Variant string
	Status                                             providers.Status
	CRMStatus                                          providers.CRMState
}

// Filter is the step funnel's choice of flow, source, campaign and
// variant ("" for all), with the values there are to choose from.
type Filter struct {
	Flow, Source, Campaign, Variant     string
	Flows, Sources, Campaigns, Variants []string
}

// DashboardPage is the view of /admin.
type DashboardPage struct {
	Version, From, To string
	KPIs              []KPIs
	Charts            []DailyChart
	Funnel            Table
	Filter            Filter
	Steps, LastFields Table
	Experiments       []Table
	Buyers            Table
	Builder           LinkBuilder
	Flows             []string
	// Variants are the variant names per flow, for the link builder.
	Variants map[string][]string
	Recent   []RecentView
}

// NewDailyChart draws one line per series over days (the x axis), scaled
// to the biggest value, with a few round grid lines.
func NewDailyChart(title, unit string, days []string, series []Series, values [][]float64) DailyChart {
	const w, h, left, right, top, bottom = 640, 260, 56, 36, 16, 40
	ch := DailyChart{Title: title, Unit: unit, Width: w, Height: h, Left: left, Right: w - right}
	peak := 0.0
	for _, vs := range values {
		for _, v := range vs {
			peak = math.Max(peak, chartable(v))
		}
	}
	step := niceStep(peak / 4)
	lines := 4
	if step*4 < peak {
		lines = 5
	}
	top4 := step * float64(lines)
	plotH := float64(h - top - bottom)
	y := func(v float64) float64 { return float64(top) + plotH - chartable(v)/top4*plotH }
	// Counted, not stepped to the top: a step lost in the rounding of a
	// huge top (1e308 + 5e307 is 1e308) never got there.
	for i := range lines + 1 {
		v := float64(i) * step
		ch.Grid = append(ch.Grid, int(y(v)))
		ch.YLabels = append(ch.YLabels, ChartLabel{X: left - 6, Y: y(v) + 5, Text: short(v), Anchor: "end"})
	}
	x := func(i int) float64 {
		if len(days) < 2 {
			return float64(left+w-right) / 2
		}
		return float64(left) + float64(i)*float64(w-right-left)/float64(len(days)-1)
	}
	every := max(1, (len(days)+6)/7) // at most 7 day labels: they stay apart
	for i, d := range days {
		if i%every == 0 || i == len(days)-1 {
			ch.XLabels = append(ch.XLabels, ChartLabel{X: x(i), Y: h - 14, Text: dayLabel(d), Anchor: "middle"})
		}
	}
	for si, s := range series {
		for i, v := range values[si] {
			p := Point{X: x(i), Y: y(v), Label: fmt.Sprintf("%s %s: %s %s", days[i], s.Name, short(chartable(v)), unit)}
			s.Points = append(s.Points, p)
			s.Path += strconv.FormatFloat(p.X, 'f', 1, 64) + "," + strconv.FormatFloat(p.Y, 'f', 1, 64) + " "
		}
		ch.Series = append(ch.Series, s)
	}
	return ch
}

// chartMax is the most a chart draws: past it (a buyer's absurd price,
// a sum gone to +Inf) the scale means nothing, and its arithmetic breaks.
const chartMax = 1e15

// chartable is v as a chart can draw it: within [0, chartMax], NaN as 0.
func chartable(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return math.Min(v, chartMax)
}

// niceStep rounds a grid step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// dayLabel is "25 Nov" for 2026-11-25.
func dayLabel(day string) string {
	if len(day) != 10 {
		return day
	}
	months := [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	m, _ := strconv.Atoi(day[5:7])
	if m < 1 || m > 12 {
		return day
	}
	return fmt.Sprintf("%s %s", trimZero(day[8:]), months[m-1])
}

func trimZero(s string) string {
	if len(s) == 2 && s[0] == '0' {
		return s[1:]
	}
	return s
}
