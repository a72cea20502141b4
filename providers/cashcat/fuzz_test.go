package cashcat

import (
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leadgate/leadgate/providers"
)

// prefillFields are the canonical fields a Cashcat lead can fill (SPEC §5,
// "Prefill from a Cashcat lead"), and the values the choice fields take.
var (
	prefillFields = []string{"first_name", "middle_name", "last_name", "email", "birth_date", "gender",
		"nationality", "city", "loan_amount", "monthly_income", "income_source"}
	genders       = []string{"male", "female"}
	incomeSources = []string{"employed", "self_employed", "benefits", "pension", "student", "maternity_leave", "unemployed", "other"}
)

// FuzzParse: whatever Cashcat answers, the parser returns a lead or an
// error, never panics, and what a lead prefills holds for any input: only
// canonical fields, readable values, choices from their lists, and amounts
// only in the flow's own currency.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/lead_inside.json", "testdata/lead_beside.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"lead":{"firstName":"Ana","loan":{"requestedAmount":"1e400"}}}`))
	f.Add([]byte(`{'error': {'code': 50003, 'message': 'action not found'}}`))
	f.Add([]byte(`{"firstName":null,"loan":{"requestedAmount":null},"balance":{"amount":"-0"}}`))
	f.Add([]byte(`{"firstName":"Ana","loan":{"requestedAmount":1e300,"requestedCurrency":"EUR"}}`))
	f.Add([]byte(`{"firstName":"Ana","loan":{"requestedAmount":0.5,"requestedCurrency":"eur"}}`))
	f.Add([]byte(`{"firstName":"Ana","monthlyIncome":"From 99999999999999999999 to 1","monthlyIncomeCurrency":"PHP"}`))
	f.Add([]byte(`{"firstName":" \u00a0Ana\t","gender":"F","countryResidence":"spain","socialStatus":"Retired","email":"\ud800@x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := Parse(body)
		if err != nil {
			return
		}
		byCurrency := map[string]map[string]string{}
		for _, cur := range []string{"EUR", "PHP"} {
			p := l.Prefill(cur)
			byCurrency[cur] = p
			for k, v := range p {
				if !slices.Contains(prefillFields, k) {
					t.Errorf("%s: prefilled %q, not a field a lead fills", cur, k)
				}
				if v == "" || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
					t.Errorf("%s: %s = %q: want non-empty, valid UTF-8, trimmed", cur, k, v)
				}
			}
			if g, ok := p["gender"]; ok && !slices.Contains(genders, g) {
				t.Errorf("gender %q is not one of %v", g, genders)
			}
			if s, ok := p["income_source"]; ok && !slices.Contains(incomeSources, s) {
				t.Errorf("income_source %q is not one of %v", s, incomeSources)
			}
			if c, ok := p["nationality"]; ok {
				if _, known := providers.CountryByCode(c); !known {
					t.Errorf("nationality %q is no country code", c)
				}
			}
			if v, ok := p["loan_amount"]; ok {
				if !strings.EqualFold(l.Loan.RequestedCurrency, cur) {
					t.Errorf("loan_amount %s prefilled in a %s flow for a loan in %q", v, cur, l.Loan.RequestedCurrency)
				}
				if n, err := strconv.Atoi(v); err != nil || n < 1 || n > math.MaxInt32 {
					t.Errorf("loan_amount %q (from %v) is not a whole amount a consumer could ask for", v, l.Loan.RequestedAmount)
				}
			}
			if v, ok := p["monthly_income"]; ok {
				if !strings.EqualFold(l.MonthlyIncomeCurrency, cur) {
					t.Errorf("monthly_income %s prefilled in a %s flow for an income in %q", v, cur, l.MonthlyIncomeCurrency)
				}
				if n, err := strconv.Atoi(v); err != nil || n < 0 {
					t.Errorf("monthly_income %q is not a whole amount", v)
				}
			}
		}
		// Only the amounts depend on the flow's currency.
		strip := func(p map[string]string) map[string]string {
			p = maps.Clone(p)
			delete(p, "loan_amount")
			delete(p, "monthly_income")
			return p
		}
		if a, b := strip(byCurrency["EUR"]), strip(byCurrency["PHP"]); !maps.Equal(a, b) {
			t.Errorf("the currency changed more than the amounts: %v against %v", a, b)
		}
	})
}

func FuzzValidToken(f *testing.F) {
	for _, s := range []string{"p47m6005xhf0f6z6", "", "p47m6005xhf0f6z!", "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ"} {
		f.Add(s)
	}
	// The hand-written loop must agree with the shape as a regexp states it.
	shape := regexp.MustCompile(`^[A-Za-z0-9]{16}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidToken(s), shape.MatchString(s); got != want {
			t.Errorf("ValidToken(%q) = %v, want %v", s, got, want)
		}
	})
}
