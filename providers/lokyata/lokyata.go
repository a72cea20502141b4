package lokyata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/leadgate/leadgate/providers"
)

const maxBody = 64 << 10

// Client posts leads to one Lokyata campaign.
type Client struct {
	endpoint string
	cfg      Config
	http     *http.Client
}

// New returns a client for cfg, calling through hc.
func New(cfg Config, hc *http.Client) (*Client, error) {
	u, err := providers.BaseURL("lokyata", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &Client{endpoint: u.JoinPath("process-lp-lead").String(), cfg: cfg, http: hc}, nil
}

// Name implements the gateway's Buyer.
func (c *Client) Name() string { return "lokyata" }

// Submit posts the application to /process-lp-lead. Lokyata has no tiers:
// tier is ignored. A decision is returned for Approved and Denied; an
// error means no decision (a 500 "failure", an unreadable answer).
func (c *Client) Submit(ctx context.Context, s *providers.Submission, _ string) (providers.Decision, error) {
	body, err := json.Marshal(toWire(s, c.cfg))
	if err != nil {
		return providers.Decision{}, fmt.Errorf("lokyata: %w", err)
	}
	status, resp, err := c.do(ctx, body)
	if err != nil {
		return providers.Decision{}, err
	}
	return c.decide(status, resp, s.ID)
}

func (c *Client) do(ctx context.Context, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("lokyata: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-api-key", c.cfg.APIKey)
	// The document's error answer: 500 with the failure in "comment".
	status, b, err := providers.Call(c.http, req, "lokyata", maxBody, comment)
	if err == nil && status >= 400 {
		// A required field missing or too long: our mapping's fault, and
		// Lokyata is healthy (the breaker must not count it).
		return 0, nil, fmt.Errorf("lokyata: %w: status %d: %s", providers.ErrRejectedRequest, status, comment(b))
	}
	return status, b, err
}

type wireAnswer struct {
	RequestID   json.RawMessage `json:"request_id"`
	Decision    string          `json:"decision"`
	RedirectURL *string         `json:"redirect_url"`
	Comment     string          `json:"comment"`
}

// decide reads a 2xx answer: Approved with a redirect_url is a sale at the
// configured lead_price; Denied (caps, schedule, the lender's rules) is a
// decline with Lokyata's comment as the reason.
func (c *Client) decide(status int, body []byte, id string) (providers.Decision, error) {
	var a wireAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return providers.Decision{}, fmt.Errorf("lokyata: %w: answer is not json (status %d)", providers.ErrBadResponse, status)
	}
	// request_id echoes ours; Lokyata's example sends it as a string, a
	// number is read too. An answer about another request is not ours.
	if echoed := strings.Trim(string(a.RequestID), `"`); len(a.RequestID) > 0 && echoed != "null" && echoed != id {
		return providers.Decision{}, fmt.Errorf("lokyata: %w: answer is for another request_id", providers.ErrBadResponse)
	}
	reason := strings.TrimSpace(a.Comment)
	switch strings.ToLower(strings.TrimSpace(a.Decision)) {
	case "approved":
		if a.RedirectURL == nil || *a.RedirectURL == "" {
			return providers.Decision{}, fmt.Errorf("lokyata: %w: approved without redirect_url", providers.ErrBadResponse)
		}
		u, err := providers.CheckRedirect(*a.RedirectURL, c.cfg.RedirectHosts)
		if err != nil {
			return providers.Decision{}, fmt.Errorf("lokyata: %w", err)
		}
		return providers.Decision{Outcome: providers.Accepted, RedirectURL: u, Price: c.cfg.LeadPrice, Reason: reason}, nil
	case "denied":
		if reason == "" {
			reason = "denied"
		}
		return providers.Decision{Outcome: providers.Declined, Reason: "lokyata: " + reason}, nil
	case "review":
		// test_type Review: the lender reviews by hand, so no one is
		// redirected now; for the consumer it is not an offer.
		return providers.Decision{Outcome: providers.Declined, Reason: "lokyata: under review " + reason}, nil
	}
	return providers.Decision{}, fmt.Errorf("lokyata: %w: unknown decision %q", providers.ErrBadResponse, cut(a.Decision, 30))
}

func comment(body []byte) string {
	var a wireAnswer
	if json.Unmarshal(body, &a) == nil && a.Comment != "" {
		return cut(a.Comment, 300)
	}
	return "unreadable answer"
}

// audit keeps, of an exchange with Lokyata, our ids, the amounts, codes,
// choices and pay dates it was sent and its answer's decision and
// comment; the consumer's names, SSN, birth date, contact, address,
// licence, employer, job, bank, IP address and browser are masked.
var audit = providers.NewAudit([]string{
	"lead_provider_id", "campaign_id", "request_id", "affiliate_id", "affiliate_sub_id", "lead_price", "application_website",
	"test_type", "requested_amount", "gender", "state", "drivers_license_state", "contact_time", "residence_type",
	"residence_months", "income_type", "payment_type", "employment_type", "employment_months", "pay_frequency",
	"last_paydate", "next_paydate", "second_next_paydate", "net_monthly_income", "bank_account_type", "bank_months",
	"decision",
}, []string{"comment"})

// Audit is what an attempt's audit record keeps of the exchange.
func (c *Client) Audit() *providers.Audit { return audit }
