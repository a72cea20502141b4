// Package emulator emulates Lokyata's Lead Buy API for the sandbox: it
// checks each post against the document's request table and answers as
// the document does. It shares no code with the client on purpose: the
// rules are its own copy of the document, so that a mapping mistake shows.
package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadgate/leadgate/providers/emulate"
)

// APIKey is the x-api-key the emulator accepts: the sandbox key Lokyata's
// document publishes.
const APIKey = "0VIBkISQiaQS4z6iggxT11JKqvw0subW"

// Calls is the key the emulator's posts are counted under.
const Calls = "lokyata:process-lp-lead"

type emulator struct {
	env      emulate.Env
	requests emulate.Seen // request_ids: a second post is denied
}

// New returns the emulator: POST /process-lp-lead, below where it is
// mounted.
func New(env emulate.Env) http.Handler {
	e := &emulator{env: env}
	mux := http.NewServeMux()
	mux.HandleFunc("/process-lp-lead", e.lead)
	return mux
}

// lokyataField is one row of the document's request table.
type lokyataField struct {
	kind     string // string, int, float, bool, date
	required bool
	max      int      // length, for strings
	values   []string // the document's list, when it gives one
	digits   bool     // "all numeric digits; no special characters"
}

var lokyataFields = map[string]lokyataField{
	"test_type":                   {kind: "string", max: 64, values: []string{"Deny", "Accept", "Review"}},
	"request_id":                  {kind: "string", required: true, max: 64},
	"lead_provider_id":            {kind: "string", required: true, max: 30},
	"campaign_id":                 {kind: "string", required: true, max: 64},
	"affiliate_id":                {kind: "string", required: true, max: 64},
	"affiliate_sub_id":            {kind: "string", max: 64},
	"lead_price":                  {kind: "float", required: true},
	"application_website":         {kind: "string", required: true, max: 300},
	"ip_address":                  {kind: "string", required: true, max: 39},
	"requested_amount":            {kind: "int", required: true},
	"ssn":                         {kind: "string", required: true, max: 9, digits: true},
	"dob":                         {kind: "date", required: true},
	"gender":                      {kind: "string", max: 7, values: []string{"Male", "Female", "Unknown", "Other"}},
	"first_name":                  {kind: "string", required: true, max: 50},
	"middle_initial":              {kind: "string", max: 1},
	"last_name":                   {kind: "string", required: true, max: 50},
	"address":                     {kind: "string", required: true, max: 300},
	"address2":                    {kind: "string", max: 100},
	"city":                        {kind: "string", required: true, max: 100},
	"state":                       {kind: "string", required: true, max: 2},
	"zip_code":                    {kind: "string", required: true, max: 10},
	"home_phone":                  {kind: "string", required: true, max: 50, digits: true},
	"mobile_phone":                {kind: "string", required: true, max: 50, digits: true},
	"work_phone":                  {kind: "string", required: true, max: 50, digits: true},
	"drivers_license_state":       {kind: "string", required: true, max: 2},
	"drivers_license_number":      {kind: "string", required: true, max: 20},
	"contact_time":                {kind: "string", max: 9, values: []string{"Morning", "Afternoon", "Evening"}},
	"is_military":                 {kind: "bool", required: true},
	"residence_type":              {kind: "string", required: true, values: []string{"Rent", "Own", "Family", "Friend", "Other"}},
	"email":                       {kind: "string", required: true, max: 300},
	"residence_months":            {kind: "int", required: true},
	"is_citizen":                  {kind: "bool", required: true},
	"is_subscribed_future_offers": {kind: "bool"},
	"income_type":                 {kind: "string", required: true, max: 20, values: []string{"Employed", "Self Employed", "Disability", "Social Security", "Unemployed", "Pension", "Retirement", "Other"}},
	"payment_type":                {kind: "string", required: true, max: 20, values: []string{"Direct Deposit", "Paper Check", "Cash"}},
	"employment_type":             {kind: "string", required: true, max: 20, values: []string{"Full Time", "Part Time", "Not Applicable"}},
	"employment_months":           {kind: "int", required: true},
	"employer_name":               {kind: "string", required: true, max: 100},
	"employment_address":          {kind: "string", required: true, max: 300},
	"employer_phone":              {kind: "string", required: true, max: 13, digits: true},
	"supervisor_name":             {kind: "string", required: true, max: 100},
	"job_title":                   {kind: "string", max: 100},
	"pay_frequency":               {kind: "string", required: true, max: 15, values: []string{"Daily", "Weekly", "Bi-Weekly", "Twice-Monthly", "Monthly"}},
	"last_paydate":                {kind: "date", required: true},
	"next_paydate":                {kind: "date", required: true},
	"second_next_paydate":         {kind: "date"},
	"net_monthly_income":          {kind: "int", required: true},
	"bank_name":                   {kind: "string", required: true, max: 50},
	"bank_account_type":           {kind: "string", required: true, max: 10, values: []string{"Checking", "Savings"}},
	"bank_routing_number":         {kind: "string", required: true, max: 9, digits: true},
	"bank_account_number":         {kind: "string", required: true, max: 17},
	"bank_months":                 {kind: "int", required: true},
	"is_direct_deposit":           {kind: "bool", required: true},
	"user_string":                 {kind: "string", required: true},
	"sms_opt_in":                  {kind: "bool"},
}

