package casheddy

import (
	"strconv"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// wireLead is the body of POST /v1/lead/send, its fields in the order of the
// document's example. Numbers the document types as string are strings.
type wireLead struct {
	LoanSum        int    `json:"loan_sum"`
	LoanPeriod     int    `json:"loan_period"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	SecondLastName string `json:"second_last_name,omitempty"`
	PersonalID     string `json:"personal_id"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	Agreements     struct {
		LegalConsent bool `json:"legal_consent"`
		Subscription bool `json:"subscription"`
	} `json:"agreements"`
	Address struct {
		PostalCode  string `json:"postal_code"`
		City        string `json:"city"`
		Street      string `json:"street"`
		HouseNumber string `json:"house_number"`
		FlatNumber  string `json:"flat_number,omitempty"`
	} `json:"address"`
	HousingType          string `json:"housing_type"`
	Gender               string `json:"gender"`
	BirthDate            string `json:"birth_date"`
	Nationality          string `json:"nationality"`
	MaritalStatus        string `json:"marital_status"`
	PhonePlan            string `json:"phone_plan,omitempty"`
	Occupation           string `json:"occupation"`
	NetoIncome           string `json:"neto_income"`
	MonthlyExpenses      string `json:"monthly_expenses"`
	EmployedSince        string `json:"employed_since"`
	RemunerationDeadline string `json:"remuneration_deadline"`
	DependantCount       string `json:"dependant_count,omitempty"`
	CarOwner             string `json:"car_owner,omitempty"`
	CarPlateNumber       string `json:"car_plate_number,omitempty"`
	BankAccount          string `json:"bank_account"`
	IPAddress            string `json:"ip_address"`
}

// Casheddy's models, keyed by the canonical values (SPEC §5).
var (
	housingTypes = map[string]string{
		"own":          "OWN_HOUSE_OR_APARTMENT",
		"rent":         "RENTED_APARTMENT_OR_HOUSE",
		"rent_room":    "RENTED_ROOM",
		"with_parents": "WITH_PARENTS",
	}
	occupations = map[string]string{
		"employed":        "EMPLOYED_INDEFINITE_PERIOD",
		"self_employed":   "ECONOMIC_ACTIVITY",
		"student":         "STUDENT",
		"maternity_leave": "MATERNITY_LEAVE",
		"pension":         "PENSIONER1",
		"unemployed":      "UNEMPLOYED",
		"benefits":        "OTHERS",
		"other":           "OTHERS",
	}
)

func toWire(s *providers.Submission) wireLead {
	a := &s.Application
	var w wireLead
	w.LoanSum = a.LoanAmount
	w.LoanPeriod = a.LoanPeriodDays
	w.FirstName = a.FirstName
	w.LastName = a.LastName
	w.SecondLastName = a.SecondLastName
	w.PersonalID = strings.ToUpper(a.NationalID)
	w.Email = a.Email
	w.Phone = Phone(a.MobilePhone)
	w.Agreements.LegalConsent = a.ConsentTerms
	w.Agreements.Subscription = a.ConsentMarketing
	w.Address.PostalCode = a.PostalCode
	w.Address.City = a.City
	w.Address.Street = a.AddressLine1
	w.Address.HouseNumber = a.HouseNumber
	w.Address.FlatNumber = a.AddressLine2
	w.HousingType = housingTypes[a.Housing]
	w.Gender = strings.ToUpper(a.Gender)
	w.BirthDate = date(a.BirthDate)
	if c, ok := providers.CountryByCode(a.Nationality); ok {
		w.Nationality = c.Casheddy
	}
	w.MaritalStatus = strings.ToUpper(a.MaritalStatus)
	w.PhonePlan = strings.ToUpper(a.PhonePlan)
	w.Occupation = occupations[a.IncomeSource]
	w.NetoIncome = strconv.Itoa(a.MonthlyIncome)
	w.MonthlyExpenses = strconv.Itoa(a.MonthlyExpenses)
	w.EmployedSince = date(a.EmployedSince)
	w.RemunerationDeadline = date(a.NextPayDate)
	if a.Dependants != nil {
		w.DependantCount = strconv.Itoa(*a.Dependants)
	}
	if a.CarOwner {
		w.CarOwner = "YES"
		w.CarPlateNumber = a.CarPlateNumber
	} else {
		w.CarOwner = "NO"
	}
	w.BankAccount = a.IBAN
	w.IPAddress = s.IPAddress
	return w
}

// Phone formats nine Spanish digits as Casheddy requires: "6xx xxx xxx".
func Phone(digits string) string {
	if len(digits) != 9 {
		return digits
	}
	return digits[:3] + " " + digits[3:6] + " " + digits[6:]
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(providers.DateLayout)
}

// wireFields maps Casheddy's field names (as its 422 results name them, in
// bracket or dot form) back to canonical names, so the consumer sees each
// error beside the input it belongs to.
var wireFields = map[string]string{
	"loan_sum": "loan_amount", "loan_period": "loan_period_days",
	"first_name": "first_name", "last_name": "last_name", "second_last_name": "second_last_name",
	"personal_id": "national_id", "email": "email", "phone": "mobile_phone",
	"agreements[legal_consent]": "consent_terms", "agreements[subscription]": "consent_marketing",
	"address[postal_code]": "postal_code", "address[city]": "city", "address[street]": "address_line1",
	"address[house_number]": "house_number", "address[flat_number]": "address_line2",
	"housing_type": "housing", "gender": "gender", "birth_date": "birth_date",
	"nationality": "nationality", "marital_status": "marital_status", "phone_plan": "phone_plan",
	"occupation": "income_source", "neto_income": "monthly_income", "monthly_expenses": "monthly_expenses",
	"employed_since": "employed_since", "remuneration_deadline": "next_pay_date",
	"dependant_count": "dependants", "car_owner": "car_owner", "car_plate_number": "car_plate_number",
	"bank_account": "iban",
}

func canonicalField(wire string) (string, bool) {
	w := strings.TrimSpace(wire)
	if i := strings.IndexByte(w, '.'); i > 0 { // address.city → address[city]
		w = w[:i] + "[" + w[i+1:] + "]"
	}
	name, ok := wireFields[w]
	if !ok && !strings.Contains(w, "[") {
		name, ok = wireFields["address["+w+"]"]
	}
	return name, ok
}
