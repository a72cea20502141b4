package gateway

import (
	"encoding/csv"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/leadgate/leadgate/gateway/stats"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
)

// Cells of the dashboard's tables.
func text(s string) views.Cell { return views.Cell{Text: s} }
func count(n int64) views.Cell { return views.Cell{Text: itoa(n), Sort: float64(n), Num: true} }
func amount(v float64) views.Cell {
	return views.Cell{Text: money(v), Sort: v, Num: true}
}
func num(v float64, prec int) views.Cell {
	return views.Cell{Text: strconv.FormatFloat(v, 'f', prec, 64), Sort: v, Num: true}
}

// rate is part ÷ whole as a percentage ("–" when whole is 0).
func rate(part, whole int64) views.Cell {
	if whole <= 0 {
		return views.Cell{Text: "–", Sort: -1, Num: true, Ratio: true}
	}
	r := float64(part) / float64(whole)
	return views.Cell{Text: pct(r), Sort: r, Num: true, Ratio: true}
}

func pct(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + " %" }

func cols(specs ...string) []views.Column {
	out := make([]views.Column, len(specs))
	for i, s := range specs {
		key, label, _ := strings.Cut(s, "|")
		n := strings.HasPrefix(key, "#")
		out[i] = views.Column{Key: strings.TrimPrefix(key, "#"), Label: label, Num: n}
	}
	return out
}

func epc(revenue float64, visits int64) float64 {
	if visits == 0 {
		return 0
	}
	return revenue / float64(visits)
}

// funnelTable is the funnel by flow, source, campaign and variant.
func (db *dashboard) funnelTable() views.Table {
	t := views.Table{ID: "funnel", Title: "By flow, source, campaign and variant",
		Caption: "Earnings per click (EPC) = revenue ÷ visits; rates are shares of visits and of applications",
		Empty:   "No traffic in this period.",
		Columns: cols("flow|Flow", "utm_source|Source", "utm_campaign|Campaign", "variant|Variant", "currency|Currency",
			"#visits|Visits", "#prefilled|Prefilled", "#applications|Applications", "#application_rate|Application rate",
			"#accepted|Accepted", "#accept_rate|Accept rate", "#declined|Declined", "#redirected|Redirected",
			"#revenue|Revenue", "#epc|EPC", "#paid_calls|Paid calls", "spend|Spend", "#profit|Profit", "#roi|ROI", "#duplicates|Duplicates")}
	p := db.prices
	for _, r := range db.funnel {
		cur := p.currencies[r.Flow]
		row := []views.Cell{text(r.Flow), text(orNone(r.Source)), text(orNone(r.Campaign)), text(orNone(r.Variant)), text(cur),
			count(r.Visits), count(r.Prefilled), count(r.Applications), rate(r.Applications, r.Visits),
			count(r.Accepted), rate(r.Accepted, r.Applications), count(r.Declined), count(r.Redir),
			amount(r.Revenue), num(r.EPC(), 4), count(r.PaidCalls)}
		spend, profit, roi := text(""), text(""), text("")
		if p.known {
			s := float64(r.PaidCalls) * p.cost.Amount
			spend = text(money(s) + " " + p.cost.Currency)
			if p.cost.Currency == cur {
				// Profit and ROI only in one currency: no rate is guessed.
				profit = amount(r.Revenue - s)
				if s > 0 {
					roi = views.Cell{Text: strconv.FormatFloat((r.Revenue-s)/s*100, 'f', 0, 64) + " %", Sort: (r.Revenue - s) / s, Num: true, Ratio: true}
				}
			}
		}
		t.Rows = append(t.Rows, append(row, spend, profit, roi, count(r.Duplicates)))
	}
	return t
}