var (
	lokyataZip   = regexp.MustCompile(`^\d{5}(-\d{4})?$`)
	lokyataState = regexp.MustCompile(`^[A-Z]{2}$`)
)

// checkLokyata applies the document's request table to a decoded body.
func checkLokyata(body map[string]any) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(lokyataFields)) {
		f := lokyataFields[name]
		v, present := body[name]
		if !present || v == nil || v == "" {
			if f.required {
				problems = append(problems, name+" is required")
			}
			continue
		}
		if p := f.check(v); p != "" {
			problems = append(problems, name+" "+p)
		}
	}
	for name := range body {
		if _, known := lokyataFields[name]; !known && !slices.Contains(lokyataOptionalUnchecked, name) {
			problems = append(problems, name+" is not a field of this API")
		}
	}
	for _, name := range []string{"state", "drivers_license_state"} {
		if s, _ := body[name].(string); s != "" && !lokyataState.MatchString(s) {
			problems = append(problems, name+" must be a two-letter USPS abbreviation")
		}
	}
	if z, _ := body["zip_code"].(string); z != "" && !lokyataZip.MatchString(z) {
		problems = append(problems, "zip_code must be nnnnn or nnnnn-nnnn")
	}
	return problems
}

// The document's optional fields leadgate never sends: accepted unchecked.
var lokyataOptionalUnchecked = []string{
	"num_installments", "interest_rate", "language", "employment_address2", "employment_city", "employment_state",
	"employment_zip_code", "employment_phone_ext", "employment_fax", "supervisor_phone", "supervisor_phone_ext",
	"work_shift", "gross_monthly_income", "bank_account_holder", "bank_phone", "outstanding_amt",
	"reference_first_name", "reference_last_name", "reference_phone", "reference_relationship",
}

func (f lokyataField) check(v any) string {
	switch f.kind {
	case "bool":
		if _, ok := v.(bool); !ok {
			return "must be true or false"
		}
	case "int", "float":
		n, ok := v.(float64)
		if !ok {
			return "must be a number"
		}
		if f.kind == "int" && n != float64(int64(n)) {
			return "must be a whole number"
		}
	case "date":
		s, ok := v.(string)
		if _, err := time.Parse("2006-01-02", s); !ok || err != nil {
			return "must be a date yyyy-mm-dd"
		}
	case "string":
		s, ok := v.(string)
		switch {
		case !ok:
			return "must be a string"
		case f.max > 0 && utf8.RuneCountInString(s) > f.max:
			return fmt.Sprintf("is longer than %d", f.max)
		case f.values != nil && !slices.Contains(f.values, s):
			return fmt.Sprintf("must be one of %s", strings.Join(f.values, ", "))
		case f.digits && strings.Trim(s, "0123456789") != "":
			return "must be digits only"
		}
	}
	return ""
}

// lead answers like /process-lp-lead. test_type decides the answer
// as the document says; without it, switches in the email's local part:
// "+decline", "+cap" (the hourly cap comment), "+slow", "+fail" (the
// document's 500), "+garbage", each also as "+lokyata-SWITCH" to switch
// Lokyata alone. A request_id seen before is denied, so a double post
// shows up.
func (e *emulator) lead(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		emulate.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method Not Allowed"})
		return
	}
	if r.Header.Get("x-api-key") != APIKey {
		emulate.WriteJSON(w, http.StatusForbidden, map[string]any{"message": "Forbidden"})
		return
	}
	e.env.Count(Calls)
	var body map[string]any
	if !emulate.IsJSON(r) || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body) != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, lokyataAnswer("", "Denied", nil, "request body must be a JSON object"))
		return
	}
	id, _ := body["request_id"].(string)
	if problems := checkLokyata(body); len(problems) > 0 {
		emulate.WriteJSON(w, http.StatusBadRequest, lokyataAnswer(id, "Denied", nil, strings.Join(problems, "; ")))
		return
	}
	if e.requests.Again(id) {
		emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Denied", nil, "Duplicate request_id"))
		return
	}
	email, _ := body["email"].(string)
	test, _ := body["test_type"].(string)
	switch {
	case test == "Accept":
	case test == "Deny":
		emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Denied", nil, "Denial Reason"))
		return
	case test == "Review":
		emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Review", nil, "Application under review"))
		return
	case emulate.Switch(email, "lokyata", "slow"):
		if !e.env.Sleep(r) {
			return
		}
	case emulate.Switch(email, "lokyata", "garbage"):
		emulate.WriteRaw(w, http.StatusOK, "<html>gateway timeout</html>")
		return
	case emulate.Switch(email, "lokyata", "fail"):
		emulate.WriteJSON(w, http.StatusInternalServerError, lokyataAnswer(id, "Denied", nil, "Failure Reason"))
		return
	case emulate.Switch(email, "lokyata", "decline"):
		emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Denied", nil, "Denial Reason"))
		return
	case emulate.Switch(email, "lokyata", "cap"):
		emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Denied", nil, "Not Accepting Leads - Hourly Cap Reached"))
		return
	}
	u := e.env.LenderPage(r, "Lokyata", id)
	emulate.WriteJSON(w, http.StatusOK, lokyataAnswer(id, "Approved", &u, ""))
}

func lokyataAnswer(id, decision string, redirect *string, comment string) map[string]any {
	return map[string]any{"request_id": id, "decision": decision, "redirect_url": redirect, "comment": comment}
}
