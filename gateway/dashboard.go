package gateway

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
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

func funnelView(r store.FunnelRow, p pricing) views.FunnelView {
	v := views.FunnelView{Flow: r.Flow, Source: orNone(r.Source), Campaign: orNone(r.Campaign),
		Visits: r.Visits, Prefilled: r.Prefilled, Applications: r.Applications, Accepted: r.Accepted,
		Declined: r.Declined, Redirected: r.Redir, Revenue: money(r.Revenue), EPC: strconv.FormatFloat(r.EPC(), 'f', 4, 64),
		Currency: p.currencies[r.Flow], PaidCalls: r.PaidCalls, Duplicates: r.Duplicates}
	if !p.known {
		return v
	}
	spend := float64(r.PaidCalls) * p.cost.Amount
	v.Spend = money(spend) + " " + p.cost.Currency
	if p.cost.Currency == v.Currency {
		// Profit and ROI only in one currency: no exchange rate is guessed.
		v.Profit = money(r.Revenue - spend)
		if spend > 0 {
			v.ROI = strconv.FormatFloat((r.Revenue-spend)/spend*100, 'f', 0, 64) + " %"
		}
	}
	return v
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// handleDashboard handles "GET /admin": the funnel for a period as a
// table and a chart, the UTM link builder, and recent applications.
func handleDashboard(apps AdminStore, vs *views.Views, publicURL string, flows []string, prices func() pricing, respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		q := c.Request.URL.Query()
		from, to := period(q, time.Now())
		rows, err := apps.Funnel(ctx, from, to)
		pr := prices()
		var recent []providers.Record
		if err == nil {
			recent, err = apps.Recent(ctx, 30)
		}
		if err != nil {
			respond.fail(c, "", fmt.Errorf("reading the funnel: %w", err))
			return
		}
		p := views.DashboardPage{Version: vs.Version, From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), Flows: flows}
		var total store.FunnelRow
		for _, r := range rows {
			p.Rows = append(p.Rows, funnelView(r, pr))
			total.Visits += r.Visits
			total.Prefilled += r.Prefilled
			total.Applications += r.Applications
			total.Accepted += r.Accepted
			total.Declined += r.Declined
			total.Redir += r.Redir
			total.Revenue += r.Revenue
			total.PaidCalls += r.PaidCalls
			total.Duplicates += r.Duplicates
		}
		p.Total = funnelView(total, pricing{})
		p.Chart = views.NewChart(p.Rows)
		p.Builder = buildLink(q, publicURL)
		for _, a := range recent {
			p.Recent = append(p.Recent, views.RecentView{ID: a.ID, Created: a.CreatedAt.Format("2006-01-02 15:04"), Flow: a.Flow,
				Status: a.Status, Buyer: a.Buyer, Revenue: money(a.Revenue), Source: a.Attribution.Source, CRMStatus: a.CRMStatus})
		}
		if err := vs.Render(c.Writer, http.StatusOK, "dashboard", p); err != nil {
			respond.fail(c, "", fmt.Errorf("rendering the dashboard: %w", err))
		}
	}
}

// buildLink makes the tagged landing link from the builder's fields.
func buildLink(q url.Values, publicURL string) views.LinkBuilder {
	b := views.LinkBuilder{Source: q.Get("b_source"), Medium: q.Get("b_medium"), Campaign: q.Get("b_campaign"),
		Content: q.Get("b_content"), Term: q.Get("b_term"), Flow: q.Get("b_flow")}
	if strings.TrimSpace(b.Source) == "" {
		return b
	}
	link := url.Values{}
	for k, v := range map[string]string{"utm_source": b.Source, "utm_medium": b.Medium, "utm_campaign": b.Campaign,
		"utm_content": b.Content, "utm_term": b.Term, "flow": b.Flow} {
		if v = strings.TrimSpace(v); v != "" {
			link.Set(k, v)
		}
	}
	b.Link = strings.TrimRight(publicURL, "/") + "/?" + link.Encode()
	return b
}

// handleFunnelCSV handles "GET /admin/funnel.csv": the same table as the
// dashboard, for spreadsheets.
func handleFunnelCSV(apps AdminStore, prices func() pricing, respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		from, to := period(c.Request.URL.Query(), time.Now())
		rows, err := apps.Funnel(c.Request.Context(), from, to)
		if err != nil {
			respond.fail(c, "", fmt.Errorf("reading the funnel: %w", err))
			return
		}
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="leadgate-funnel-%s-%s.csv"`, from.Format("20060102"), to.Format("20060102")))
		w := csv.NewWriter(c.Writer)
		w.Write([]string{"flow", "utm_source", "utm_campaign", "visits", "prefilled", "applications", "accepted", "declined", "redirected",
			"currency", "revenue", "epc", "paid_calls", "spend", "profit", "roi", "duplicates"})
		pr := prices()
		for _, r := range rows {
			v := funnelView(r, pr)
			w.Write([]string{v.Flow, csvSafe(v.Source), csvSafe(v.Campaign), itoa(v.Visits), itoa(v.Prefilled), itoa(v.Applications),
				itoa(v.Accepted), itoa(v.Declined), itoa(v.Redirected), v.Currency, v.Revenue, v.EPC, itoa(v.PaidCalls), v.Spend, v.Profit, v.ROI, itoa(v.Duplicates)})
		}
		w.Flush()
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
