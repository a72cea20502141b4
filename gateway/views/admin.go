package views

import (
	"github.com/leadgate/leadgate/providers"
)

// AuditApp is one application as support sees it: no personal data.
type AuditApp struct {
	ID       string           `json:"id"`
	Status   providers.Status `json:"status"`
	Flow     string           `json:"flow"`
	Buyer    string           `json:"buyer,omitempty"`
	Revenue  float64          `json:"revenue"`
	Currency string           `json:"currency"`
	Variant  string           `json:"variant,omitempty"`
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
	// The request sent and the answer, masked (providers.Exchange); the
	// page shows them laid out one value to a line.
	Request      string `json:"request,omitempty"`
	AnswerStatus int    `json:"answer_status,omitempty"`
	Response     string `json:"response,omitempty"`
	RequestShown string `json:"-"`
	AnswerShown  string `json:"-"`
}

// AuditPage is the view of /admin/applications/{id}.
type AuditPage struct {
	// The page's, not the application's: not in its JSON.
	Title, Version string          `json:"-"`
	App            AuditApp        `json:"application"`
	Attempts       []AuditAttempt  `json:"attempts"`
	Postbacks      []AuditPostback `json:"postbacks"`
}

// AdminError is the operator listener's error page.
type AdminError struct{ Title, Message, Version string }
