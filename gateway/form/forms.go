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
var ES = newForm("es",
	Section{Key: "loan", Fields: []*Field{
		{Name: "loan_amount", Kind: Int, Required: true, Min: 50, Max: 5000},
		{Name: "loan_period_days", Kind: Int, Required: true, Min: 5, Max: 365},
	}},
	Section{Key: "personal", Fields: []*Field{
		{Name: "first_name", Kind: Text, Required: true, MinLen: 3, MaxLen: 50, Format: formats["name"], Autocomplete: "given-name"},
		{Name: "last_name", Kind: Text, Required: true, MinLen: 3, MaxLen: 50, Format: formats["name"], Autocomplete: "family-name"},
		{Name: "second_last_name", Kind: Text, MaxLen: 50, Format: formats["name"], Autocomplete: "additional-name"},
		{Name: "gender", Kind: Choice, Required: true, Options: esGenders, Autocomplete: "sex"},
		{Name: "birth_date", Kind: Date, Required: true, Dates: Adult, Autocomplete: "bday"},
		{Name: "national_id", Kind: Text, Required: true, MaxLen: 12, Format: formats["es_id"], Autocomplete: "off"},
		{Name: "nationality", Kind: Choice, Required: true, Options: countryCodes(), Autocomplete: "country"},
		{Name: "marital_status", Kind: Choice, Required: true, Options: esMarital},
		{Name: "dependants", Kind: Int, Min: 0, Max: 20},
	}},
	Section{Key: "contact", Fields: []*Field{
		{Name: "email", Kind: Email, Required: true, MaxLen: 100, Autocomplete: "email"},
		{Name: "mobile_phone", Kind: Text, Required: true, MaxLen: 20, Format: formats["es_phone"], Autocomplete: "tel-national"},
	}},
	Section{Key: "address", Fields: []*Field{
		{Name: "address_line1", Kind: Text, Required: true, MaxLen: 100, Format: formats["es_place"], Autocomplete: "address-line1"},
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
		{Name: "iban", Kind: Text, Required: true, MaxLen: 34, Format: formats["es_iban"], Autocomplete: "off"},
		{Name: "phone_plan", Kind: Choice, Options: phonePlans},
		{Name: "car_owner", Kind: Check},
		{Name: "car_plate_number", Kind: Text, RequiredIf: "car_owner", MaxLen: 12, Format: formats["es_plate"]},
	}},
	Section{Key: "consent", Fields: []*Field{
		{Name: "consent_terms", Kind: Consent, Required: true},
		{Name: "consent_marketing", Kind: Consent, Required: true},
	}},
)

// Forms are the forms by name.
var Forms = map[string]*Form{"es": ES}

func countryCodes() []string {
	codes := make([]string, 0, len(providers.Countries))
	for _, c := range providers.Countries {
		codes = append(codes, c.Code)
	}
	return codes
}
