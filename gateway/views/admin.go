package views

import (
	"fmt"

	"github.com/leadgate/leadgate/providers"
)

// AuditApp is one application as support sees it: no personal data.
type AuditApp struct {
	ID       string           `json:"id"`
	Status   providers.Status `json:"status"`
	Flow     string           `json:"flow"`
	Buyer    string           `json:"buyer,omitempty"`
	Revenue  float64          `json:"revenue"`
	Reason   string           `json:"reason,omitempty"`
	Source   string           `json:"utm_source,omitempty"`
	Campaign string           `json:"utm_campaign,omitempty"`
	Created  string           `json:"created_at"`
	Decided  string           `json:"decided_at,omitempty"`
	// The CRM mirror: status (pending, done, erased), the CRM's lead id,
	// tries and the last error.
	CRMStatus providers.CRMState `json:"crm_status,omitempty"`
	CRMRef    string             `json:"crm_ref,omitempty"`
	CRMTries  int                `json:"crm_tries,omitempty"`
	CRMError  string             `json:"crm_error,omitempty"`
	Erased    bool               `json:"personal_data_erased"`
	// Clicks are the click ids captured at landing, masked: "gclid Cj0K…a8".
	Clicks []string `json:"click_ids,omitempty"`
}

// AuditPostback is one conversion report to a traffic source.
type AuditPostback struct {
	Name       string                  `json:"postback"`
	Event      string                  `json:"event"`
	State      providers.PostbackState `json:"state"`
	Tries      int                     `json:"tries"`
	LastStatus int                     `json:"last_status,omitempty"`
	LastError  string                  `json:"last_error,omitempty"`
	Delivered  string                  `json:"delivered_at,omitempty"`
}

// AuditAttempt is one post to a buyer (SPEC §6 audit record).
type AuditAttempt struct {
	Seq       int               `json:"seq"`
	Buyer     string            `json:"buyer"`
	Tier      string            `json:"tier,omitempty"`
	Started   string            `json:"started_at"`
	Latency   string            `json:"-"`
	LatencyMS int64             `json:"latency_ms"`
	Outcome   providers.Outcome `json:"outcome"`
	Price     float64           `json:"price"`
	Reason    string            `json:"reason,omitempty"`
}

// AuditPage is the view of /admin/applications/{id}.
type AuditPage struct {
	Title, Version string
	App            AuditApp        `json:"application"`
	Attempts       []AuditAttempt  `json:"attempts"`
	Postbacks      []AuditPostback `json:"postbacks"`
}

// FunnelView is one line of the funnel table, formatted.
type FunnelView struct {
	Flow, Source, Campaign                                          string
	Visits, Prefilled, Applications, Accepted, Declined, Redirected int64
	Revenue, EPC                                                    string
	// Currency is the revenue's; PaidCalls the Cashcat calls the visits
	// cost, Spend their price (in the cost's currency), Profit and ROI
	// ("" when spend and revenue are in different currencies or spend is
	// unknown); Duplicates the buyers skipped for having the consumer.
	Currency, Spend, Profit, ROI string
	PaidCalls, Duplicates        int64
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

// NewChart draws three bars per funnel line (visits, applications,
// accepted), scaled to the biggest visit count, at most 12 lines.
func NewChart(rows []FunnelView) Chart {
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
		name := r.Flow + " · " + r.Source + " · " + r.Campaign
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

// AdminError is the operator listener's error page.
type AdminError struct{ Title, Message, Version string }
