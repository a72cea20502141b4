// Package emulator emulates Astoria's direct post for the sandbox: it
// checks each post against the document's fields and answers with the
// document's PostResponses. It shares no code with the client on purpose:
// the rules (the tiers too) are its own copy of the document, so that a
// mistake in the client shows.
package emulator

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/leadgate/leadgate/providers/emulate"
)

// VendorID is the vendor_id the emulator knows; like a new Astoria
// account, it is in test mode (lead_mode=1 is refused).
const VendorID = "76"

// Calls is the key the emulator's posts are counted under.
const Calls = "astoria:fulldirect"

type emulator struct {
	env   emulate.Env
	posts emulate.Seen // vendor_lead_id/tier: a second post is a duplicate
}

// New returns the emulator: POST /v2/fulldirect/, below where it is
// mounted.
func New(env emulate.Env) http.Handler {
	e := &emulator{env: env}
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/fulldirect/", e.post)
	return mux
}

// astoriaTiers are the document's tiers and payouts: the emulator's own
// copy (see the package comment), which the duplicate finder pairs with
// the client's.
var astoriaTiers = map[string]float64{
	"tier150": 150, "tier140": 140, "tier130": 130, "tier120": 120, "tier110": 110,
	"tier100": 100, "tier95": 95, "tier90": 90, "tier85": 85, "tier80": 80, "tier75": 75,
	"tier70": 70, "tier65": 65, "tier60": 60, "tier55": 55, "tier50": 50, "tier45": 45,
	"tier40": 40, "tier35": 35, "tier30": 30, "tier25": 25, "tier20": 20, "tier15": 15,
	"tier12": 12, "tier10": 10, "tier8": 8, "tier5": 5, "tier3": 3, "tier2.25": 2.25,
	"tier2": 2, "tier1": 1, "tier.50": 0.5,
}

// astoriaRules are the document's fields with their accepted values. A
// field sent empty is an error too: the document says to omit it instead.
var astoriaRules = map[string]*regexp.Regexp{
	"lead_type":                  regexp.MustCompile(`^.+$`), // its own rejection below
	"lead_mode":                  regexp.MustCompile(`^.+$`),
	"vendor_id":                  regexp.MustCompile(`^.+$`),
	"sub_id":                     regexp.MustCompile(`^[A-Za-z0-9_-]{1,35}$`),
	"tcpa_optin":                 regexp.MustCompile(`^[01]$`),
	"tcpa_text":                  regexp.MustCompile(`^.+$`),
	"origination_datetime":       regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`),
	"origination_timezone":       regexp.MustCompile(`^[1-4]$`),
	"ipaddress":                  regexp.MustCompile(`^[0-9a-fA-F.:]{3,45}$`),
	"user_agent":                 regexp.MustCompile(`^.+$`),
	"vendor_lead_id":             regexp.MustCompile(`^.{1,64}$`),
	"url":                        regexp.MustCompile(`^.+$`),
	"tier":                       regexp.MustCompile(`^(ALL|tier[0-9.]+)$`),
	"time_limit":                 regexp.MustCompile(`^\d+$`),
	"first_name":                 regexp.MustCompile(`^.+$`),
	"last_name":                  regexp.MustCompile(`^.+$`),
	"mothers_maiden_name":        regexp.MustCompile(`^.+$`),
	"gender":                     regexp.MustCompile(`^[01]$`),
	"email":                      regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`),
	"address":                    regexp.MustCompile(`^.+$`),
	"zip":                        regexp.MustCompile(`^\d{5}$`),
	"residence_type":             regexp.MustCompile(`^[01]$`),
	"years_at_residence":         regexp.MustCompile(`^([0-9]|10)$`),
	"months_at_residence":        regexp.MustCompile(`^([0-9]|1[01])$`),
	"primary_phone":              regexp.MustCompile(`^\d{10}$`),
	"secondary_phone":            regexp.MustCompile(`^\d{10}$`),
	"work_phone":                 regexp.MustCompile(`^\d{10}$`),
	"dob":                        regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	"ssn":                        regexp.MustCompile(`^\d{9}$`),
	"license_number":             regexp.MustCompile(`^.+$`),
	"license_state":              regexp.MustCompile(`^[A-Z]{2}$`),
	"employer":                   regexp.MustCompile(`^.+$`),
	"job_title":                  regexp.MustCompile(`^.+$`),
	"best_time_contact":          regexp.MustCompile(`^[1-6]$`),
	"employment_in_year":         regexp.MustCompile(`^\d{1,2}$`),
	"employment_in_month":        regexp.MustCompile(`^([0-9]|1[01])$`),
	"loan_amount":                regexp.MustCompile(`^\d+$`),
	"income_type":                regexp.MustCompile(`^[1-4]$`),
	"income_payment_type":        regexp.MustCompile(`^[12]$`),
	"income_cycle":               regexp.MustCompile(`^[1-4]$`),
	"next_pay_date1":             regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	"next_pay_date2":             regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	"monthly_income":             regexp.MustCompile(`^\d+$`),
	"in_military":                regexp.MustCompile(`^[01]$`),
	"account_type":               regexp.MustCompile(`^[12]$`),
	"bank_name":                  regexp.MustCompile(`^.+$`),
	"bank_routing_number":        regexp.MustCompile(`^\d{9}$`),
	"bank_account_number":        regexp.MustCompile(`^\d{1,17}$`),
	"bank_account_length_months": regexp.MustCompile(`^\d{1,2}$`),
	"bank_phone":                 regexp.MustCompile(`^\d{10}$`),
}

