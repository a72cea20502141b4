package providers

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Lead is what Cashcat knows about a consumer, behind one action token.
type Lead struct {
	ExtID                 string
	CreatedOn             string
	FirstName             string
	MiddleName            string
	LastName              string
	Email                 string
	Birthday              string
	Gender                string
	CountryResidence      string
	Hometown              string
	MonthlyIncome         string
	MonthlyIncomeCurrency string
	SocialStatus          string
	Loan                  LeadLoan
	Clicks                LeadClicks
	Balance               Balance
	// Raw is the record as Cashcat sent it, for the prefill API's "source".
	Raw json.RawMessage
}

// LeadLoan is the loan the consumer asked Cashcat for.
type LeadLoan struct {
	Product           string
	RequestedCurrency string
	RequestedAmount   float64
}

// LeadClicks is Cashcat's click record for the lead.
type LeadClicks struct {
	Object string
	Clicks int
}

// Balance is the lender's remaining Cashcat balance, reported with each lead.
type Balance struct {
	Company           string
	Amount            float64
	Currency          string
	AvailableRequests int
	Known             bool // false when the answer carried no balance
}

// Prefill translates a lead into canonical field values for a flow whose
// amounts are in currency (SPEC §5 "Prefill from a Cashcat lead"). Amounts
// in another currency are left out rather than converted: a consumer who
// asked for 8000 PHP did not ask for 8000 EUR.
func (l *Lead) Prefill(currency string) map[string]string {
	v := map[string]string{}
	set := func(k, s string) {
		if s = strings.TrimSpace(s); s != "" {
			v[k] = s
		}
	}
	set("first_name", l.FirstName)
	set("middle_name", l.MiddleName)
	set("last_name", l.LastName)
	set("email", l.Email)
	set("birth_date", l.Birthday)
	set("city", l.Hometown)
	switch strings.ToLower(strings.TrimSpace(l.Gender)) {
	case "male", "m":
		v["gender"] = "male"
	case "female", "f":
		v["gender"] = "female"
	}
	if c, ok := CountryByName(l.CountryResidence); ok {
		v["nationality"] = c.Code
	}
	// int() of 0.5 is 0 and of 1e300 anything: only amounts one could ask for.
	if amt := l.Loan.RequestedAmount; strings.EqualFold(l.Loan.RequestedCurrency, currency) && amt >= 1 && amt <= math.MaxInt32 {
		v["loan_amount"] = strconv.Itoa(int(l.Loan.RequestedAmount))
	}
	if strings.EqualFold(l.MonthlyIncomeCurrency, currency) {
		if n, ok := lowerBound(l.MonthlyIncome); ok {
			v["monthly_income"] = strconv.Itoa(n)
		}
	}
	if s := IncomeSourceFromStatus(l.SocialStatus); s != "" {
		v["income_source"] = s
	}
	if t := EmploymentTypeFromStatus(l.SocialStatus); t != "" {
		v["employment_type"] = t
	}
	return v
}

// EmploymentTypeFromStatus reads full or part time out of Cashcat's
// socialStatus ("Employed Full Time"), however it is written: a lead that
// says so had the consumer answer it again.
func EmploymentTypeFromStatus(status string) string {
	s := strings.Join(strings.FieldsFunc(strings.ToLower(status), func(r rune) bool { return !unicode.IsLetter(r) }), "")
	switch {
	case IncomeSourceFromStatus(status) == "unemployed":
		return ""
	case strings.Contains(s, "fulltime"):
		return "full_time"
	case strings.Contains(s, "parttime"):
		return "part_time"
	}
	return ""
}

var firstNumber = regexp.MustCompile(`\d[\d.,]*`)

// lowerBound reads the first number of a Cashcat income band such as
// "From 20.000 to 40.000". Cashcat writes thousands with dots (and may write
// them with commas), and bands have no decimals, so both are separators.
func lowerBound(band string) (int, bool) {
	m := firstNumber.FindString(band)
	if m == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.NewReplacer(".", "", ",", "").Replace(m))
	return n, err == nil
}

// IncomeSourceFromStatus guesses the canonical income_source from Cashcat's
// free-text socialStatus ("Employed At A Factory") by keywords. Order
// matters: "unemployed" contains "employed", "self-employed" too.
func IncomeSourceFromStatus(status string) string {
	s := strings.ToLower(status)
	rules := []struct{ keyword, source string }{
		{"unemploy", "unemployed"},
		{"self", "self_employed"},
		{"business", "self_employed"},
		{"entrepreneur", "self_employed"},
		{"freelance", "self_employed"},
		{"student", "student"},
		{"pension", "pension"},
		{"retire", "pension"},
		{"maternity", "maternity_leave"},
		{"benefit", "benefits"},
		{"employ", "employed"},
		{"work", "employed"},
	}
	for _, r := range rules {
		if strings.Contains(s, r.keyword) {
			return r.source
		}
	}
	return ""
}
