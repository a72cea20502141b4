package form

import "github.com/leadgate/leadgate/providers"

// The options each form offers are those its buyers can take: Casheddy
// knows MALE and FEMALE only, four housing types, and no "friend" or
// "other" housing, so the es form does not offer what it would refuse.
var (
	esGenders       = []string{"female", "male"}
	esHousing       = []string{"own", "rent", "rent_room", "with_parents"}
	esMarital       = []string{"single", "married", "divorced", "with_partner", "widow"}
	esIncomeSources = []string{"employed", "self_employed", "benefits", "pension", "student", "maternity_leave", "unemployed", "other"}
	phonePlans      = []string{"prepaid", "contract"}
)

// ES is the Spanish form: Casheddy's fields and rules (SPEC §5, es column).
var ES = newForm("es", "ES", "Europe/Madrid",
	Section{Key: "loan", Fields: []*Field{
		{Name: "loan_amount", Kind: Int, Required: true, Min: 50, Max: 5000},
		{Name: "loan_period_days", Kind: Int, Required: true, Min: 5, Max: 365},
	}},
	Section{Key: "personal", Fields: []*Field{
		{Name: "first_name", Kind: Text, Required: true, MinLen: 3, MaxLen: 50, Format: formats["person"], Autocomplete: "given-name"},
		{Name: "last_name", Kind: Text, Required: true, MinLen: 3, MaxLen: 50, Format: formats["person"], Autocomplete: "family-name"},
		{Name: "second_last_name", Kind: Text, MaxLen: 50, Format: formats["person"]}, // no token names it: additional-name autofilled a middle name
		{Name: "gender", Kind: Choice, Required: true, Options: esGenders, Autocomplete: "sex"},
		{Name: "birth_date", Kind: Date, Required: true, Dates: Adult, Autocomplete: "bday"},
		{Name: "national_id", Kind: Text, Required: true, MaxLen: 16, Format: formats["es_id"], Autocomplete: "off", Secret: true},
		{Name: "nationality", Kind: Choice, Required: true, Options: countryCodes(), List: "countries"}, // no token names it: country is the address's
		{Name: "marital_status", Kind: Choice, Required: true, Options: esMarital},
		{Name: "dependants", Kind: Int, Min: 0, Max: 20},
	}},
	Section{Key: "contact", Fields: []*Field{
		{Name: "email", Kind: Email, Required: true, MaxLen: 100, Autocomplete: "email"},
		{Name: "mobile_phone", Kind: Text, Required: true, MaxLen: 20, Format: formats["es_phone"], Autocomplete: "tel-national"},
	}},
	Section{Key: "address", Fields: []*Field{
		// The street may be typed with its number: the house number is
		// then derived from it (derive.go).
		{Name: "address_line1", Kind: Text, Required: true, MaxLen: 100, Format: formats["es_street"], Autocomplete: "address-line1"},
		{Name: "house_number", Kind: Text, Required: true, MaxLen: 10, Format: formats["es_house"]},
		{Name: "address_line2", Kind: Text, MaxLen: 20, Format: formats["es_flat"], Autocomplete: "address-line2"},
		{Name: "postal_code", Kind: Text, Required: true, MaxLen: 6, Format: formats["es_postal"], Autocomplete: "postal-code"},
		{Name: "city", Kind: Text, Required: true, MaxLen: 60, Format: formats["es_place"], Autocomplete: "address-level2"},
		{Name: "housing", Kind: Choice, Required: true, Options: esHousing},
	}},
	Section{Key: "income", Fields: []*Field{
		{Name: "income_source", Kind: Choice, Required: true, Options: esIncomeSources},
		{Name: "employed_since", Kind: Date, Required: true, Dates: Past},
		{Name: "monthly_income", Kind: Int, Required: true, Min: 1, Max: 100000},
		{Name: "monthly_expenses", Kind: Int, Required: true, Min: 1, Max: 100000},
		{Name: "next_pay_date", Kind: Date, Required: true, Dates: Future},
	}},
	Section{Key: "bank", Fields: []*Field{
		{Name: "iban", Kind: Text, Required: true, MaxLen: 42, Format: formats["es_iban"], Autocomplete: "off", Secret: true},
		{Name: "phone_plan", Kind: Choice, Options: phonePlans},
		{Name: "car_owner", Kind: Check},
		{Name: "car_plate_number", Kind: Text, RequiredIf: "car_owner", MaxLen: 12, Format: formats["es_plate"]},
	}},
	Section{Key: "consent", Fields: []*Field{
		{Name: "consent_terms", Kind: Consent, Required: true},
		// Optional and unbundled (GDPR: marketing is never a condition).
		// Casheddy's document requires it: without it Casheddy is skipped
		// ("consent not given") and the flow's fallback applies.
		{Name: "consent_marketing", Kind: Consent},
	}},
).withDerivations(esDerivations...)

