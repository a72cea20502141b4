// Package emulator emulates the Casheddy API for the sandbox: Basic auth,
// POST /v1/validate and POST /v1/lead/send with the document's field
// rules. It shares no code with the client on purpose (see below).
package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/emulate"
)

// Credentials the emulator accepts; the repository's config.yaml uses them.
const (
	Username = "sandbox"
	Password = "sandbox-password"
)

// Calls is the key the emulator's lead posts are counted under.
const Calls = "casheddy:lead/send"

type emulator struct{ env emulate.Env }

// New returns the emulator: POST /v1/validate and /v1/lead/send, below
// where it is mounted.
func New(env emulate.Env) http.Handler {
	e := &emulator{env: env}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/validate", e.validate)
	mux.HandleFunc("/v1/lead/send", e.send)
	return mux
}

// The Casheddy emulator checks the document's rules as the document writes
// them (PCRE with its flags), independently of leadgate's own form rules,
// so that a mapping mistake on our side shows up as Casheddy would show it:
// a 422 with per-field results.
var casheddyRules = map[string]*regexp.Regexp{
	"ip_address":            regexp.MustCompile(`^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$`),
	"phone":                 regexp.MustCompile(`^[67][0-9]{2}\s[0-9]{3}\s[0-9]{3}$`),
	"address[postal_code]":  regexp.MustCompile(`^(0[1-9]|[1-4][0-9]|5[0-2])[-]{0,1}\d{3}$`),
	"address[city]":         regexp.MustCompile(`(?i)^[a-záéèíñóúüç\s'-]+$`),
	"address[street]":       regexp.MustCompile(`(?i)^[a-záéèíñóúüç\s'-]+$`),
	"address[house_number]": regexp.MustCompile(`(?i)^\d+[a-záéèíñóúüç]?$`),
	"address[flat_number]":  regexp.MustCompile(`(?i)^[a-zA-ZÀ-ÖØ-öø-ÿ0-9 ]+$`),
	// As the document writes it: ^ and $ bind to one alternative each.
	"car_plate_number": regexp.MustCompile(`^\d{4}\s*[BCDFGHJKLMNPRSTVWXYZ]{3}|[A-Z]{2,3}\s*\d{4}\s*[A-Z]{2}$`),
	"bank_account":     regexp.MustCompile(`^ES[0-9]*`),
}

var personalIDs = []*regexp.Regexp{
	regexp.MustCompile(`^(([KLM]\d{7})|(\d{8}))([A-Z])$`),
	regexp.MustCompile(`^([ABCDEFGHJNPQRSUVW])(\d{7})([0-9A-J])$`),
	regexp.MustCompile(`^([XYZ])(\d{7,8})([A-Z])$`),
}

var (
	casheddyHousing    = []string{"RENTED_ROOM", "RENTED_APARTMENT_OR_HOUSE", "OWN_HOUSE_OR_APARTMENT", "WITH_PARENTS"}
	casheddyMarital    = []string{"SINGLE", "MARRIED", "DIVORCED", "WITH_PARTNER", "WIDOW"}
	casheddyOccupation = []string{"EMPLOYED_INDEFINITE_PERIOD", "ECONOMIC_ACTIVITY", "STUDENT", "MATERNITY_LEAVE", "PENSIONER1", "UNEMPLOYED", "OTHERS"}
)

// casheddyLead is the emulator's own reading of the document's request:
// the client's wire struct (casheddy/mapping.go) is its counterpart, kept
// apart on purpose so that each can catch the other's mistakes.
type casheddyLead struct {
	LoanSum        *int   `json:"loan_sum"`
	LoanPeriod     *int   `json:"loan_period"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	SecondLastName string `json:"second_last_name"`
	PersonalID     string `json:"personal_id"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	Agreements     struct {
		LegalConsent *bool `json:"legal_consent"`
		Subscription *bool `json:"subscription"`
	} `json:"agreements"`
	Address struct {
		PostalCode  string `json:"postal_code"`
		City        string `json:"city"`
		Street      string `json:"street"`
		HouseNumber string `json:"house_number"`
		FlatNumber  string `json:"flat_number"`
	} `json:"address"`
	HousingType          string `json:"housing_type"`
	Gender               string `json:"gender"`
	BirthDate            string `json:"birth_date"`
	Nationality          string `json:"nationality"`
	MaritalStatus        string `json:"marital_status"`
	PhonePlan            string `json:"phone_plan"`
	Occupation           string `json:"occupation"`
	NetoIncome           string `json:"neto_income"`
	MonthlyExpenses      string `json:"monthly_expenses"`
	EmployedSince        string `json:"employed_since"`
	RemunerationDeadline string `json:"remuneration_deadline"`
	DependantCount       string `json:"dependant_count"`
	CarOwner             string `json:"car_owner"`
	CarPlateNumber       string `json:"car_plate_number"`
	BankAccount          string `json:"bank_account"`
	IPAddress            string `json:"ip_address"`
}

