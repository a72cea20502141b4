// Package providers holds the domain that every upstream adapter shares: the
// canonical application, the Cashcat lead, a buyer's decision and the errors
// that classify an upstream's answer. Each upstream is a sub-package that maps
// this domain to its own wire format; none of them knows about HTTP serving.
package providers

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Sentinel errors an upstream client wraps, so that the gateway can decide
// what the consumer sees and whether a circuit breaker counts the call.
var (
	// ErrNotFound: the upstream does not know the thing asked for (an unknown
	// action token). A valid answer: it must not trip a breaker.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the upstream refused our credentials or our IP.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrPaymentRequired: the lender's balance at the upstream is exhausted.
	ErrPaymentRequired = errors.New("payment required")
	// ErrUnavailable: the upstream could not be reached or failed (timeout,
	// connection error, 5xx, breaker open).
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrBadResponse: the upstream answered something we cannot read.
	ErrBadResponse = errors.New("bad upstream response")
	// ErrRejectedRequest: the upstream says our request is malformed (a 4xx
	// of our own making). It must not trip a breaker: retrying won't help and
	// the upstream is healthy.
	ErrRejectedRequest = errors.New("request rejected by upstream")
	// ErrNotDelivered marks a failure after which the request provably did
	// not reach the upstream, or was refused unprocessed: the connection
	// was never made, the breaker was open, or a 503 or 429 came back.
	// Only these are retried: anything else may have reached a buyer, and a
	// buyer is never posted the same lead twice.
	ErrNotDelivered = errors.New("not delivered")
)

// Outcome is what a buyer decided about one submission.
type Outcome string

// The outcomes of a buyer attempt.
const (
	Accepted Outcome = "accepted"
	Declined Outcome = "declined"
	// NeedsFix: the buyer rejected some fields; the consumer can correct them.
	NeedsFix Outcome = "needs_fix"
)

// Decision is a buyer's answer to one submission.
type Decision struct {
	Outcome     Outcome
	RedirectURL string
	// Price is the revenue of an accepted lead, in the flow's currency.
	Price float64
	// Reason says why a lead was declined, in the buyer's words (never PII).
	Reason string
	// FieldErrors maps canonical field names to the buyer's message.
	FieldErrors map[string]string
	// BuyerRef is the buyer's own id of the lead, when it returns one.
	BuyerRef string
	// Final marks a decline that no lower price tier can change (a
	// duplicate, a blacklist, errors in the lead, a cap): the ride down a
	// buyer's tiers stops there.
	Final bool
}

// CheckRedirect returns raw if it is a URL a consumer may be sent to: absolute,
// http or https, and on one of hosts when hosts is not empty. A buyer's
// redirect that fails this check counts as that buyer failing (SPEC §3).
func CheckRedirect(raw string, hosts []string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return "", fmt.Errorf("%w: redirect url is not an absolute http(s) url", ErrBadResponse)
	}
	if len(hosts) > 0 && !slices.Contains(hosts, strings.ToLower(u.Hostname())) {
		return "", fmt.Errorf("%w: redirect host %q is not allowed", ErrBadResponse, u.Hostname())
	}
	return u.String(), nil
}

// BaseURL reads an upstream's configured base URL, which must be absolute
// (its client joins its paths to it).
func BaseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s: base url %q is not an absolute url", name, raw)
	}
	return u, nil
}

// Cut keeps at most n characters of s, never splitting one: a byte cut
// could leave half a UTF-8 character, which PostgreSQL refuses to store
// and a buyer may refuse to read.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s // n bytes hold at most n characters
	}
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// MaxPrice is the most a lead is believed to sell for, in any currency:
// past it a price (a buyer's answer, a configured lead_price) is a bug or
// a tampered answer, which summed into the revenue made every total and
// chart it entered infinite.
const MaxPrice = 1e9

// PriceProblem says what is wrong with a configured lead price, or "".
func PriceProblem(price float64) string {
	if !(price >= 0 && price <= MaxPrice) { // NaN too
		return fmt.Sprintf("want 0 to %g, got %v", MaxPrice, price)
	}
	return ""
}

// DateLayout is the one date format used on every wire and in the form.
const DateLayout = "2006-01-02"

// Today returns the calendar date of now in loc, at midnight UTC, so that it
// compares directly with dates parsed by DateLayout.
func Today(now time.Time, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// TransportError classifies a failed HTTP call of upstream name: every
// one is ErrUnavailable, and one that never left (no connection made) is
// also ErrNotDelivered. ctxErr is the caller's context error, if any.
func TransportError(name string, ctxErr, err error) error {
	if ctxErr != nil {
		return fmt.Errorf("%s: %w", name, ctxErr)
	}
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
		return fmt.Errorf("%s: %w: %w: %s", name, ErrUnavailable, ErrNotDelivered, TransportReason(err))
	}
	return fmt.Errorf("%s: %w: %s", name, ErrUnavailable, TransportReason(err))
}

// StatusError is the error of an upstream's 5xx or 429 answer: 429 and
// 503 say the request was not processed, so they may be retried. A 502 or
// a 504 is a gateway's word that it forwarded the request and its origin
// failed or took too long: the origin may have taken it (a buyer bought
// the lead), so, like a 500 or a timeout, it is never sent again.
func StatusError(name string, status int, detail string) error {
	if detail != "" {
		detail = ": " + detail
	}
	switch status {
	case 429, 503:
		return fmt.Errorf("%s: %w: %w: status %d%s", name, ErrUnavailable, ErrNotDelivered, status, detail)
	}
	return fmt.Errorf("%s: %w: status %d%s", name, ErrUnavailable, status, detail)
}

// TransportReason describes a transport error without the URL that
// net/http puts in it: URLs can carry tokens.
func TransportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}