// kpis are the period's figures, per currency.
func (db *dashboard) kpis() []views.KPIs {
	byCur := map[string]*store.FunnelRow{}
	var order []string
	for _, r := range db.funnel {
		cur := db.prices.currencies[r.Flow]
		if byCur[cur] == nil {
			byCur[cur] = &store.FunnelRow{}
			order = append(order, cur)
		}
		t := byCur[cur]
		t.Visits += r.Visits
		t.Applications += r.Applications
		t.Accepted += r.Accepted
		t.Revenue += r.Revenue
		t.PaidCalls += r.PaidCalls
	}
	slices.Sort(order)
	var out []views.KPIs
	for _, cur := range order {
		t := byCur[cur]
		out = append(out, views.KPIs{Currency: orNone(cur), Items: []views.KPI{
			{Label: "Visits", Value: itoa(t.Visits)}, {Label: "Applications", Value: itoa(t.Applications)},
			{Label: "Application rate", Value: rate(t.Applications, t.Visits).Text},
			{Label: "Accepted", Value: itoa(t.Accepted)}, {Label: "Accept rate", Value: rate(t.Accepted, t.Applications).Text},
			{Label: "Revenue", Value: money(t.Revenue) + " " + cur}, {Label: "EPC", Value: strconv.FormatFloat(epc(t.Revenue, t.Visits), 'f', 4, 64) + " " + cur},
			{Label: "Paid Cashcat calls", Value: itoa(t.PaidCalls)},
		}})
	}
	return out
}

// charts are the daily charts: the counts, then revenue per currency.
func (db *dashboard) charts() []views.DailyChart {
	var days []string
	for d := db.from; !d.After(db.to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("2006-01-02"))
	}
	at := map[string]int{}
	for i, d := range days {
		at[d] = i
	}
	counts := [][]float64{make([]float64, len(days)), make([]float64, len(days)), make([]float64, len(days))}
	revenue := map[string][]float64{}
	for _, r := range db.days {
		i, ok := at[r.Day]
		if !ok {
			continue
		}
		counts[0][i] += float64(r.Visits)
		counts[1][i] += float64(r.Applications)
		counts[2][i] += float64(r.Accepted)
		cur := db.prices.currencies[r.Flow]
		if revenue[cur] == nil {
			revenue[cur] = make([]float64, len(days))
		}
		revenue[cur][i] += r.Revenue
	}
	out := []views.DailyChart{views.NewDailyChart("Visits, applications and accepted per day", "", days,
		[]views.Series{{Name: "visits", Class: "visits"}, {Name: "applications", Class: "applications"}, {Name: "accepted", Class: "accepted"}}, counts)}
	curs := make([]string, 0, len(revenue))
	for c := range revenue {
		curs = append(curs, c)
	}
	slices.Sort(curs)
	for _, c := range curs {
		out = append(out, views.NewDailyChart("Revenue per day ("+orNone(c)+")", c, days,
			[]views.Series{{Name: "revenue", Class: "revenue"}}, [][]float64{revenue[c]}))
	}
	return out
}

// filter is the step funnel's choice (?flow, ?source, ?campaign,
// ?variant), the first flow by default.
func (db *dashboard) filter() views.Filter {
	f := views.Filter{Flow: db.q.Get("flow"), Source: db.q.Get("source"), Campaign: db.q.Get("campaign"), Variant: db.q.Get("variant")}
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	if db.flows != nil {
		for _, fl := range db.flows.list {
			add(&f.Flows, fl.Name)
		}
	}
	for _, r := range db.funnel {
		add(&f.Flows, r.Flow)
		add(&f.Sources, r.Source)
		add(&f.Campaigns, r.Campaign)
		if r.Variant != "" {
			add(&f.Variants, r.Variant)
		}
	}
	slices.Sort(f.Sources)
	slices.Sort(f.Campaigns)
	slices.Sort(f.Variants)
	if !slices.Contains(f.Flows, f.Flow) && len(f.Flows) > 0 {
		f.Flow = f.Flows[0]
	}
	return f
}

// matches says whether a line belongs to the filter's choice.
func matches4(f views.Filter, flow, source, campaign, variant string) bool {
	return flow == f.Flow && (f.Source == "" || f.Source == source) && (f.Campaign == "" || f.Campaign == campaign) &&
		(f.Variant == "" || f.Variant == variant)
}