type result struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func casheddyUnauthorized(w http.ResponseWriter, r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if ok && u == Username && p == Password {
		return false
	}
	emulate.WriteJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized.", "success": false})
	return true
}

func (e *emulator) validate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid field or field not found.", "success": false})
		return
	}
	var body struct{ Username, Password string }
	if !emulate.IsJSON(r) || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body) != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "Parameter must be defined or valid.", "success": false})
		return
	}
	if body.Username != Username || body.Password != Password {
		emulate.WriteJSON(w, http.StatusOK, map[string]any{"message": "Invalid/incorrect username or password", "success": false})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"message": "User is valid!"}, "message": "OK", "success": true})
}

// send answers like /v1/lead/send. Switches in the email's local
// part, for demos and tests: "+decline" (no partner accepts), "+fix" (the
// document's 422 on phone_plan), "+slow" (answers after the slow delay),
// "+garbage" (a body that is not JSON), "+fail" (a 500).
func (e *emulator) send(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid field or field not found.", "success": false})
		return
	}
	if casheddyUnauthorized(w, r) {
		return
	}
	e.env.Count(Calls)
	var l casheddyLead
	if !emulate.IsJSON(r) {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "Parameter must be defined or valid.", "success": false})
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&l); err != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request. Please specify valid data.", "success": false})
		return
	}
	switch {
	case strings.Contains(l.Email, "+slow"):
		if !e.env.Sleep(r) {
			return
		}
	case strings.Contains(l.Email, "+garbage"):
		emulate.WriteRaw(w, http.StatusOK, "<html>upstream proxy error</html>")
		return
	case strings.Contains(l.Email, "+fail"):
		emulate.WriteJSON(w, http.StatusInternalServerError, map[string]any{"message": "Server error. Please contact administrator.", "success": false})
		return
	}
	results := checkCasheddy(&l, time.Now())
	if strings.Contains(l.Email, "+fix") {
		results = append(results, result{"phone_plan", "Tipo de contrato no puede estar vacío."})
	}
	if len(results) > 0 {
		emulate.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"data":    map[string]any{"status": "failed", "responses": []any{map[string]any{"status": 422, "results": results, "error_message": nil}}},
			"message": "Error", "success": false,
		})
		return
	}
	if strings.Contains(l.Email, "+decline") {
		emulate.WriteJSON(w, http.StatusOK, map[string]any{
			"data":    map[string]any{"status": "failed", "responses": []any{map[string]any{"status": 200, "error_message": "no partner accepted the lead"}}},
			"message": "Error", "success": false,
		})
		return
	}
	id := newLeadID()
	emulate.WriteJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{"lead_id": id, "message": "accepted", "redirect_url": e.env.LenderPage(r, "Casheddy", id),
			"responses": []any{map[string]any{"status": 200, "error_message": nil}}},
		"message": "OK", "success": true,
	})
}

