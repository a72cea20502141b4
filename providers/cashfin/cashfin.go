package cashfin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/leadgate/leadgate/providers"
)

const maxBody = 1 << 20 // a list page of 100 leads

// Lead is a CRM lead as leadgate creates it.
type Lead struct {
	Name    string  `json:"name"`
	Email   string  `json:"email,omitempty"`
	Phone   string  `json:"phone,omitempty"`
	Country string  `json:"country,omitempty"`
	State   string  `json:"state,omitempty"`
	Source  string  `json:"source,omitempty"`
	Request string  `json:"request,omitempty"`
	Budget  float64 `json:"budget,omitempty"`
	Status  string  `json:"status,omitempty"`
}

// Client talks to one Cashfin business account.
type Client struct {
	base *url.URL
	cfg  Config
	http *http.Client
}

// New returns a client for cfg, calling through hc.
func New(cfg Config, hc *http.Client) (*Client, error) {
	u, err := providers.BaseURL("cashfin", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &Client{base: u, cfg: cfg, http: hc}, nil
}

// Marker is the text leadgate puts in a lead's request to find it again:
// the application id, which is not personal data.
func Marker(applicationID string) string { return "leadgate application " + applicationID }

// ToLead maps a decided application to its CRM lead (SPEC §6): converted
// when a buyer accepted, lost when none did, new while the consumer is
// asked to correct it.
func ToLead(s *providers.Submission, status providers.Status) Lead {
	a := &s.Application
	name := strings.Join(strings.Fields(strings.Join([]string{a.FirstName, a.MiddleName, a.LastName, a.SecondLastName}, " ")), " ")
	l := Lead{
		Name: name, Email: a.Email, Phone: e164(s.Country, a.MobilePhone),
		Country: countryName(s.Country), State: a.State, Source: sourceDetail(s.Attribution),
		Budget:  float64(a.LoanAmount),
		Request: fmt.Sprintf("loan of %d %s (%s flow) · %s", a.LoanAmount, s.Currency, s.Flow, Marker(s.ID)),
	}
	switch status {
	case providers.StatusAccepted:
		l.Status = "converted"
	case providers.StatusDeclined:
		l.Status = "lost"
	default:
		l.Status = "new"
	}
	return l
}

// sourceDetail is the CRM's lead source: the first touch's utm_source,
// and the experiment variant the consumer saw, so that sales people can
// compare variants in the CRM too.
func sourceDetail(a providers.Attribution) string {
	if a.Variant == "" {
		return a.Source
	}
	return strings.TrimSpace(a.Source + " (variant " + a.Variant + ")")
}

// e164 writes a national number in international form, as the document's
// example ("+254722000001").
func e164(country, national string) string {
	if national == "" {
		return ""
	}
	switch country {
	case "US":
		return "+1" + national
	case "ES":
		return "+34" + national
	}
	return national
}

type wireCreated struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Data    struct {
		ID string `json:"_id"`
	} `json:"data"`
}

type wireList struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Data    []struct {
		ID      string `json:"_id"`
		Request string `json:"request"`
	} `json:"data"`
	Pagination struct {
		Page  int `json:"page"`
		Pages int `json:"pages"`
	} `json:"pagination"`
}

// Create creates a lead and returns its id.
func (c *Client) Create(ctx context.Context, l Lead) (string, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("cashfin: %w", err)
	}
	var out wireCreated
	if err := c.do(ctx, http.MethodPost, c.base.JoinPath("business", "lead", "create").String(), body, &out); err != nil {
		return "", err
	}
	if !out.Success || out.Data.ID == "" {
		return "", fmt.Errorf("cashfin: %w: create answered without a lead id", providers.ErrBadResponse)
	}
	return out.Data.ID, nil
}

// Find looks for the lead created for an application: searched by the
// consumer's email (or phone), recognised by the marker in its request.
// It returns "" when there is none.
func (c *Client) Find(ctx context.Context, search, marker string) (string, error) {
	for page := 1; page <= 50; page++ {
		q := url.Values{"search": {search}, "limit": {"100"}, "page": {strconv.Itoa(page)}}
		var out wireList
		if err := c.do(ctx, http.MethodGet, c.base.JoinPath("business", "lead", "list").String()+"?"+q.Encode(), nil, &out); err != nil {
			return "", err
		}
		if !out.Success {
			return "", fmt.Errorf("cashfin: %w: list answered success=false", providers.ErrBadResponse)
		}
		for _, l := range out.Data {
			if strings.Contains(l.Request, marker) {
				return l.ID, nil
			}
		}
		if len(out.Data) == 0 || page >= out.Pagination.Pages {
			return "", nil
		}
	}
	return "", nil
}

func (c *Client) do(ctx context.Context, method, u string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("cashfin: %w", err)
	}
	// The document's scheme: the client secret itself, no "Bearer".
	req.Header.Set("Authorization", c.cfg.ClientSecret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	status, b, err := providers.Call(c.http, req, "cashfin", maxBody, errorText)
	switch {
	case err != nil:
		return err
	case status >= 400:
		return fmt.Errorf("cashfin: %w: status %d: %s", providers.ErrRejectedRequest, status, errorText(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("cashfin: %w: answer is not json (status %d)", providers.ErrBadResponse, status)
	}
	return nil
}

// errorText is Cashfin's "error" field, cut short: it names fields, never
// their values.
func errorText(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return providers.Cut(e.Error, 200)
	}
	return "unreadable answer"
}

func countryName(code string) string {
	if c, ok := providers.CountryByCode(code); ok {
		return c.English
	}
	return code
}
