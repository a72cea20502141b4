package providers

import "time"

// Application is the canonical loan application (SPEC §5): one model for all
// flows, filled from the form and mapped by each buyer adapter to its own API.
// The `field` tags are the canonical names used by the form, the prefill API
// and prefill.js. Phones hold digits only; dates are midnight UTC; an unset
// optional number is nil.
type Application struct {
	LoanAmount     int `field:"loan_amount"`
	LoanPeriodDays int `field:"loan_period_days"`

	FirstName      string    `field:"first_name"`
	MiddleName     string    `field:"middle_name"`
	LastName       string    `field:"last_name"`
	SecondLastName string    `field:"second_last_name"`
	Gender         string    `field:"gender"`
	BirthDate      time.Time `field:"birth_date"`
	Email          string    `field:"email"`
	MobilePhone    string    `field:"mobile_phone"`
	HomePhone      string    `field:"home_phone"`
	WorkPhone      string    `field:"work_phone"`
	NationalID     string    `field:"national_id"`
	SSN            string    `field:"ssn"`
	Nationality    string    `field:"nationality"` // ISO 3166-1 alpha-2
	MaritalStatus  string    `field:"marital_status"`
	Dependants     *int      `field:"dependants"`
	IsCitizen      bool      `field:"is_citizen"`
	IsMilitary     bool      `field:"is_military"`

	DriversLicenseNumber string `field:"drivers_license_number"`
	DriversLicenseState  string `field:"drivers_license_state"`

	AddressLine1    string `field:"address_line1"`
	HouseNumber     string `field:"house_number"`
	AddressLine2    string `field:"address_line2"`
	City            string `field:"city"`
	State           string `field:"state"`
	PostalCode      string `field:"postal_code"`
	Housing         string `field:"housing"`
	MonthsAtAddress *int   `field:"months_at_address"`

	IncomeSource    string    `field:"income_source"`
	EmploymentType  string    `field:"employment_type"`
	EmployerName    string    `field:"employer_name"`
	JobTitle        string    `field:"job_title"`
	EmployerPhone   string    `field:"employer_phone"`
	WorkPhoneExt    string    `field:"work_phone_ext"` // typed after the work phone: Lokyata's employment_phone_ext
	EmployerAddress string    `field:"employer_address"`
	SupervisorName  string    `field:"supervisor_name"`
	EmployedSince   time.Time `field:"employed_since"`
	MonthlyIncome   int       `field:"monthly_income"`
	MonthlyExpenses int       `field:"monthly_expenses"`
	PayFrequency    string    `field:"pay_frequency"`
	PayMethod       string    `field:"pay_method"`
	LastPayDate     time.Time `field:"last_pay_date"`
	NextPayDate     time.Time `field:"next_pay_date"`
	SecondPayDate   time.Time `field:"second_pay_date"`

	IBAN              string `field:"iban"`
	BankName          string `field:"bank_name"`
	BankRoutingNumber string `field:"bank_routing_number"`
	BankAccountNumber string `field:"bank_account_number"`
	BankAccountType   string `field:"bank_account_type"`
	BankMonths        *int   `field:"bank_months"`

	PhonePlan       string `field:"phone_plan"`
	CarOwner        bool   `field:"car_owner"`
	CarPlateNumber  string `field:"car_plate_number"`
	BestContactTime string `field:"best_contact_time"`

	ConsentTerms     bool `field:"consent_terms"`
	ConsentMarketing bool `field:"consent_marketing"`
	ConsentTCPA      bool `field:"consent_tcpa"`
	ConsentSMS       bool `field:"consent_sms"`
}

// Attribution is a visit's first touch: where the consumer came from.
type Attribution struct {
	Source   string    `json:"utm_source,omitempty"`
	Medium   string    `json:"utm_medium,omitempty"`
	Campaign string    `json:"utm_campaign,omitempty"`
	Content  string    `json:"utm_content,omitempty"`
	Term     string    `json:"utm_term,omitempty"`
	Referrer string    `json:"referrer,omitempty"`
	LandedAt time.Time `json:"landed_at,omitzero"`
	// Clicks are the ad platforms' click ids of the landing link,
	// URL-encoded (gclid=…&fbclid=…): a string keeps Attribution
	// comparable. Sealed wherever it is kept; see ClickID.
	Clicks string `json:"clicks,omitempty"`
	// Variant is the experiment variant of the flow the session was
	// assigned (flows[].variants); empty when the flow runs none.
	Variant string `json:"variant,omitempty"`
}

// Consent is the evidence of one consent given: what was shown and when.
type Consent struct {
	Field string    `json:"field"`
	Text  string    `json:"text"`
	Given bool      `json:"given"`
	At    time.Time `json:"at"`
}

// Submission is everything a buyer receives: the application plus what the
// server captured itself and never asked the consumer for.
type Submission struct {
	ID          string // the application id, sent as vendor_lead_id / request_id
	Flow        string
	Currency    string
	Country     string // ISO code of the form's country (ES, US)
	Application Application
	Attribution Attribution
	Consents    []Consent
	IPAddress   string
	UserAgent   string
	PageURL     string
	PageVersion string
	SubmittedAt time.Time
}

// SubID is the attribution as one tracking code for a buyer's sub-id field
// (Astoria sub_id, Lokyata affiliate_sub_id): utm_source and utm_campaign
// joined by "_", reduced to [A-Za-z0-9_-] (Astoria's rule, which Lokyata's
// free-form field also takes) and cut to max characters.
func SubID(a Attribution, max int) string {
	b := make([]byte, 0, max)
	add := func(s string) {
		for i := 0; i < len(s) && len(b) < max; i++ {
			c := s[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
				b = append(b, c)
			case c == '.' || c == ' ' || c == '/':
				b = append(b, '-') // cashcat.ph → cashcat-ph: still readable
			}
		}
	}
	add(a.Source)
	if a.Campaign != "" && len(b) > 0 && len(b) < max {
		b = append(b, '_')
	}
	add(a.Campaign)
	return string(b)
}

// MonthsBetween is the number of whole months from since to now (0 when
// since is not before now): employment and residence lengths.
func MonthsBetween(since, now time.Time) int {
	if since.IsZero() || !since.Before(now) {
		return 0
	}
	m := (now.Year()-since.Year())*12 + int(now.Month()-since.Month())
	if now.Day() < since.Day() {
		m--
	}
	return max(m, 0)
}
