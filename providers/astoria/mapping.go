package astoria

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Astoria's codes, keyed by the canonical values (SPEC §5). A canonical
// value without a code leaves the field out: the document says never to
// send a field empty.
var (
	genders = map[string]string{"male": "0", "female": "1"}
	// Astoria knows own (0) and rent (1), and suggests 1 by default:
	// whoever does not own their home is sent as renting.
	residenceTypes = map[string]string{"own": "0", "rent": "1", "rent_room": "1", "with_parents": "1", "friend": "1", "other": "1"}
	incomeTypes    = map[string]string{"employed": "1", "benefits": "2", "pension": "2", "self_employed": "3", "unemployed": "4"}
	payTypes       = map[string]string{"direct_deposit": "1", "check": "2"}
	incomeCycles   = map[string]string{"weekly": "1", "biweekly": "2", "twice_monthly": "3", "monthly": "4"}
	accountTypes   = map[string]string{"savings": "1", "checking": "2"}
	contactTimes   = map[string]string{"any": "1", "morning": "2", "afternoon": "3", "evening": "4"}
)

// eastern is the zone origination_datetime is written in (timezone code 1,
// EST/EDT): one zone for every lead, so the pair is always consistent.
var eastern = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.FixedZone("EST", -5*3600)
	}
	return loc
}()

// form is an ordered urlencoded body: the document's example order, so a
// request reads like the document when support compares the two.
type form struct{ b strings.Builder }

func (f *form) add(k, v string) {
	if v == "" {
		return
	}
	if f.b.Len() > 0 {
		f.b.WriteByte('&')
	}
	f.b.WriteString(url.QueryEscape(k))
	f.b.WriteByte('=')
	f.b.WriteString(url.QueryEscape(v))
}

func (f *form) addInt(k string, n int) { f.add(k, strconv.Itoa(n)) }

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// encode writes the direct post of s to tier.
func encode(s *providers.Submission, cfg Config, tier string) string {
	full := providers.CompleteUS(s.Application)
	a := &full
	var f form
	f.add("lead_type", "1")
	f.addInt("lead_mode", *cfg.LeadMode)
	f.add("vendor_id", cfg.VendorID)
	f.add("sub_id", providers.SubID(s.Attribution, 35))
	f.add("tcpa_optin", bit(a.ConsentTCPA))
	if a.ConsentTCPA {
		f.add("tcpa_text", consentText(s.Consents, "consent_tcpa"))
	}
	f.add("origination_datetime", s.SubmittedAt.In(eastern).Format("2006-01-02 15:04:05"))
	f.add("origination_timezone", "1")
	f.add("ipaddress", s.IPAddress)
	f.add("user_agent", s.UserAgent)
	f.add("vendor_lead_id", s.ID)
	f.add("url", s.PageURL)
	f.add("tier", tier)
	// Whole seconds, never below 60: under 60 Astoria does not even try
	// its partners (its "predictive time-out logic").
	f.addInt("time_limit", max(int(cfg.TimeLimit/time.Second), 60))
	f.add("first_name", a.FirstName)
	f.add("last_name", a.LastName)
	f.add("gender", genders[a.Gender])
	f.add("email", a.Email)
	f.add("address", a.AddressLine1)
	f.add("zip", zip5(a.PostalCode))
	f.add("primary_phone", a.MobilePhone)
	// A home phone that is the mobile (the form's "same as mobile") says
	// nothing more: the optional secondary phone is left out.
	if a.HomePhone != a.MobilePhone {
		f.add("secondary_phone", a.HomePhone)
	}
	f.add("work_phone", a.WorkPhone)
	f.add("dob", ymd(a.BirthDate))
	f.add("residence_type", residenceTypes[a.Housing])
	if a.MonthsAtAddress != nil {
		// years 0..10 ("10 = 10 or more"), months 0..11.
		f.addInt("years_at_residence", min(*a.MonthsAtAddress/12, 10))
		f.addInt("months_at_residence", *a.MonthsAtAddress%12)
	}
	f.add("ssn", a.SSN)
	f.add("license_number", a.DriversLicenseNumber)
	f.add("license_state", a.DriversLicenseState)
	f.add("employer", a.EmployerName)
	f.add("job_title", a.JobTitle)
	f.add("best_time_contact", contactTimes[a.BestContactTime])
	if !a.EmployedSince.IsZero() {
		months := providers.MonthsBetween(a.EmployedSince, s.SubmittedAt)
		f.addInt("employment_in_year", months/12)
		f.addInt("employment_in_month", months%12)
	}
	if a.LoanAmount > 0 {
		f.addInt("loan_amount", a.LoanAmount)
	}
	f.add("income_type", incomeTypes[a.IncomeSource])
	f.add("income_payment_type", payTypes[a.PayMethod])
	f.add("income_cycle", incomeCycles[a.PayFrequency])
	f.add("next_pay_date1", ymd(a.NextPayDate))
	f.add("next_pay_date2", ymd(a.SecondPayDate))
	if a.MonthlyIncome > 0 {
		f.addInt("monthly_income", a.MonthlyIncome)
	}
	f.add("in_military", bit(a.IsMilitary))
	f.add("account_type", accountTypes[a.BankAccountType])
	f.add("bank_name", a.BankName)
	f.add("bank_routing_number", a.BankRoutingNumber)
	f.add("bank_account_number", a.BankAccountNumber)
	if a.BankMonths != nil {
		f.addInt("bank_account_length_months", min(*a.BankMonths, 99)) // "maximum 2 digits"
	}
	return f.b.String()
}

// consentText is the exact text shown for a consent, as stored with it.
func consentText(consents []providers.Consent, field string) string {
	for _, c := range consents {
		if c.Field == field {
			return c.Text
		}
	}
	return ""
}

// zip5 is the 5-digit zip Astoria takes (a ZIP+4 loses its last four).
func zip5(s string) string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func ymd(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(providers.DateLayout)
}
