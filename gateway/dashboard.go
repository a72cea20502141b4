package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// period reads ?from= and ?to= (YYYY-MM-DD, UTC), the last 7 days by
// default; a reversed or unreadable period falls back to the default.
func period(q url.Values, now time.Time) (from, to time.Time) {
	to = now.UTC().Truncate(24 * time.Hour)
	from = to.AddDate(0, 0, -6)
	if t, err := time.Parse("2006-01-02", q.Get("to")); err == nil {
		to = t
	}
	if f, err := time.Parse("2006-01-02", q.Get("from")); err == nil {
		from = f
	}
	if from.After(to) || to.Sub(from) > 366*24*time.Hour {
		from = to.AddDate(0, 0, -6)
	}
	return from, to
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// pricing is what the dashboard knows of money: each flow's currency,
// and what one paid Cashcat call costs (known false: not yet known).
type pricing struct {
	currencies map[string]string
	cost       cashcat.Cost
	known      bool
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// dashboard is what the dashboard is made from, read once per request.
type dashboard struct {
	from, to time.Time
	q        url.Values
	prices   pricing
	flows    *Flows // nil: the flows' steps and variants are not known
	funnel   []store.FunnelRow
	steps    []store.StepRow
	days     []store.DayRow
	attempts []store.BuyerAttempt
	sales    map[[2]string][]float64
	openings map[string]int64
}

// DashboardStore is what the dashboard reads of the store.
type DashboardStore interface {
	Funnel(ctx context.Context, from, to time.Time) ([]store.FunnelRow, error)
	Steps(ctx context.Context, from, to time.Time) ([]store.StepRow, error)
	Daily(ctx context.Context, from, to time.Time) ([]store.DayRow, error)
	BuyerAttempts(ctx context.Context, from, to time.Time) ([]store.BuyerAttempt, error)
	Sales(ctx context.Context, from, to time.Time) (map[[2]string][]float64, error)
}

// readDashboard reads the period of q from the store.
func readDashboard(ctx context.Context, st DashboardStore, q url.Values, d adminView) (*dashboard, error) {
	db := &dashboard{q: q, prices: d.prices(), flows: d.flows}
	db.from, db.to = period(q, time.Now())
	var err error
	if db.funnel, err = st.Funnel(ctx, db.from, db.to); err != nil {
		return nil, err
	}
	if db.steps, err = st.Steps(ctx, db.from, db.to); err != nil {
		return nil, err
	}
	if db.days, err = st.Daily(ctx, db.from, db.to); err != nil {
		return nil, err
	}
	if db.attempts, err = st.BuyerAttempts(ctx, db.from, db.to); err != nil {
		return nil, err
	}
	if db.sales, err = st.Sales(ctx, db.from, db.to); err != nil {
		return nil, err
	}
	if d.openings != nil {
		db.openings = d.openings()
	}
	return db, nil
}

// tables are the dashboard's tables by id: shown on the page and
// downloaded as CSV alike.
func (db *dashboard) tables() map[string]views.Table {
	out := map[string]views.Table{"funnel": db.funnelTable(), "buyers": db.buyersTable()}
	out["steps"], out["last-fields"] = db.stepTables(db.filter())
	for _, t := range db.experimentTables() {
		out[t.ID] = t
	}
	for id, t := range out {
		out[id] = sortTable(t, db.q)
	}
	return out
}

// handleDashboard handles "GET /admin": the period's figures, the daily
// chart, the tables (funnel, step funnel, experiments, buyers), the link
// builder and recent applications.
func handleDashboard(apps AdminStore, vs *views.Views, d adminView, respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		q := c.Request.URL.Query()
		db, err := readDashboard(ctx, apps, q, d)
		var recent []providers.Record
		if err == nil {
			recent, err = apps.Recent(ctx, 30)
		}
		if err != nil {
			respond.fail(c, "", fmt.Errorf("reading the dashboard: %w", err))
			return
		}
		tables := db.tables()
		p := views.DashboardPage{Version: vs.Version, From: db.from.Format("2006-01-02"), To: db.to.Format("2006-01-02"),
			Flows: d.names, Variants: d.variants(), KPIs: db.kpis(), Charts: db.charts(), Filter: db.filter(),
			Funnel: tables["funnel"], Steps: tables["steps"], LastFields: tables["last-fields"], Buyers: tables["buyers"]}
		for _, t := range db.experimentTables() {
			p.Experiments = append(p.Experiments, tables[t.ID])
		}
		p.Builder = buildLink(q, d.publicURL)
		for _, a := range recent {
			p.Recent = append(p.Recent, views.RecentView{ID: a.ID, Created: a.CreatedAt.Format("2006-01-02 15:04"), Flow: a.Flow,
				Status: a.Status, Buyer: a.Buyer, Revenue: money(a.Revenue) + " " + a.Currency, Source: a.Attribution.Source,
				Variant: a.Attribution.Variant, CRMStatus: a.CRMStatus})
		}
		if err := vs.Render(c.Writer, http.StatusOK, "dashboard", p); err != nil {
			respond.fail(c, "", fmt.Errorf("rendering the dashboard: %w", err))
		}
	}
}

// buildLink makes the tagged landing link from the builder's fields.
func buildLink(q url.Values, publicURL string) views.LinkBuilder {
	b := views.LinkBuilder{Source: q.Get("b_source"), Medium: q.Get("b_medium"), Campaign: q.Get("b_campaign"),
		Content: q.Get("b_content"), Term: q.Get("b_term"), Flow: q.Get("b_flow"), Variant: q.Get("b_variant")}
	if strings.TrimSpace(b.Source) == "" {
		return b
	}
	link := url.Values{}
	for k, v := range map[string]string{"utm_source": b.Source, "utm_medium": b.Medium, "utm_campaign": b.Campaign,
		"utm_content": b.Content, "utm_term": b.Term, "flow": b.Flow, "variant": b.Variant} {
		if v = strings.TrimSpace(v); v != "" {
			link.Set(k, v)
		}
	}
	b.Link = strings.TrimRight(publicURL, "/") + "/?" + link.Encode()
	return b
}

// handleTableCSV handles "GET /admin/:table.csv" (funnel.csv as
// before, steps, last-fields, buyers, experiment-<flow>): a dashboard table for spreadsheets, with the same
// rows, the same sort and a currency column wherever money is.
func handleTableCSV(apps AdminStore, d adminView, respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, isCSV := strings.CutSuffix(c.Param("table"), ".csv")
		if !isCSV {
			respond.fail(c, "", errNotFound)
			return
		}
		db, err := readDashboard(c.Request.Context(), apps, c.Request.URL.Query(), d)
		if err != nil {
			respond.fail(c, "", fmt.Errorf("reading the dashboard: %w", err))
			return
		}
		t, ok := db.tables()[id]
		if !ok {
			respond.fail(c, "", errNotFound)
			return
		}
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="leadgate-%s-%s-%s.csv"`, id,
			db.from.Format("20060102"), db.to.Format("20060102")))
		writeCSV(c.Writer, t)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// csvSafe stops a marketer's spreadsheet from running a formula someone
// put in a utm parameter. Spreadsheets skip leading spaces before a
// formula, so the guard looks at the first character that is not one.
func csvSafe(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r\n", rune(t[0])) {
		return "'" + s
	}
	return s
}

// variantsOf lists the variants of flow: those configured, in order,
// then any others the period holds (a variant since removed).
func (db *dashboard) variantsOf(flow string) []string {
	var names []string
	if db.flows != nil {
		if f := db.flows.ByName(flow); f != nil {
			names = f.VariantNames()
		}
	}
	for _, r := range db.funnel {
		if r.Flow == flow && r.Variant != "" && !slices.Contains(names, r.Variant) {
			names = append(names, r.Variant)
		}
	}
	return names
}

// adminView is what the dashboard knows besides the store: the flows
// (their names, steps and variants), the public URL for links, prices and
// the breakers' openings.
type adminView struct {
	names     []string
	publicURL string
	flows     *Flows
	prices    func() pricing
	openings  func() map[string]int64
}

// variants are the variant names of each flow that has some.
func (a adminView) variants() map[string][]string {
	out := map[string][]string{}
	if a.flows != nil {
		for _, f := range a.flows.list {
			if names := f.VariantNames(); len(names) > 0 {
				out[f.Name] = names
			}
		}
	}
	return out
}
