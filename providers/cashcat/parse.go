package cashcat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/leadgate/leadgate/providers"
)

// The Actions API document shows its answer as loose, not-quite-JSON text:
// it leaves unclear whether "loan", "clicks" and "balance" sit inside "lead"
// or beside it, and writes numbers without saying whether they may come as
// strings. So the parser is tolerant on input (SPEC §5): it looks for those
// three objects inside the lead first and beside it second, takes numbers
// written as strings, accepts a bare lead object without the "lead" wrapper,
// and rejects only what has no lead at all.

type wireLead struct {
	ExtID                 flexString   `json:"ext_id"`
	CreatedOn             flexString   `json:"createdOn"`
	FirstName             flexString   `json:"firstName"`
	MiddleName            flexString   `json:"middleName"`
	LastName              flexString   `json:"lastName"`
	Email                 flexString   `json:"email"`
	Birthday              flexString   `json:"birthday"`
	Gender                flexString   `json:"gender"`
	CountryResidence      flexString   `json:"countryResidence"`
	Hometown              flexString   `json:"hometown"`
	MonthlyIncome         flexString   `json:"monthlyIncome"`
	MonthlyIncomeCurrency flexString   `json:"monthlyIncomeCurrency"`
	SocialStatus          flexString   `json:"socialStatus"`
	Loan                  *wireLoan    `json:"loan"`
	Clicks                *wireClicks  `json:"clicks"`
	Balance               *wireBalance `json:"balance"`
}

type wireLoan struct {
	Product           flexString `json:"product"`
	RequestedCurrency flexString `json:"requestedCurrency"`
	RequestedAmount   flexNumber `json:"requestedAmount"`
}

type wireClicks struct {
	Object flexString `json:"object"`
	Clicks ownNumber  `json:"clicks"`
}

type wireBalance struct {
	Company           flexString `json:"company"`
	Amount            ownNumber  `json:"amount"`
	Currency          flexString `json:"currency"`
	AvailableRequests ownNumber  `json:"availableRequests"`
}

type wireAnswer struct {
	Lead    *wireLead    `json:"lead"`
	Loan    *wireLoan    `json:"loan"`
	Clicks  *wireClicks  `json:"clicks"`
	Balance *wireBalance `json:"balance"`
}

// Parse reads a 200 answer of the Actions API into a Lead.
func Parse(body []byte) (*providers.Lead, error) {
	var a wireAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: lead is not json: %s", providers.ErrBadResponse, jsonReason(err))
	}
	if a.Lead == nil {
		// A bare lead object, without the "lead" wrapper.
		var bare wireLead
		if err := json.Unmarshal(body, &bare); err != nil || (bare.ExtID == "" && bare.Email == "" && bare.FirstName == "") {
			return nil, fmt.Errorf("%w: answer holds no lead", providers.ErrBadResponse)
		}
		a.Lead = &bare
	}
	w := a.Lead
	l := &providers.Lead{
		ExtID:                 string(w.ExtID),
		CreatedOn:             string(w.CreatedOn),
		FirstName:             string(w.FirstName),
		MiddleName:            string(w.MiddleName),
		LastName:              string(w.LastName),
		Email:                 string(w.Email),
		Birthday:              string(w.Birthday),
		Gender:                string(w.Gender),
		CountryResidence:      string(w.CountryResidence),
		Hometown:              string(w.Hometown),
		MonthlyIncome:         string(w.MonthlyIncome),
		MonthlyIncomeCurrency: string(w.MonthlyIncomeCurrency),
		SocialStatus:          string(w.SocialStatus),
	}
	if loan := firstOf(w.Loan, a.Loan); loan != nil {
		l.Loan = providers.LeadLoan{Product: string(loan.Product), RequestedCurrency: string(loan.RequestedCurrency), RequestedAmount: float64(loan.RequestedAmount)}
	}
	if c := firstOf(w.Clicks, a.Clicks); c != nil {
		l.Clicks = providers.LeadClicks{Object: string(c.Object), Clicks: flexNumber(c.Clicks).count()}
	}
	if b := firstOf(w.Balance, a.Balance); b != nil && b.Amount.readable() && b.AvailableRequests.readable() {
		// A balance with a number that cannot be read is not known: read
		// as 0, it raised a false "balance low" alert and priced a call
		// at nothing.
		l.Balance = providers.Balance{Company: string(b.Company), Amount: float64(b.Amount), Currency: string(b.Currency), AvailableRequests: flexNumber(b.AvailableRequests).count(), Known: true}
	}
	// Leads are cached by the hundred thousand: the record is kept at its
	// exact size (a growing buffer would keep up to twice it) and the
	// lead's texts in one allocation instead of one each.
	raw := bytes.NewBuffer(make([]byte, 0, len(body)))
	if err := json.Compact(raw, body); err == nil {
		l.Raw = raw.Bytes()
		if cap(l.Raw) > len(l.Raw)+len(l.Raw)/8 {
			l.Raw = bytes.Clone(l.Raw)
		}
	}
	pack(&l.ExtID, &l.CreatedOn, &l.FirstName, &l.MiddleName, &l.LastName, &l.Email, &l.Birthday, &l.Gender,
		&l.CountryResidence, &l.Hometown, &l.MonthlyIncome, &l.MonthlyIncomeCurrency, &l.SocialStatus,
		&l.Loan.Product, &l.Loan.RequestedCurrency, &l.Clicks.Object, &l.Balance.Company, &l.Balance.Currency)
	return l, nil
}

