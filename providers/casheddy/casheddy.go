// Package casheddy is the client of the Casheddy API v1.0.2 (Spain): JSON
// over HTTP Basic auth. POST /v1/lead/send offers a lead to Casheddy's
// partners and answers a redirect URL or per-field errors; POST /v1/validate
// checks credentials.
package casheddy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadgate/leadgate/providers"
)

const maxBody = 256 << 10

// Client talks to one Casheddy account.
type Client struct {
	base *url.URL
	cfg  Config
	http *http.Client
}

// New returns a client for cfg, calling through hc.
func New(cfg Config, hc *http.Client) (*Client, error) {
	u, err := providers.BaseURL("casheddy", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &Client{base: u, cfg: cfg, http: hc}, nil
}

// Name implements the gateway's Buyer.
func (c *Client) Name() string { return "casheddy" }

// RequiredConsents are the consents Casheddy's document says "should be
// 1": agreements[legal_consent] and agreements[subscription]. The form
// asks for the second as an optional, unbundled consent; without it the
// gateway skips Casheddy rather than post what it would refuse.
func (c *Client) RequiredConsents() []string {
	return []string{"consent_terms", "consent_marketing"}
}

// Submit posts the application to /v1/lead/send (Casheddy has no tiers:
// tier is ignored). A decision is returned for
// every answer Casheddy gives (accepted, field errors, declined); an error
// means no decision: the call failed, or the answer was unreadable.
func (c *Client) Submit(ctx context.Context, s *providers.Submission, _ string) (providers.Decision, error) {
	body, err := json.Marshal(toWire(s))
	if err != nil {
		return providers.Decision{}, err
	}
	if err := checkIP(s.IPAddress); err != nil {
		return providers.Decision{}, err
	}
	status, resp, err := c.do(ctx, "v1/lead/send", body)
	if err != nil {
		return providers.Decision{}, err
	}
	return c.decide(status, resp)
}

// Validate checks the credentials with /v1/validate.
func (c *Client) Validate(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"username": c.cfg.Username, "password": c.cfg.Password})
	status, resp, err := c.do(ctx, "v1/validate", body)
	if err != nil {
		return err
	}
	var a wireAnswer
	if json.Unmarshal(resp, &a) != nil {
		return fmt.Errorf("casheddy: %w: validate answer is not json (status %d)", providers.ErrBadResponse, status)
	}
	if status != http.StatusOK || !a.Success {
		return fmt.Errorf("casheddy: %w: credentials refused", providers.ErrUnauthorized)
	}
	return nil
}

func (c *Client) do(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("casheddy: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	status, b, err := providers.Call(c.http, req, "casheddy", maxBody, nil)
	if err == nil && status == http.StatusBadRequest {
		// "Not found / Empty request / Invalid argument": our request is
		// wrong, Casheddy is healthy (the breaker must not count it).
		return 0, nil, fmt.Errorf("casheddy: %w: status 400: %s", providers.ErrRejectedRequest, message(b))
	}
	return status, b, err
}

// decide reads a lead/send answer. Casheddy reports per-field problems
// inside data.responses[].results, with HTTP 200 or 422 around it.
func (c *Client) decide(status int, body []byte) (providers.Decision, error) {
	var a wireAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return providers.Decision{}, fmt.Errorf("casheddy: %w: answer is not json (status %d)", providers.ErrBadResponse, status)
	}
	if a.Success {
		if a.Data.RedirectURL == "" {
			return providers.Decision{}, fmt.Errorf("casheddy: %w: accepted without redirect_url", providers.ErrBadResponse)
		}
		u, err := providers.CheckRedirect(a.Data.RedirectURL, c.cfg.RedirectHosts)
		if err != nil {
			return providers.Decision{}, fmt.Errorf("casheddy: %w", err)
		}
		return providers.Decision{Outcome: providers.Accepted, RedirectURL: u, BuyerRef: a.Data.LeadID, Reason: a.Data.Message, Price: c.cfg.LeadPrice}, nil
	}
	fields := map[string]string{}
	var unknown []string
	for _, r := range a.Data.Responses {
		for _, res := range r.Results {
			if name, ok := canonicalField(res.Field); ok {
				if _, dup := fields[name]; !dup {
					fields[name] = res.Message
				}
			} else {
				unknown = append(unknown, res.Field)
			}
		}
	}
	switch {
	case len(fields) > 0:
		return providers.Decision{Outcome: providers.NeedsFix, FieldErrors: fields, Reason: "casheddy rejected fields"}, nil
	case len(unknown) > 0:
		// Errors on fields the consumer never typed (ip_address, say): a
		// fault of our mapping, not something the consumer can fix.
		return providers.Decision{}, fmt.Errorf("casheddy: %w: rejected fields %s", providers.ErrRejectedRequest, strings.Join(unknown, ", "))
	}
	reason := strings.TrimSpace(a.Data.Status + " " + a.Message)
	if reason == "" {
		reason = "declined"
	}
	return providers.Decision{Outcome: providers.Declined, Reason: "casheddy: " + reason}, nil
}

type wireAnswer struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    struct {
		LeadID      string `json:"lead_id"`
		Message     string `json:"message"`
		RedirectURL string `json:"redirect_url"`
		Status      string `json:"status"`
		Responses   []struct {
			Status  int `json:"status"`
			Results []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"results"`
		} `json:"responses"`
	} `json:"data"`
}

func message(body []byte) string {
	var a wireAnswer
	if json.Unmarshal(body, &a) == nil && a.Message != "" {
		return a.Message
	}
	return "unreadable answer"
}

// checkIP enforces Casheddy's ip_address rule (dotted IPv4) before posting:
// an IPv6 consumer cannot be sent to Casheddy at all, and that is a fault
// of ours to record, not a field the consumer can fix.
func checkIP(ip string) error {
	p := net.ParseIP(ip)
	if p == nil || p.To4() == nil {
		return fmt.Errorf("casheddy: %w: client ip is not ipv4", providers.ErrRejectedRequest)
	}
	return nil
}

// audit keeps, of an exchange with Casheddy, the amounts, codes and
// choices it was sent and its answer's words; names, ids, contact,
// address, birth date, plate, bank account and IP address are masked.
var audit = providers.NewAudit([]string{
	"loan_sum", "loan_period", "housing_type", "gender", "nationality", "marital_status", "phone_plan", "occupation",
	"neto_income", "monthly_expenses", "employed_since", "remuneration_deadline", "dependant_count", "car_owner",
	"success", "lead_id", "status", "field",
}, []string{"message", "error_message"})

// Audit is what an attempt's audit record keeps of the exchange.
func (c *Client) Audit() *providers.Audit { return audit }