// astoriaRequired: without these a lead cannot be sold (the document's
// required marks did not survive its export; these are the fields a
// payday buyer cannot do without).
var astoriaRequired = []string{
	"vendor_id", "lead_mode", "first_name", "last_name", "email", "address", "zip", "primary_phone", "dob",
	"ssn", "income_type", "monthly_income", "next_pay_date1", "account_type", "bank_routing_number",
	"bank_account_number", "ipaddress", "tcpa_optin",
}

type astoriaResponse struct {
	XMLName      xml.Name `xml:"PostResponse"`
	Response     string   `xml:"Response"`
	Confirmation string   `xml:"Confirmation"`
	Price        string   `xml:"Price"`
	RedirectURL  string   `xml:"RedirectURL,omitempty"`
	Reason       string   `xml:"Reason"`
	Message      string   `xml:"Message"`
	Errors       []string `xml:"Errors>Error,omitempty"`
}

func writeXML(w http.ResponseWriter, status int, v astoriaResponse) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	xml.NewEncoder(w).Encode(v)
}

func astoriaReject(reason, message string, errs ...string) astoriaResponse {
	return astoriaResponse{Response: "Rejected", Confirmation: confirmation(), Price: "0.00", Reason: reason, Message: message, Errors: errs}
}

// post answers like /v2/fulldirect/. In test mode (the only mode of
// the sandbox vendor) the document's zip rule decides: a zip ending in an
// even digit other than 0 is accepted, 0 or odd is rejected. Switches in
// the email's local part: "+tierNN" (bought only at tiers paying NN or
// less), "+duplicate", "+blacklist", "+maintenance", "+cap", "+slow",
// "+fail" (a 500), "+garbage", each also as "+astoria-SWITCH" to switch
// Astoria alone. A lead posted twice to one tier is a "Duplicate Lead".
func (e *emulator) post(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeXML(w, http.StatusOK, astoriaReject("Post data is empty", "Please check your integration"))
		return
	}
	e.env.Count(Calls)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if ct != "application/x-www-form-urlencoded" || r.ParseForm() != nil || len(r.PostForm) == 0 {
		writeXML(w, http.StatusOK, astoriaReject("Post data is empty", "Please check your integration"))
		return
	}
	f := r.PostForm
	switch {
	case f.Get("lead_type") != "1":
		writeXML(w, http.StatusOK, astoriaReject("Invalid lead_type", "Please pass a valid lead_type as per our specs"))
		return
	case f.Get("lead_mode") != "0" && f.Get("lead_mode") != "1":
		writeXML(w, http.StatusOK, astoriaReject("Invalid lead_mode", "Please ensure lead_mode is either '0' for TEST or '1' for LIVE"))
		return
	case f.Get("vendor_id") != VendorID:
		writeXML(w, http.StatusOK, astoriaReject("Invalid vendor_id", "Please check the vendor_id is correct"))
		return
	case f.Get("lead_mode") == "1":
		writeXML(w, http.StatusOK, astoriaReject("Provided vendor_id is in TEST MODE", "Please contact us if you believe your account should be in LIVE MODE"))
		return
	}
	if errs := checkAstoria(f); len(errs) > 0 {
		writeXML(w, http.StatusOK, astoriaReject("Errors Detected", "The following errors were detected in this lead:", errs...))
		return
	}
	tier := f.Get("tier")
	if tier == "" {
		tier = "ALL"
	}
	key := f.Get("vendor_lead_id") + "/" + tier
	seen := e.posts.Again(key)
	email := f.Get("email")
	switch {
	case seen || emulate.Switch(email, "astoria", "duplicate"):
		writeXML(w, http.StatusOK, astoriaReject("Duplicate Lead", "Lead was identified as a duplicate in our system"))
		return
	case emulate.Switch(email, "astoria", "blacklist"):
		writeXML(w, http.StatusOK, astoriaReject("Blacklisted Data", "The lead matches data on our internal blacklist - please investigate the lead source"))
		return
	case emulate.Switch(email, "astoria", "maintenance"):
		writeXML(w, http.StatusOK, astoriaReject("Maintenance Mode", "Our system is currently in maintenance mode"))
		return
	case emulate.Switch(email, "astoria", "cap"):
		writeXML(w, http.StatusOK, astoriaReject("Daily Cap Exhausted", "Please contact us to increase your daily cap"))
		return
	case emulate.Switch(email, "astoria", "slow"):
		if !e.env.Sleep(r) {
			return
		}
	case emulate.Switch(email, "astoria", "fail"):
		w.WriteHeader(http.StatusInternalServerError)
		return
	case emulate.Switch(email, "astoria", "garbage"):
		emulate.WriteRaw(w, http.StatusOK, "<html><body>Service Unavailable</body></html>")
		return
	}
	if limit, _ := strconv.Atoi(f.Get("time_limit")); f.Has("time_limit") && limit < 60 {
		// The document: under 60 seconds the lead is not attempted at all.
		writeXML(w, http.StatusOK, astoriaReject("Unable to Monetize", "time_limit below 60 seconds: lead not attempted"))
		return
	}
	zip := f.Get("zip")
	if last := zip[len(zip)-1]; last == '0' || (last-'0')%2 == 1 {
		writeXML(w, http.StatusOK, astoriaReject("No Coverage", "Test lead: the zip code ends in 0 or an odd digit"))
		return
	}
	price := 6.00 // the document's example price for a lead sold through ALL
	if tier != "ALL" {
		price = astoriaTiers[tier]
	}
	if m := tierSwitch.FindStringSubmatch(email); m != nil {
		if most, _ := strconv.ParseFloat(m[1], 64); tier == "ALL" {
			price = most
		} else if price > most {
			writeXML(w, http.StatusOK, astoriaReject("Unable to Monetize", "Bids do not meet minimum_price requirement"))
			return
		}
	}
	c := confirmation()
	writeXML(w, http.StatusOK, astoriaResponse{
		Response: "Accepted", Confirmation: c, Price: fmt.Sprintf("%.2f", price),
		// The lender page shows the vendor's own lead id, as a buyer's
		// landing page would show the consumer a reference.
		RedirectURL: e.env.LenderPage(r, "Astoria", f.Get("vendor_lead_id")),
	})
}

var tierSwitch = regexp.MustCompile(`\+tier(\d+)`)

// checkAstoria lists the lead's errors as Astoria's Error nodes.
func checkAstoria(f url.Values) []string {
	var errs []string
	for _, name := range astoriaRequired {
		if !f.Has(name) {
			errs = append(errs, name+" is required")
		}
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := f.Get(k)
		rule, known := astoriaRules[k]
		switch {
		case !known:
			errs = append(errs, k+" is not a known field")
		case v == "":
			errs = append(errs, k+" was sent empty: omit empty fields")
		case !rule.MatchString(v):
			errs = append(errs, k+" has an invalid value")
		}
	}
	if t := f.Get("tier"); t != "" && t != "ALL" {
		if _, ok := astoriaTiers[t]; !ok {
			errs = append(errs, "tier is not a known tier")
		}
	}
	if f.Get("tcpa_optin") == "1" && f.Get("tcpa_text") == "" {
		errs = append(errs, "tcpa_text is required when tcpa_optin=1")
	}
	return errs
}

func confirmation() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e10))
	return strconv.FormatInt(n.Int64()+1e10, 10)
}