// stepTables are the step funnel of the filter's choice (visits →
// started → each step → submitted → accepted → redirected, with the share
// that moves on) and the last fields touched by those who left.
func (db *dashboard) stepTables(f views.Filter) (views.Table, views.Table) {
	var visits, apps, accepted, redirected, left int64
	for _, r := range db.funnel {
		if matches4(f, r.Flow, r.Source, r.Campaign, r.Variant) {
			visits, apps, accepted, redirected = visits+r.Visits, apps+r.Applications, accepted+r.Accepted, redirected+r.Redir
		}
	}
	reached, fields := map[string]int64{}, map[string]int64{}
	var started int64
	for _, r := range db.steps {
		if !matches4(f, r.Flow, r.Source, r.Campaign, r.Variant) {
			continue
		}
		switch r.Stage {
		case store.StageStarted:
			started += r.Count
		case store.StageReached:
			reached[r.Name] += r.Count
		case store.StageLeft:
			left += r.Count
		case store.StageLastField:
			fields[r.Name] += r.Count
		}
	}
	left = max(left, 0) // below none only if a replica died holding a leave it took back
	type stage struct {
		name string
		n    int64
	}
	stages := []stage{{"Visits", visits}, {"Started (first field touched)", started}}
	for _, key := range db.stepKeys(f.Flow, f.Variant, reached) {
		stages = append(stages, stage{"Step: " + key, reached[key]})
	}
	stages = append(stages, stage{"Submitted", apps}, stage{"Accepted", accepted}, stage{"Redirected to the buyer", redirected})
	steps := views.Table{ID: "steps", Title: "Step funnel", Caption: "Flow " + f.Flow + "; each stage's share of the one before and of visits",
		Columns: cols("stage|Stage", "#sessions|Sessions", "#moved_on|Moved on from the stage before", "#of_visits|Share of visits")}
	for i, s := range stages {
		prev := rate(s.n, visits)
		if i > 0 {
			prev = rate(s.n, stages[i-1].n)
		} else {
			prev = text("")
		}
		steps.Rows = append(steps.Rows, []views.Cell{text(s.name), count(s.n), prev, rate(s.n, visits)})
	}
	last := views.Table{ID: "last-fields", Title: "Last field touched by those who left",
		Caption: "Field names only, never a value; " + itoa(left) + " sessions left without sending (and did not come back to send)",
		Empty:   "Nobody left after touching a field in this period.",
		Columns: cols("field|Field", "#sessions|Sessions", "#share|Share of leavers")}
	for name, n := range fields {
		// Leaves taken back (the session came back and sent) leave a
		// field at none.
		if n > 0 {
			last.Rows = append(last.Rows, []views.Cell{text(name), count(n), rate(n, left)})
		}
	}
	sort.Slice(last.Rows, func(i, j int) bool { return last.Rows[i][1].Sort > last.Rows[j][1].Sort })
	return steps, last
}

