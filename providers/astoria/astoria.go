package astoria

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/leadgate/leadgate/providers"
)

const maxBody = 64 << 10

// tierPrices are Astoria's tiers and their payouts, from the document.
var tierPrices = map[string]float64{
	"tier150": 150, "tier140": 140, "tier130": 130, "tier120": 120, "tier110": 110,
	"tier100": 100, "tier95": 95, "tier90": 90, "tier85": 85, "tier80": 80, "tier75": 75,
	"tier70": 70, "tier65": 65, "tier60": 60, "tier55": 55, "tier50": 50, "tier45": 45,
	"tier40": 40, "tier35": 35, "tier30": 30, "tier25": 25, "tier20": 20, "tier15": 15,
	"tier12": 12, "tier10": 10, "tier8": 8, "tier5": 5, "tier3": 3, "tier2.25": 2.25,
	"tier2": 2, "tier1": 1, "tier.50": 0.5,
}

// TierPrice is a tier's payout; ok is false for a name Astoria does not
// know. "ALL" is known and has no single price.
func TierPrice(name string) (price float64, ok bool) {
	if name == "ALL" {
		return 0, true
	}
	price, ok = tierPrices[name]
	return price, ok
}

// SortTiers orders tiers highest payout first: the document asks for the
// highest tier to be posted first and each lower one after a rejection.
func SortTiers(tiers []string) []string {
	out := slices.Clone(tiers)
	slices.SortStableFunc(out, func(a, b string) int {
		pa, _ := TierPrice(a)
		pb, _ := TierPrice(b)
		switch {
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	return out
}

// Client posts leads to Astoria's direct post.
type Client struct {
	endpoint string
	cfg      Config
	tiers    []string
	http     *http.Client
}

// New returns a client for cfg (validated: known tiers, time_limit ≥ 60s),
// calling through hc, whose timeout must outlast time_limit.
func New(cfg Config, hc *http.Client) (*Client, error) {
	u, err := providers.BaseURL("astoria", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.LeadMode == nil {
		return nil, fmt.Errorf("astoria: lead_mode is not set (0 test, 1 live)")
	}
	tiers := SortTiers(cfg.Tiers)
	if len(tiers) == 0 {
		tiers = []string{"ALL"}
	}
	// The trailing slash is part of Astoria's URL.
	return &Client{endpoint: u.JoinPath("v2", "fulldirect").String() + "/", cfg: cfg, tiers: tiers, http: hc}, nil
}

// Name implements the gateway's Buyer.
func (c *Client) Name() string { return "astoria" }

// Tiers are the tiers a lead rides down, highest payout first.
func (c *Client) Tiers() []string { return c.tiers }

// Submit posts the application to one tier. A decision is returned for
// every PostResponse; Final marks a rejection no lower tier can change.
func (c *Client) Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error) {
	if tier == "" {
		tier = c.tiers[0]
	}
	body := encode(s, c.cfg, tier)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return providers.Decision{}, fmt.Errorf("astoria: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/xml, text/xml")
	status, b, err := providers.Call(c.http, req, "astoria", maxBody, nil)
	switch {
	case err != nil:
		return providers.Decision{}, err
	case status != http.StatusOK:
		return providers.Decision{}, fmt.Errorf("astoria: %w: status %d", providers.ErrRejectedRequest, status)
	}
	return c.decide(b)
}

// PostResponse is Astoria's answer, as the document shows it.
type PostResponse struct {
	XMLName      xml.Name `xml:"PostResponse"`
	Response     string   `xml:"Response"`
	Confirmation string   `xml:"Confirmation"`
	Price        string   `xml:"Price"`
	RedirectURL  string   `xml:"RedirectURL"`
	Reason       string   `xml:"Reason"`
	Message      string   `xml:"Message"`
	Errors       []string `xml:"Errors>Error"`
}

// ParseResponse reads a PostResponse, tolerating the whitespace and the
// XML declaration the document's samples vary in.
func ParseResponse(body []byte) (PostResponse, error) {
	var r PostResponse
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false // the samples are hand-written; be tolerant on input
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("astoria: %w: answer is not a PostResponse", providers.ErrBadResponse)
	}
	r.Response = strings.TrimSpace(r.Response)
	r.Reason = strings.TrimSpace(r.Reason)
	r.Message = strings.TrimSpace(r.Message)
	r.Price = strings.TrimSpace(r.Price)
	return r, nil
}

// rideOn are the rejections a lower tier can change: nobody bought the lead
// at this price. Everything else (errors in the lead, a duplicate, the
// blacklist, our vendor id or mode, caps, maintenance) ends the ride.
var rideOn = []string{"unable to monetize", "no coverage"}

func (c *Client) decide(body []byte) (providers.Decision, error) {
	r, err := ParseResponse(body)
	if err != nil {
		return providers.Decision{}, err
	}
	switch r.Response {
	case "Accepted":
		price, err := strconv.ParseFloat(r.Price, 64)
		// NaN and infinities parse as floats, and would poison every sum
		// of revenue they entered.
		if err != nil || price < 0 || math.IsNaN(price) || math.IsInf(price, 0) {
			return providers.Decision{}, fmt.Errorf("astoria: %w: accepted with price %q", providers.ErrBadResponse, providers.Cut(r.Price, 20))
		}
		u, err := providers.CheckRedirect(r.RedirectURL, c.cfg.RedirectHosts)
		if err != nil {
			return providers.Decision{}, fmt.Errorf("astoria: %w", err)
		}
		return providers.Decision{Outcome: providers.Accepted, RedirectURL: u, Price: price, BuyerRef: providers.Cut(r.Confirmation, 40)}, nil
	case "Rejected":
		reason := r.Reason
		if r.Message != "" {
			reason += ": " + r.Message
		}
		if len(r.Errors) > 0 {
			reason += " " + strings.Join(r.Errors, "; ")
		}
		if reason == "" {
			reason = "rejected"
		}
		final := !slices.Contains(rideOn, strings.ToLower(r.Reason))
		return providers.Decision{Outcome: providers.Declined, Reason: "astoria: " + providers.Cut(reason, 500), Final: final, BuyerRef: providers.Cut(r.Confirmation, 40)}, nil
	}
	return providers.Decision{}, fmt.Errorf("astoria: %w: response %q", providers.ErrBadResponse, providers.Cut(r.Response, 20))
}

// audit keeps, of an exchange with Astoria, our ids and consent text, the
// amounts, codes, choices and pay dates it was sent and its answer's
// verdict, confirmation and price, and its reasons scrubbed; the
// consumer's names, SSN, birth date, contact, address, licence,
// employer, job, bank, IP address, browser and the redirect are masked.
var audit = providers.NewAudit([]string{
	"lead_type", "lead_mode", "vendor_id", "sub_id", "tcpa_optin", "tcpa_text", "origination_datetime",
	"origination_timezone", "vendor_lead_id", "tier", "time_limit", "gender", "residence_type", "years_at_residence",
	"months_at_residence", "license_state", "best_time_contact", "employment_in_year", "employment_in_month",
	"loan_amount", "income_type", "income_payment_type", "income_cycle", "next_pay_date1", "next_pay_date2",
	"monthly_income", "in_military", "account_type", "bank_account_length_months",
	"Response", "Confirmation", "Price",
}, []string{"Reason", "Message", "Error"})

// Audit is what an attempt's audit record keeps of the exchange.
func (c *Client) Audit() *providers.Audit { return audit }