// checkCasheddy applies the document's field rules, in Spanish as
// Casheddy answers.
func checkCasheddy(l *casheddyLead, now time.Time) []result {
	var out []result
	bad := func(field, msg string) { out = append(out, result{field, msg}) }
	required := map[string]string{
		"first_name": l.FirstName, "last_name": l.LastName, "personal_id": l.PersonalID, "email": l.Email,
		"phone": l.Phone, "address[postal_code]": l.Address.PostalCode, "address[city]": l.Address.City,
		"address[street]": l.Address.Street, "address[house_number]": l.Address.HouseNumber,
		"housing_type": l.HousingType, "gender": l.Gender, "birth_date": l.BirthDate, "nationality": l.Nationality,
		"marital_status": l.MaritalStatus, "occupation": l.Occupation, "neto_income": l.NetoIncome,
		"monthly_expenses": l.MonthlyExpenses, "employed_since": l.EmployedSince,
		"remuneration_deadline": l.RemunerationDeadline, "bank_account": l.BankAccount, "ip_address": l.IPAddress,
	}
	for _, field := range sortedKeys(required) {
		if strings.TrimSpace(required[field]) == "" {
			bad(field, "El campo "+field+" es obligatorio.")
		}
	}
	if l.LoanSum == nil || *l.LoanSum <= 0 {
		bad("loan_sum", "El importe es obligatorio.")
	}
	if l.LoanPeriod == nil || *l.LoanPeriod <= 0 {
		bad("loan_period", "El plazo es obligatorio.")
	}
	if l.FirstName != "" && len([]rune(l.FirstName)) < 3 {
		bad("first_name", "El nombre debe tener al menos 3 caracteres.")
	}
	if l.LastName != "" && len([]rune(l.LastName)) < 3 {
		bad("last_name", "El apellido debe tener al menos 3 caracteres.")
	}
	if l.PersonalID != "" && !slices.ContainsFunc(personalIDs, func(re *regexp.Regexp) bool { return re.MatchString(l.PersonalID) }) {
		bad("personal_id", "El documento de identidad no es válido.")
	}
	if l.Email != "" && !strings.Contains(l.Email, "@") {
		bad("email", "El correo electrónico no es válido.")
	}
	if l.Agreements.LegalConsent == nil || !*l.Agreements.LegalConsent {
		bad("agreements[legal_consent]", "Debe aceptar las condiciones.")
	}
	if l.Agreements.Subscription == nil || !*l.Agreements.Subscription {
		bad("agreements[subscription]", "Debe aceptar la suscripción.")
	}
	values := map[string]string{
		"ip_address": l.IPAddress, "phone": l.Phone, "address[postal_code]": l.Address.PostalCode,
		"address[city]": l.Address.City, "address[street]": l.Address.Street,
		"address[house_number]": l.Address.HouseNumber, "address[flat_number]": l.Address.FlatNumber,
		"bank_account": l.BankAccount,
	}
	for _, field := range sortedKeys(values) {
		if v := values[field]; v != "" && !casheddyRules[field].MatchString(v) {
			bad(field, "El formato del campo "+field+" no es válido.")
		}
	}
	if l.Phone != "" && len(l.Phone) != 11 {
		bad("phone", "El teléfono debe tener 11 caracteres.")
	}
	enum := func(field, v string, allowed []string) {
		if v != "" && !slices.Contains(allowed, v) {
			bad(field, "El valor del campo "+field+" no es válido.")
		}
	}
	enum("housing_type", l.HousingType, casheddyHousing)
	enum("gender", l.Gender, []string{"MALE", "FEMALE"})
	enum("marital_status", l.MaritalStatus, casheddyMarital)
	enum("occupation", l.Occupation, casheddyOccupation)
	enum("phone_plan", l.PhonePlan, []string{"PREPAID", "CONTRACT"})
	enum("car_owner", l.CarOwner, []string{"YES", "NO"})
	if l.Nationality != "" && !slices.ContainsFunc(providers.Countries, func(c providers.Country) bool { return c.Casheddy == l.Nationality }) {
		bad("nationality", "La nacionalidad no es válida.")
	}
	today := providers.Today(now, time.UTC)
	if d, err := time.Parse(providers.DateLayout, l.BirthDate); l.BirthDate != "" && (err != nil || d.After(today.AddDate(-18, 0, 0)) || !d.After(today.AddDate(-81, 0, 0))) {
		bad("birth_date", "La edad debe estar entre 18 y 80 años.")
	}
	if d, err := time.Parse(providers.DateLayout, l.EmployedSince); l.EmployedSince != "" && (err != nil || !d.Before(today)) {
		bad("employed_since", "La fecha debe ser anterior a hoy.")
	}
	if d, err := time.Parse(providers.DateLayout, l.RemunerationDeadline); l.RemunerationDeadline != "" && (err != nil || !d.After(today)) {
		bad("remuneration_deadline", "La fecha debe ser posterior a hoy.")
	}
	for field, v := range map[string]string{"neto_income": l.NetoIncome, "monthly_expenses": l.MonthlyExpenses} {
		if n, err := strconv.Atoi(v); v != "" && (err != nil || n < 1) {
			bad(field, "El valor mínimo es 1.")
		}
	}
	if n, err := strconv.Atoi(l.DependantCount); l.DependantCount != "" && (err != nil || n < 0) {
		bad("dependant_count", "El valor mínimo es 0.")
	}
	if l.CarOwner == "YES" && l.CarPlateNumber == "" {
		bad("car_plate_number", "La matrícula es obligatoria si tiene coche.")
	}
	if l.CarPlateNumber != "" && !casheddyRules["car_plate_number"].MatchString(l.CarPlateNumber) {
		bad("car_plate_number", "La matrícula no es válida.")
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func newLeadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
