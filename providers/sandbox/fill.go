package sandbox

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
)

// TestValues are values the emulators accept for every required field of
// the gateway's forms, by form and field (README, "Sandbox walk-through"):
// the sandbox form's "Fill with test values" button fills them in. A date
// whose distance to today is what matters is written as days from today
// ("-5d", "+9d"). Consents are not here: a consent is only ever given by
// the consumer's own click. Nor are the derived fields (the state, the
// home phone, the last pay date, the house number…): derive.js, or the
// server at submit, fills them from these.
var TestValues = map[string]map[string]string{
	"us": {
		"loan_amount": "500", "first_name": "John", "last_name": "Smith", "birth_date": "1985-07-04",
		"ssn": "876-54-3210", "is_citizen": "1", "is_military": "0",
		"drivers_license_number": "D1234567",
		"email":                  "john.smith@example.com", "mobile_phone": "512 555 0134", "work_phone": "512 555 0136",
		// A ZIP ending in an even digit other than 0: Astoria's test mode buys it.
		"address_line1": "1 Congress Ave", "city": "Austin", "postal_code": "78702",
		"housing": "rent", "months_at_address": "30",
		"income_source": "employed", "employment_type": "full_time", "employer_name": "Acme Corp",
		"employer_address": "2 Main St", "supervisor_name": "Jane Roe",
		"employed_since": "2022-03-01", "monthly_income": "3000", "pay_frequency": "biweekly",
		"pay_method": "direct_deposit", "next_pay_date": "+9d",
		// The ABA checksum is checked: 123456789 is refused.
		"bank_name": "Chase", "bank_routing_number": "021000021", "bank_account_number": "12345678",
		"bank_account_type": "checking", "bank_months": "40",
	},
	"es": {
		"loan_amount": "300", "loan_period_days": "30", "first_name": "Lucía", "last_name": "García",
		"gender": "female", "birth_date": "1990-04-12", "national_id": "60604016M", "nationality": "ES",
		"marital_status": "single", "email": "lucia.garcia@example.es", "mobile_phone": "612 345 678",
		"address_line1": "Calle Mayor 5", "postal_code": "33560", "city": "Ribadesella",
		"housing": "rent", "income_source": "employed", "employed_since": "2020-01-01",
		"monthly_income": "1500", "monthly_expenses": "600", "next_pay_date": "+10d",
		"iban": "ES5020803294338752239563",
	},
}

//go:embed fill.js
var fillJS string

// fillScript is fill.js with TestValues in it: one file, from the
// gateway's own origin, which its CSP (script-src 'self') allows.
func fillScript() []byte {
	b, _ := json.Marshal(TestValues) // strings only: cannot fail
	return []byte(strings.Replace(fillJS, "/*TEST_VALUES*/{}", string(b), 1))
}

// fill serves the script of the sandbox form's "Fill with test values"
// button; the gateway links it only in sandbox mode.
func (s *Sandbox) fill(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	// Its ?v= is the templates' version, which does not cover this file.
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(s.fillJS)
}