// stepKeys are the steps of flow (of its variant, when one is chosen) in
// order, then any other step counted.
func (db *dashboard) stepKeys(flow, variant string, reached map[string]int64) []string {
	var keys []string
	if db.flows != nil {
		if fl := db.flows.ByName(flow); fl != nil {
			// A variant's own order when one is chosen (As: the flow
			// itself for "" or a name it does not have).
			for _, s := range fl.As(variant).Steps {
				keys = append(keys, s.Key)
			}
		}
	}
	var extra []string
	for k := range reached {
		if !slices.Contains(keys, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return append(keys, extra...)
}

// sortTable sorts t by ?sort=<table>.<column> and ?dir=asc|desc, and
// gives each column header the link that sorts by it.
func sortTable(t views.Table, q url.Values) views.Table {
	key, dir := "", q.Get("dir")
	if id, col, ok := strings.Cut(q.Get("sort"), "."); ok && id == t.ID {
		key = col
	}
	for i, c := range t.Columns {
		link := url.Values{}
		for k, v := range q {
			link[k] = v
		}
		next := "desc"
		if c.Key == key {
			if dir == "asc" {
				t.Columns[i].Sorted = "ascending"
			} else {
				t.Columns[i].Sorted, next = "descending", "asc"
			}
			col := i
			sort.SliceStable(t.Rows, func(a, b int) bool {
				x, y := t.Rows[a][col], t.Rows[b][col]
				less := x.Text < y.Text
				if x.Num {
					less = x.Sort < y.Sort
				}
				if dir == "asc" {
					return less
				}
				if x.Num {
					return x.Sort > y.Sort
				}
				return x.Text > y.Text
			})
		}
		link.Set("sort", t.ID+"."+c.Key)
		link.Set("dir", next)
		t.Columns[i].SortURL = "/admin?" + link.Encode() + "#" + t.ID
	}
	csvQ := url.Values{}
	for _, k := range []string{"from", "to", "flow", "source", "campaign", "variant", "sort", "dir"} {
		if v := q.Get(k); v != "" {
			csvQ.Set(k, v)
		}
	}
	t.CSV = "/admin/" + t.ID + ".csv"
	if len(csvQ) > 0 {
		t.CSV += "?" + csvQ.Encode()
	}
	return t
}

// writeCSV writes t: a header of column keys, then the rows as shown.
// Text (utm values can be anything) goes through the formula guard;
// numbers, negative ones included, are left as numbers, and percentages
// are written as the fractions they show (0.6667 for 66.7 %), so that a
// spreadsheet can sum and sort them.
func writeCSV(w io.Writer, t views.Table) {
	cw := csv.NewWriter(w)
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Key
	}
	cw.Write(head)
	for _, r := range t.Rows {
		line := make([]string, len(r))
		for i, c := range r {
			switch {
			case c.Ratio && c.Text == "–":
				line[i] = ""
			case c.Ratio:
				line[i] = strconv.FormatFloat(c.Sort, 'f', 4, 64)
			case c.Num:
				line[i] = c.Text
			default:
				line[i] = csvSafe(c.Text)
			}
		}
		cw.Write(line)
	}
	cw.Flush()
}

var _ = providers.Skipped

// buyersTable is each buyer's record over the period, per currency: posts
// (skips not counted), accept rate, average price, latency, errors, skips
// (caps, consent, duplicates) and how often its breaker opened (since this
// process started).
func (db *dashboard) buyersTable() views.Table {
	type agg struct {
		posts, accepted, errors, skipped int64
		price                            float64
		lat                              []int64
	}
	by := map[[2]string]*agg{}
	for _, a := range db.attempts {
		k := [2]string{a.Buyer, a.Currency}
		if by[k] == nil {
			by[k] = &agg{}
		}
		g := by[k]
		switch a.Outcome {
		case providers.Skipped:
			g.skipped++
			continue
		case providers.Accepted:
			g.accepted++
			g.price += a.Price
		case providers.Failed, providers.InDoubt:
			g.errors++
		}
		g.posts++
		g.lat = append(g.lat, a.LatencyMS)
	}
	t := views.Table{ID: "buyers", Title: "Buyers", Empty: "No buyer was posted to in this period.",
		Caption: "Posts of the period's applications; breaker openings since this replica started",
		Columns: cols("buyer|Buyer", "currency|Currency", "#posts|Posts", "#accepted|Accepted", "#accept_rate|Accept rate",
			"#average_price|Average price", "#p50_ms|Latency p50 (ms)", "#p95_ms|Latency p95 (ms)", "#errors|Errors",
			"#skipped|Skipped (caps, consent, duplicates)", "#breaker_openings|Breaker openings")}
	for k, g := range by {
		avg := 0.0
		if g.accepted > 0 {
			avg = g.price / float64(g.accepted)
		}
		slices.Sort(g.lat)
		t.Rows = append(t.Rows, []views.Cell{text(k[0]), text(k[1]), count(g.posts), count(g.accepted), rate(g.accepted, g.posts),
			amount(avg), count(percentile(g.lat, 50)), count(percentile(g.lat, 95)), count(g.errors), count(g.skipped),
			count(db.openings[k[0]])})
	}
	sort.Slice(t.Rows, func(i, j int) bool { return t.Rows[i][0].Text+t.Rows[i][1].Text < t.Rows[j][0].Text+t.Rows[j][1].Text })
	return t
}

// percentile of sorted values, nearest rank; 0 for none.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}

// experimentTables are one table per flow with variants: each variant's
// funnel, money and conversion (accepted per visit) with its 95 %
// interval, and the chances it beats the first variant.
func (db *dashboard) experimentTables() []views.Table {
	var out []views.Table
	for _, flow := range db.filter().Flows {
		names := db.variantsOf(flow)
		if len(names) == 0 {
			continue
		}
		rows := map[string]*store.FunnelRow{}
		starts := map[string]int64{}
		for _, n := range names {
			rows[n] = &store.FunnelRow{}
		}
		for _, r := range db.funnel {
			if t := rows[r.Variant]; r.Flow == flow && t != nil {
				t.Visits, t.Applications, t.Accepted, t.Revenue = t.Visits+r.Visits, t.Applications+r.Applications, t.Accepted+r.Accepted, t.Revenue+r.Revenue
			}
		}
		for _, r := range db.steps {
			if r.Flow == flow && r.Stage == store.StageStarted {
				starts[r.Variant] += r.Count
			}
		}
		cur := db.prices.currencies[flow]
		t := views.Table{ID: "experiment-" + flow, Title: "Experiment: flow " + flow,
			Caption: "Conversion = accepted ÷ visits, with its 95 % (Wilson) interval; compared with variant " + names[0] +
				" by a two-proportion z-test (conversion) and a Bayesian bootstrap (EPC)",
			Columns: cols("variant|Variant", "currency|Currency", "#visits|Visits", "#starts|Starts", "#submits|Submits", "#accepted|Accepted",
				"#revenue|Revenue", "#epc|EPC", "#conversion|Conversion", "interval|95 % interval",
				"#beats_conversion|Chance it beats "+names[0]+" (conversion)", "#beats_epc|Chance it beats "+names[0]+" (EPC)", "verdict|Verdict")}
		first := rows[names[0]]
		firstArm := stats.Arm{Visits: first.Visits, Sales: db.sales[[2]string{flow, names[0]}]}
		for i, n := range names {
			r := rows[n]
			lo, hi := stats.Wilson(r.Accepted, r.Visits, stats.Z95)
			row := []views.Cell{text(n), text(cur), count(r.Visits), count(starts[n]), count(r.Applications), count(r.Accepted),
				amount(r.Revenue), num(epc(r.Revenue, r.Visits), 4), rate(r.Accepted, r.Visits), text(pct(lo) + " – " + pct(hi))}
			if i == 0 {
				t.Rows = append(t.Rows, append(row, text("–"), text("–"), text("the baseline")))
				continue
			}
			arm := stats.Arm{Visits: r.Visits, Sales: db.sales[[2]string{flow, n}]}
			pConv, pEPC := stats.BeatsRate(first.Accepted, first.Visits, r.Accepted, r.Visits), stats.BeatsEPC(firstArm, arm)
			verdict := "no clear difference yet"
			switch {
			case stats.TooFew(first.Accepted, first.Visits, r.Accepted, r.Visits):
				verdict = "too few visits to tell"
			case pConv >= 0.95:
				verdict = "converts better than " + names[0]
			case pConv <= 0.05:
				verdict = "converts worse than " + names[0]
			}
			t.Rows = append(t.Rows, append(row, views.Cell{Text: pct(pConv), Sort: pConv, Num: true, Ratio: true},
				views.Cell{Text: pct(pEPC), Sort: pEPC, Num: true, Ratio: true}, text(verdict)))
		}
		out = append(out, t)
	}
	return out
}