// pack makes the texts one string, each field a part of it.
func pack(fields ...*string) {
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all, at := b.String(), 0
	for _, f := range fields {
		*f, at = all[at:at+len(*f)], at+len(*f)
	}
}

func firstOf[T any](inside, beside *T) *T {
	if inside != nil {
		return inside
	}
	return beside
}

// jsonReason keeps a decoding error short and free of the input's content.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	if errors.Is(err, errNotScalar) || errors.Is(err, errNotNumber) {
		return err.Error()
	}
	return "malformed"
}

var (
	errNotScalar = errors.New("an object where text was expected")
	errNotNumber = errors.New("not a number")
)

// flexString takes a JSON string, number or bool as text; null is empty.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(strings.TrimSpace(v))
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return errNotScalar
	default:
		*s = flexString(b)
	}
	return nil
}

// flexNumber takes a JSON number, or a string holding one; null and an
// empty string are zero.
type flexNumber float64

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		v = strings.TrimSpace(v)
		if v == "" {
			*n = 0
			return nil
		}
		b = []byte(v)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	// "NaN" and "Infinity" parse, and would make a loan amount, a metric
	// or a sum of them no number at all.
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errNotNumber
	}
	*n = flexNumber(f)
	return nil
}

// ownNumber is a number about our own Cashcat account (its balance, the
// lead's click count), not the consumer: one that cannot be read is 0,
// and costs the consumer nothing. Read strictly, it made the whole lead
// unreadable: no prefill, paid all the same, not cached (every reload
// paid again), and a failure toward Cashcat's breaker.
type ownNumber flexNumber

func (n *ownNumber) UnmarshalJSON(b []byte) error {
	var f flexNumber
	if err := f.UnmarshalJSON(b); err != nil {
		f = flexNumber(math.NaN()) // not known: see readable
	}
	*n = ownNumber(f)
	return nil
}

// readable says n was read (NaN marks one that could not be).
func (n ownNumber) readable() bool { return !math.IsNaN(float64(n)) }

// count is n as a count: none below zero, and at most what an int32
// holds (int of 1e300 is negative, and raised a false "balance low").
func (n flexNumber) count() int {
	if math.IsNaN(float64(n)) {
		return 0
	}
	return int(min(max(float64(n), 0), math.MaxInt32))
}

var errCode = regexp.MustCompile(`code['"]?\s*:\s*['"]?(\d+)`)

// errorCode pulls Cashcat's numeric error code (50002, ...) out of an error
// body, which the document shows with single quotes: not JSON, so a regexp.
func errorCode(body []byte) string {
	if m := errCode.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}