// The us form offers what Lokyata and Astoria can both take: no student
// or maternity leave income (neither buyer has a word for them).
var (
	usGenders       = []string{"female", "male", "other", "unknown"}
	usHousing       = []string{"own", "rent", "rent_room", "with_parents", "friend", "other"}
	usIncomeSources = []string{"employed", "self_employed", "benefits", "pension", "unemployed", "other"}
	employmentTypes = []string{"full_time", "part_time", "not_applicable"}
	payFrequencies  = []string{"weekly", "biweekly", "twice_monthly", "monthly"}
	payMethods      = []string{"direct_deposit", "check", "cash"}
	accountTypes    = []string{"checking", "savings"}
	contactTimes    = []string{"any", "morning", "afternoon", "evening"}
)

// US is the United States form: Lokyata's and Astoria's fields and rules
// (SPEC §5, us column). Lengths are the tighter of the two buyers'. One
// work phone serves as the employer's phone too (derive.go).
var US = newForm("us", "US", "America/New_York",
	Section{Key: "loan", Fields: []*Field{
		{Name: "loan_amount", Kind: Int, Required: true, Min: 100, Max: 5000},
	}},
	Section{Key: "personal", Fields: []*Field{
		{Name: "first_name", Kind: Text, Required: true, MaxLen: 50, Format: formats["person"], Autocomplete: "given-name"},
		{Name: "middle_name", Kind: Text, MaxLen: 50, Format: formats["person"], Autocomplete: "additional-name"},
		{Name: "last_name", Kind: Text, Required: true, MaxLen: 50, Format: formats["person"], Autocomplete: "family-name"},
		{Name: "gender", Kind: Choice, Options: usGenders, Autocomplete: "sex"},
		{Name: "birth_date", Kind: Date, Required: true, Dates: Adult, Autocomplete: "bday"},
		{Name: "ssn", Kind: Text, Required: true, MaxLen: 15, Format: formats["ssn"], Autocomplete: "off", Secret: true},
		{Name: "is_citizen", Kind: YesNo, Required: true},
		{Name: "is_military", Kind: YesNo, Required: true},
		{Name: "drivers_license_number", Kind: Text, Required: true, MaxLen: 24, Format: formats["us_license"], Autocomplete: "off", Secret: true},
		{Name: "drivers_license_state", Kind: Choice, Required: true, Options: stateCodes(), List: "states"},
	}},
	Section{Key: "contact", Fields: []*Field{
		{Name: "email", Kind: Email, Required: true, MaxLen: 100, Autocomplete: "email"},
		{Name: "mobile_phone", Kind: Text, Required: true, MaxLen: 20, Format: formats["us_phone"], Autocomplete: "tel-national"},
		{Name: "home_phone", Kind: Text, Required: true, MaxLen: 20, Format: formats["us_phone"], Autocomplete: "home tel-national"},
		{Name: "work_phone", Kind: Text, Required: true, MaxLen: 32, Format: formats["us_work_phone"], Autocomplete: "work tel-national"},
		{Name: "best_contact_time", Kind: Choice, Options: contactTimes},
	}},
	Section{Key: "address", Fields: []*Field{
		{Name: "address_line1", Kind: Text, Required: true, MaxLen: 100, Format: formats["us_text"], Autocomplete: "address-line1"},
		{Name: "address_line2", Kind: Text, MaxLen: 50, Format: formats["us_text"], Autocomplete: "address-line2"},
		{Name: "city", Kind: Text, Required: true, MaxLen: 50, Format: formats["name"], Autocomplete: "address-level2"},
		{Name: "state", Kind: Choice, Required: true, Options: stateCodes(), List: "states", Autocomplete: "address-level1"},
		{Name: "postal_code", Kind: Text, Required: true, MaxLen: 14, Format: formats["us_zip"], Autocomplete: "postal-code"},
		{Name: "housing", Kind: Choice, Required: true, Options: usHousing},
		{Name: "months_at_address", Kind: Int, Required: true, Min: 0, Max: 900},
	}},
	Section{Key: "income", Fields: []*Field{
		{Name: "income_source", Kind: Choice, Required: true, Options: usIncomeSources},
		{Name: "employment_type", Kind: Choice, Required: true, Options: employmentTypes},
		{Name: "employer_name", Kind: Text, Required: true, MaxLen: 100, Format: formats["us_text"], Autocomplete: "organization"},
		{Name: "job_title", Kind: Text, MaxLen: 100, Format: formats["us_text"], Autocomplete: "organization-title"},
		{Name: "employer_address", Kind: Text, Required: true, MaxLen: 100, Format: formats["us_text"]},
		{Name: "supervisor_name", Kind: Text, Required: true, MaxLen: 100, Format: formats["person"]},
		{Name: "employed_since", Kind: Date, Required: true, Dates: Past},
		{Name: "monthly_income", Kind: Int, Required: true, Min: 1, Max: 100000},
		{Name: "pay_frequency", Kind: Choice, Required: true, Options: payFrequencies},
		{Name: "pay_method", Kind: Choice, Required: true, Options: payMethods},
		{Name: "last_pay_date", Kind: Date, Required: true, Dates: Paid},
		{Name: "next_pay_date", Kind: Date, Required: true, Dates: Future},
		{Name: "second_pay_date", Kind: Date, Dates: Future, After: "next_pay_date"},
	}},
	Section{Key: "bank", Fields: []*Field{
		{Name: "bank_name", Kind: Text, Required: true, MaxLen: 50, Format: formats["us_text"]},
		{Name: "bank_routing_number", Kind: Text, Required: true, MaxLen: 15, Format: formats["aba"], Autocomplete: "off"},
		{Name: "bank_account_number", Kind: Text, Required: true, MaxLen: 24, Format: formats["us_account"], Autocomplete: "off", Secret: true},
		// Most US consumers are paid into a checking account: shown chosen
		// on the bank step, where the consumer sees it.
		{Name: "bank_account_type", Kind: Choice, Required: true, Options: accountTypes, Default: "checking"},
		{Name: "bank_months", Kind: Int, Required: true, Min: 0, Max: 900},
	}},
	Section{Key: "consent", Fields: []*Field{
		{Name: "consent_terms", Kind: Consent, Required: true},
		// Optional, as its text says: Astoria takes tcpa_optin 0 or 1.
		{Name: "consent_tcpa", Kind: Consent},
		{Name: "consent_marketing", Kind: Consent},
		{Name: "consent_sms", Kind: Consent},
	}},
).withDerivations(usDerivations...)

// Forms are the forms by name.
var Forms = map[string]*Form{"es": ES, "us": US}

func stateCodes() []string {
	codes := make([]string, 0, len(providers.States))
	for _, s := range providers.States {
		codes = append(codes, s.Code)
	}
	return codes
}

func countryCodes() []string {
	codes := make([]string, 0, len(providers.Countries))
	for _, c := range providers.Countries {
		codes = append(codes, c.Code)
	}
	return codes
}
