package lokyata

import (
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// wireLead is the body of POST /process-lp-lead, its fields in the order of
// the document's example. Optional fields we have no value for are left
// out; required ones are always sent.
type wireLead struct {
	LeadProviderID           string  `json:"lead_provider_id"`
	CampaignID               string  `json:"campaign_id"`
	RequestID                string  `json:"request_id"`
	AffiliateID              string  `json:"affiliate_id"`
	AffiliateSubID           string  `json:"affiliate_sub_id,omitempty"`
	LeadPrice                float64 `json:"lead_price"`
	ApplicationWebsite       string  `json:"application_website"`
	TestType                 string  `json:"test_type,omitempty"`
	IPAddress                string  `json:"ip_address"`
	RequestedAmount          int     `json:"requested_amount"`
	SSN                      string  `json:"ssn"`
	DOB                      string  `json:"dob"`
	Gender                   string  `json:"gender,omitempty"`
	FirstName                string  `json:"first_name"`
	MiddleInitial            string  `json:"middle_initial,omitempty"`
	LastName                 string  `json:"last_name"`
	Address                  string  `json:"address"`
	Address2                 string  `json:"address2,omitempty"`
	City                     string  `json:"city"`
	State                    string  `json:"state"`
	ZipCode                  string  `json:"zip_code"`
	HomePhone                string  `json:"home_phone"`
	MobilePhone              string  `json:"mobile_phone"`
	WorkPhone                string  `json:"work_phone"`
	DriversLicenseState      string  `json:"drivers_license_state"`
	DriversLicenseNumber     string  `json:"drivers_license_number"`
	ContactTime              string  `json:"contact_time,omitempty"`
	IsMilitary               bool    `json:"is_military"`
	ResidenceType            string  `json:"residence_type"`
	Email                    string  `json:"email"`
	ResidenceMonths          int     `json:"residence_months"`
	IsCitizen                bool    `json:"is_citizen"`
	IsSubscribedFutureOffers bool    `json:"is_subscribed_future_offers"`
	IncomeType               string  `json:"income_type"`
	PaymentType              string  `json:"payment_type"`
	EmploymentType           string  `json:"employment_type"`
	EmploymentMonths         int     `json:"employment_months"`
	EmployerName             string  `json:"employer_name"`
	EmploymentAddress        string  `json:"employment_address"`
	EmployerPhone            string  `json:"employer_phone"`
	EmploymentPhoneExt       string  `json:"employment_phone_ext,omitempty"`
	SupervisorName           string  `json:"supervisor_name"`
	JobTitle                 string  `json:"job_title,omitempty"`
	PayFrequency             string  `json:"pay_frequency"`
	LastPaydate              string  `json:"last_paydate"`
	NextPaydate              string  `json:"next_paydate"`
	SecondNextPaydate        string  `json:"second_next_paydate,omitempty"`
	NetMonthlyIncome         int     `json:"net_monthly_income"`
	BankName                 string  `json:"bank_name"`
	BankAccountType          string  `json:"bank_account_type"`
	BankRoutingNumber        string  `json:"bank_routing_number"`
	BankAccountNumber        string  `json:"bank_account_number"`
	BankMonths               int     `json:"bank_months"`
	IsDirectDeposit          bool    `json:"is_direct_deposit"`
	UserString               string  `json:"user_string"`
	SMSOptIn                 bool    `json:"sms_opt_in"`
}

// Lokyata's values, keyed by the canonical ones (SPEC §5).
var (
	genders = map[string]string{"male": "Male", "female": "Female", "unknown": "Unknown", "other": "Other"}
	// residence_type says "length 4" but lists "Family" and "Friend": the
	// list is what Lokyata reads, so its words are sent as they are.
	residenceTypes = map[string]string{
		"own": "Own", "rent": "Rent", "rent_room": "Rent",
		"with_parents": "Family", "friend": "Friend", "other": "Other",
	}
	// Benefits in the US are mostly Social Security (and SSI): the
	// nearest of Lokyata's words.
	incomeTypes = map[string]string{
		"employed": "Employed", "self_employed": "Self Employed", "benefits": "Social Security",
		"pension": "Pension", "unemployed": "Unemployed", "student": "Other",
		"maternity_leave": "Other", "other": "Other",
	}
	paymentTypes    = map[string]string{"direct_deposit": "Direct Deposit", "check": "Paper Check", "cash": "Cash"}
	employmentTypes = map[string]string{"full_time": "Full Time", "part_time": "Part Time", "not_applicable": "Not Applicable"}
	// The document writes "Bi- Weekly" with a stray space; "Bi-Weekly" is
	// the value it means and the one sent.
	payFrequencies = map[string]string{"weekly": "Weekly", "biweekly": "Bi-Weekly", "twice_monthly": "Twice-Monthly", "monthly": "Monthly"}
	accountTypes   = map[string]string{"checking": "Checking", "savings": "Savings"}
	// "any" has no Lokyata word: the optional field is left out.
	contactTimes = map[string]string{"morning": "Morning", "afternoon": "Afternoon", "evening": "Evening"}
)

// toWire maps a submission to Lokyata's lead, every string cut to the
// document's length for its field.
func toWire(s *providers.Submission, cfg Config) wireLead {
	full := providers.CompleteUS(s.Application)
	a := &full
	w := wireLead{
		LeadProviderID:           cut(cfg.LeadProviderID, 30),
		CampaignID:               cut(cfg.CampaignID, 64),
		RequestID:                cut(s.ID, 64),
		AffiliateID:              cut(cfg.AffiliateID, 64),
		AffiliateSubID:           providers.SubID(s.Attribution, 64),
		LeadPrice:                cfg.LeadPrice,
		ApplicationWebsite:       cut(s.PageURL, 300),
		TestType:                 cfg.TestType,
		IPAddress:                cut(s.IPAddress, 39),
		RequestedAmount:          a.LoanAmount,
		SSN:                      cut(a.SSN, 9),
		DOB:                      ymd(a.BirthDate),
		Gender:                   genders[a.Gender],
		FirstName:                cut(a.FirstName, 50),
		LastName:                 cut(a.LastName, 50),
		Address:                  cut(a.AddressLine1, 300),
		Address2:                 cut(a.AddressLine2, 100),
		City:                     cut(a.City, 100),
		State:                    cut(a.State, 2),
		ZipCode:                  zip(a.PostalCode),
		HomePhone:                cut(a.HomePhone, 50),
		MobilePhone:              cut(a.MobilePhone, 50),
		WorkPhone:                cut(a.WorkPhone, 50),
		DriversLicenseState:      cut(a.DriversLicenseState, 2),
		DriversLicenseNumber:     cut(a.DriversLicenseNumber, 20),
		ContactTime:              contactTimes[a.BestContactTime],
		IsMilitary:               a.IsMilitary,
		ResidenceType:            residenceTypes[a.Housing],
		Email:                    cut(a.Email, 300),
		IsCitizen:                a.IsCitizen,
		IsSubscribedFutureOffers: a.ConsentMarketing,
		IncomeType:               incomeTypes[a.IncomeSource],
		PaymentType:              paymentTypes[a.PayMethod],
		EmploymentType:           employmentTypes[a.EmploymentType],
		EmploymentMonths:         providers.MonthsBetween(a.EmployedSince, s.SubmittedAt),
		EmployerName:             cut(a.EmployerName, 100),
		EmploymentAddress:        cut(a.EmployerAddress, 300),
		EmployerPhone:            cut(a.EmployerPhone, 13),
		EmploymentPhoneExt:       cut(a.WorkPhoneExt, 6),
		SupervisorName:           cut(a.SupervisorName, 100),
		JobTitle:                 cut(a.JobTitle, 100),
		PayFrequency:             payFrequencies[a.PayFrequency],
		LastPaydate:              ymd(a.LastPayDate),
		NextPaydate:              ymd(a.NextPayDate),
		SecondNextPaydate:        ymd(a.SecondPayDate),
		NetMonthlyIncome:         a.MonthlyIncome,
		BankName:                 cut(a.BankName, 50),
		BankAccountType:          accountTypes[a.BankAccountType],
		BankRoutingNumber:        cut(a.BankRoutingNumber, 9),
		BankAccountNumber:        cut(a.BankAccountNumber, 17),
		IsDirectDeposit:          a.PayMethod == "direct_deposit",
		UserString:               s.UserAgent,
		SMSOptIn:                 a.ConsentSMS,
	}
	if a.MiddleName != "" {
		w.MiddleInitial = strings.ToUpper(string([]rune(a.MiddleName)[:1]))
	}
	if a.MonthsAtAddress != nil {
		w.ResidenceMonths = *a.MonthsAtAddress
	}
	if a.BankMonths != nil {
		w.BankMonths = *a.BankMonths
	}
	return w
}

func ymd(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(providers.DateLayout)
}

// zip writes a ZIP+4 the way Lokyata asks: nnnnn-nnnn.
func zip(s string) string {
	if len(s) == 9 {
		return s[:5] + "-" + s[5:]
	}
	return cut(s, 10)
}

// cut keeps at most n characters: a field over its documented length would
// be refused, and no form field lets a consumer type that much anyway.
var cut = providers.Cut
