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
	"github.com/leadgate/leadgate/providers"
)

// FunnelView is one line of the funnel table, formatted.
type FunnelView struct {
	Flow, Source, Campaign                                          string
	Visits, Prefilled, Applications, Accepted, Declined, Redirected int64
	Revenue, EPC                                                    string
}

// Bar is one bar of the server-drawn chart; Label is its tooltip.
type Bar struct {
	X, Y, W, H int
	Class      string
	Label      string
}

// ChartLabel is one text of the chart.
type ChartLabel struct {
	X, Y int
	Text string
}

// Chart is an inline SVG chart, drawn on the server: no script, no CDN.
type Chart struct {
	Width, Height int
	Bars          []Bar
	Labels        []ChartLabel
}

// LinkBuilder is the UTM link builder's form and result.
type LinkBuilder struct {
	Source, Medium, Campaign, Content, Term, Flow string
	Link                                          string
}

// RecentView is one recent application, without personal data.
type RecentView struct {
	ID, Created, Flow, Buyer, Revenue, Source string
	Status                                    providers.Status
	CRMStatus                                 providers.CRMState
}

// DashboardPage is the view of /admin.
type DashboardPage struct {
	Version, From, To string
	Rows              []FunnelView
	Total             FunnelView
	Chart             Chart
	Builder           LinkBuilder
	Flows             []string
	Recent            []RecentView
}

// period reads ?from= and ?to= (YYYY-MM-DD, UTC), the last 7 days by
// default; a reversed or unreadable period falls back to the default.
func period(c *gin.Context, now time.Time) (from, to time.Time) {
	to = now.UTC().Truncate(24 * time.Hour)
	from = to.AddDate(0, 0, -6)
	if t, err := time.Parse("2006-01-02", c.Query("to")); err == nil {
		to = t
	}
	if f, err := time.Parse("2006-01-02", c.Query("from")); err == nil {
		from = f
	}
	if from.After(to) || to.Sub(from) > 366*24*time.Hour {
		from = to.AddDate(0, 0, -6)
	}
	return from, to
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func funnelView(r store.FunnelRow) FunnelView {
	return FunnelView{Flow: r.Flow, Source: orNone(r.Source), Campaign: orNone(r.Campaign),
		Visits: r.Visits, Prefilled: r.Prefilled, Applications: r.Applications, Accepted: r.Accepted,
		Declined: r.Declined, Redirected: r.Redir, Revenue: money(r.Revenue), EPC: strconv.FormatFloat(r.EPC(), 'f', 4, 64)}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// handleDashboard handles "GET /admin": the funnel for a period as a
// table and a chart, the UTM link builder, and recent applications.
func handleDashboard(d AdminDeps) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		from, to := period(c, time.Now())
		rows, err := d.Store.Funnel(ctx, from, to)
		var recent []providers.Record
		if err == nil {
			recent, err = d.Store.Recent(ctx, 30)
		}
		if err != nil {
			d.Log.Error("admin: reading the funnel", "err", err)
			c.String(http.StatusServiceUnavailable, "storage unavailable\n")
			return
		}
		p := DashboardPage{Version: d.Views.Version, From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), Flows: d.Flows}
		var total store.FunnelRow
		for _, r := range rows {
			p.Rows = append(p.Rows, funnelView(r))
			total.Visits += r.Visits
			total.Prefilled += r.Prefilled
			total.Applications += r.Applications
			total.Accepted += r.Accepted
			total.Declined += r.Declined
			total.Redir += r.Redir
			total.Revenue += r.Revenue
		}
		p.Total = funnelView(total)
		p.Chart = chart(rows)
		p.Builder = buildLink(c, d.PublicURL)
		for _, a := range recent {
			p.Recent = append(p.Recent, RecentView{ID: a.ID, Created: a.CreatedAt.Format("2006-01-02 15:04"), Flow: a.Flow,
				Status: a.Status, Buyer: a.Buyer, Revenue: money(a.Revenue), Source: a.Attribution.Source, CRMStatus: a.CRMStatus})
		}
		if err := d.Views.render(c.Writer, http.StatusOK, "dashboard", p); err != nil {
			d.Log.Error("admin: rendering", "err", err)
			c.String(http.StatusInternalServerError, "rendering failed\n")
		}
	}
}

// chart draws three bars per funnel line (visits, applications,
// accepted), scaled to the biggest visit count, at most 12 lines.
func chart(rows []store.FunnelRow) Chart {
	const labelW, barMax, rowH, barH = 220, 500, 48, 12
	if len(rows) > 12 {
		rows = rows[:12]
	}
	var top int64 = 1
	for _, r := range rows {
		top = max(top, r.Visits, r.Applications)
	}
	ch := Chart{Width: labelW + barMax + 60, Height: len(rows)*rowH + 10}
	for i, r := range rows {
		y := i*rowH + 6
		name := r.Flow + " · " + orNone(r.Source) + " · " + orNone(r.Campaign)
		ch.Labels = append(ch.Labels, ChartLabel{X: 4, Y: y + 2*barH, Text: shorten(name, 32)})
		for j, v := range []struct {
			class string
			n     int64
		}{{"visits", r.Visits}, {"applications", r.Applications}, {"accepted", r.Accepted}} {
			w := int(v.n * barMax / top)
			ch.Bars = append(ch.Bars, Bar{X: labelW, Y: y + j*barH, W: max(w, 1), H: barH - 2, Class: v.class,
				Label: fmt.Sprintf("%s: %d %s", name, v.n, v.class)})
		}
	}
	return ch
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// buildLink makes the tagged landing link from the builder's fields.
func buildLink(c *gin.Context, publicURL string) LinkBuilder {
	b := LinkBuilder{Source: c.Query("b_source"), Medium: c.Query("b_medium"), Campaign: c.Query("b_campaign"),
		Content: c.Query("b_content"), Term: c.Query("b_term"), Flow: c.Query("b_flow")}
	if strings.TrimSpace(b.Source) == "" {
		return b
	}
	q := url.Values{}
	for k, v := range map[string]string{"utm_source": b.Source, "utm_medium": b.Medium, "utm_campaign": b.Campaign,
		"utm_content": b.Content, "utm_term": b.Term, "flow": b.Flow} {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(k, v)
		}
	}
	b.Link = strings.TrimRight(publicURL, "/") + "/?" + q.Encode()
	return b
}

// handleFunnelCSV handles "GET /admin/funnel.csv": the same table as the
// dashboard, for spreadsheets.
func handleFunnelCSV(d AdminDeps) gin.HandlerFunc {
	return func(c *gin.Context) {
		from, to := period(c, time.Now())
		rows, err := d.Store.Funnel(c.Request.Context(), from, to)
		if err != nil {
			d.Log.Error("admin: reading the funnel", "err", err)
			c.String(http.StatusServiceUnavailable, "storage unavailable\n")
			return
		}
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="leadgate-funnel-%s-%s.csv"`, from.Format("20060102"), to.Format("20060102")))
		w := csv.NewWriter(c.Writer)
		w.Write([]string{"flow", "utm_source", "utm_campaign", "visits", "prefilled", "applications", "accepted", "declined", "redirected", "revenue", "epc"})
		for _, r := range rows {
			v := funnelView(r)
			w.Write([]string{v.Flow, csvSafe(v.Source), csvSafe(v.Campaign), itoa(v.Visits), itoa(v.Prefilled), itoa(v.Applications),
				itoa(v.Accepted), itoa(v.Declined), itoa(v.Redirected), v.Revenue, v.EPC})
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
