package form

import (
	"encoding/json"
	"net/url"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leadgate/leadgate/gateway/testenv"
)

var (
	madrid, _ = time.LoadLocation("Europe/Madrid")
	now       = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
)

// validES is a complete es form built on the document's example request.
func validES() Values {
	return Values{
		"loan_amount": "200", "loan_period_days": "91",
		"first_name": "Kyle", "last_name": "Trazo", "second_last_name": "Pogi",
		"gender": "male", "birth_date": "1985-06-18", "national_id": "60604016M",
		"nationality": "ES", "marital_status": "married", "dependants": "1",
		"email": "kyle@blendit.eu", "mobile_phone": "608 819 736",
		"address_line1": "Maestro Puig Valera", "house_number": "35", "address_line2": "13",
		"postal_code": "33560", "city": "Ribadesella", "housing": "rent_room",
		"income_source": "employed", "employed_since": "2021-03-02",
		"monthly_income": "10000", "monthly_expenses": "1000", "next_pay_date": "2026-12-02",
		"iban": "ES5020803294338752239563", "phone_plan": "contract",
		"car_owner": "1", "car_plate_number": "1234 RST",
		"consent_terms": "1", "consent_marketing": "1",
	}
}

func TestValidESForm(t *testing.T) {
	app, problems := ES.Validate(validES(), now, madrid)
	if len(problems) > 0 {
		t.Fatalf("got problems %v", problems)
	}
	if app.MobilePhone != "608819736" || app.NationalID != "60604016M" || app.LoanAmount != 200 ||
		app.Dependants == nil || *app.Dependants != 1 || !app.CarOwner || app.BirthDate.Format("2006-01-02") != "1985-06-18" {
		t.Errorf("got %+v", app)
	}
}

// Samples of every rule, valid and invalid, from the Casheddy document's
// own rules and examples.
var ruleSamples = []struct {
	field       string
	valid       []string
	invalid     []string
	wantProblem string // the problem key of the invalid ones
}{
	{"national_id", []string{"60604016M", "60604016m", "X1234567L", "Y1234567X", "Z1234567R", "K1234567L", "B12345674", "P1234567D",
		"60604016-M", "60604016 m", "X-1234567-L", " 60604016M ", "60.604.016-M", "\uFEFF60604016M"},
		[]string{"60604016A", "6060401M", "ABCDEFGHI", "X1234567A"}, ""},
	{"mobile_phone", []string{"608 819 736", "608819736", "+34 608 819 736", "0034608819736", "712-345-678",
		"608\u2011819\u2011736", "712–345–678"}, // pasted: non-breaking hyphens, en dashes
		[]string{"508819736", "60881973", "6088197361", "phone"}, "format.es_phone"},
	{"postal_code", []string{"33560", "01001", "52006", "28-001", "28–001"},
		[]string{"00123", "53001", "9999", "ABCDE"}, "format.es_postal"},
	// As consumers write them: their abbreviations, the letters of Catalan
	// and Galician names and a bilingual name's slash are written in
	// Casheddy's alphabet (TestSpanishAddressesAsTyped).
	{"city", []string{"Ribadesella", "A Coruña", "L'Hospitalet", "Vitoria-Gasteiz", "ÁVILA", "Alicante/Alacant", "Sant Adrià de Besòs",
		"Sta. Cruz de Tenerife", "Sant Llorenç d'Hortons", "L’Hospitalet de Llobregat", "Vitoria–Gasteiz", "A\u00a0Coruña"},
		[]string{"Madrid 2", "Sevilla!"}, "format.es_place"},
	{"address_line1", []string{"Maestro Puig Valera", "Calle de Alcalá", "C/ Mayor", "Avda. de América", "Pº de la Castellana", "Pl. Mayor", "Avinguda del Paral·lel", "Carrer d’Aragó"},
		[]string{"Calle 2 de Mayo", "Mayor #5"}, "format.es_street"},
	{"house_number", []string{"35", "7b", "12Ñ"}, []string{"b7", "35 bis", "3-5"}, "format.es_house"},
	{"address_line2", []string{"13", "4B", "Ático 2", "2º B", "4ª planta", "Piso 2, puerta B", "4º-B"}, []string{"#3", "2º @"}, "format.es_flat"},
	{"car_plate_number", []string{"1234 RST", "1234RST", "1234 bcd", "GR1234BC", "GR 1234 BC"},
		// Casheddy wants 2-3 province letters: the one-letter "M 1234 AB" is out.
		[]string{"M 1234 AB", "1234 AEI", "12345 RST", "1234 RST X"}, "format.es_plate"},
	// As typed and pasted: spaces, double spaces, dashes, a no-break
	// space, a space at either end (the server drops them all).
	{"iban", []string{"ES5020803294338752239563", "ES50 2080 3294 3387 5223 9563", "es5020803294338752239563", "ES50\u00a02080\u00a03294\u00a03387\u00a05223\u00a09563",
		"ES50 2080 3294 3387 5223 9563 ", "ES50  2080  3294  3387  5223  9563", "ES50-2080-3294-3387-5223-9563", "ES 50 2080 3294 3387 5223 9563"},
		[]string{"ES5020803294338752239564", "ES50208032943387522395", "DE89370400440532013000"}, ""},
	{"first_name", []string{"Kyle", "José María", "O'Neil", "O’Neil", "D´Angelo", "ʼOkina", "Mary-Jane", "Mary\u2011Jane", "José\u00a0María"}, []string{"Al", "K1le", "O\"Neil"}, ""},
	// Lengths count letters, not bytes: 50 "Á" are 100 bytes and allowed.
	{"last_name", []string{"Li Wu", strings.Repeat("Á", 50)}, []string{strings.Repeat("a", 51), strings.Repeat("Á", 51)}, "too_long"},
	{"last_name", []string{"Lia"}, []string{"Li", "Ñu"}, "too_short"},
	// What the browser's type=email takes (the WHATWG rule), and no more:
	// a quoted local part is RFC 5322, but no consumer has one and no
	// buyer should be sent "<img …>"@….
	{"email", []string{"kyle@blendit.eu", "ana.garcia+loans@mail.example.es", "o'neil@x.ie"},
		[]string{"kyle@", "blendit.eu", `"a<img src=x onerror=alert(1)>"@example.com`, `"kyle blend"@blendit.eu`, "kyle@-blendit.eu"}, "email"},
	{"birth_date", []string{"1985-06-18", "2008-11-21", "1945-11-22", "18/06/1985"},
		[]string{"2008-11-22", "1945-11-21", "1985-13-01", "yesterday"}, ""},
	{"employed_since", []string{"2021-03-02", "2026-11-20"}, []string{"2026-11-21", "2027-01-01"}, ""},
	{"next_pay_date", []string{"2026-11-22", "2027-05-02"}, []string{"2026-11-21", "2023-05-02"}, ""},
	{"loan_amount", []string{"50", "200", "5000"}, []string{"49", "5001", "two hundred", "-5"}, ""},
	{"monthly_income", []string{"1", "10000"}, []string{"0"}, "range"},
	{"dependants", []string{"0", "3"}, []string{"-1", "21"}, "range"},
	{"gender", []string{"male", "female"}, []string{"other", "MALE", "x"}, "choose"},
	{"housing", []string{"own", "rent", "rent_room", "with_parents"}, []string{"friend", "other"}, "choose"},
	{"nationality", []string{"ES", "PH", "US"}, []string{"España", "XX"}, "choose"},
	{"consent_terms", []string{"1", "on"}, []string{"0", ""}, "must_accept"},
}

// ruleSample is one field's valid and invalid values, and the problem
// key of the invalid ones ("" for any).
type ruleSample = struct {
	field       string
	valid       []string
	invalid     []string
	wantProblem string
}

func TestRules(t *testing.T) { checkRules(t, ES, validES, madrid, ruleSamples) }

// checkRules puts each sample in a complete form f of base's values: a
// valid one passes, an invalid one is the field's problem alone.
func checkRules(t *testing.T, f *Form, base func() Values, loc *time.Location, samples []ruleSample) {
	t.Helper()
	for _, s := range samples {
		for _, v := range s.valid {
			vals := base()
			vals[s.field] = v
			if _, problems := f.Validate(vals, now, loc); len(problems) > 0 {
				t.Errorf("%s=%q: got %v, want valid", s.field, v, problems)
			}
		}
		for _, v := range s.invalid {
			vals := base()
			vals[s.field] = v
			_, problems := f.Validate(vals, now, loc)
			p, ok := problems[s.field]
			if !ok {
				t.Errorf("%s=%q: got no problem, want one", s.field, v)
				continue
			}
			if s.wantProblem != "" && p.Key != s.wantProblem {
				t.Errorf("%s=%q: got problem %q, want %q", s.field, v, p.Key, s.wantProblem)
			}
			if len(problems) != 1 {
				t.Errorf("%s=%q: other fields failed too: %v", s.field, v, problems)
			}
		}
	}
}

// A Spanish address as consumers type it reaches the application, and so
// Casheddy, in Casheddy's alphabet, its number split off the street.
func TestSpanishAddressesAsTyped(t *testing.T) {
	for _, tc := range []struct{ street, flat, city, wantStreet, wantHouse, wantFlat, wantCity string }{
		{"C/ Mayor 5", "2º B", "Alicante/Alacant", "Calle Mayor", "5", "2 B", "Alicante-Alacant"},
		{"Avda. de América, nº 10", "4ª planta", "Sant Adrià de Besòs", "Avenida de América", "10", "4 planta", "Sant Adria de Besos"},
		{"Pº de la Castellana 100", "Piso 2, puerta B", "Sta. Cruz de Tenerife", "Paseo de la Castellana", "100", "Piso 2 puerta B", "Santa Cruz de Tenerife"},
		// An iPhone's apostrophe.
		{"Carrer d’Aragó 5", "", "L’Hospitalet de Llobregat", "Carrer d'Aragó", "5", "", "L'Hospitalet de Llobregat"},
	} {
		// The number in the street only, or in its own field too (the
		// page's script splits only what it reads).
		for _, house := range []string{"", tc.wantHouse} {
			vals := validES()
			vals["address_line1"], vals["house_number"], vals["address_line2"], vals["city"] = tc.street, house, tc.flat, tc.city
			app, problems := ES.Validate(vals, now, madrid)
			if len(problems) > 0 {
				t.Errorf("%q (house %q), %q, %q: %v", tc.street, house, tc.flat, tc.city, problems)
				continue
			}
			if app.AddressLine1 != tc.wantStreet || app.HouseNumber != tc.wantHouse || app.AddressLine2 != tc.wantFlat || app.City != tc.wantCity {
				t.Errorf("%q (house %q), %q, %q: got %q %q, %q, %q", tc.street, house, tc.flat, tc.city, app.AddressLine1, app.HouseNumber, app.AddressLine2, app.City)
			}
		}
	}
	// A different number in the street than in its field is not taken.
	vals := validES()
	vals["address_line1"], vals["house_number"] = "C/ Mayor 5", "7"
	if _, problems := ES.Validate(vals, now, madrid); problems["address_line1"].Key != "format.es_street" {
		t.Errorf("street with 5, house 7: got %v, want the street refused", problems)
	}
}

// A number typed with thousands separators is read the same way by the
// check and by the stored application, optional numbers included.
func TestNumbersWithSeparators(t *testing.T) {
	vals := validES()
	for typed, want := range map[string]int{"1.500": 1500, "3,500": 3500, "12 000": 12000, "99.999": 99999, "2500": 2500} {
		vals["monthly_income"] = typed
		app, problems := ES.Validate(vals, now, madrid)
		if len(problems) > 0 || app.MonthlyIncome != want {
			t.Errorf("%q: got %d, %v; want %d", typed, app.MonthlyIncome, problems, want)
		}
	}
	// Separators that do not group thousands are a mistake, not a number.
	for _, typed := range []string{"1.5", "1 0", "15,00", "1..500"} {
		vals["monthly_income"] = typed
		if _, problems := ES.Validate(vals, now, madrid); problems["monthly_income"].Key != "number" {
			t.Errorf("%q: got %v, want a number problem", typed, problems["monthly_income"])
		}
	}
}

// specFields are the es and us columns of SPEC §5's field table, written
// out here rather than read from the definitions under test: R required,
// o optional, c required when car_owner is ticked.
var specFields = map[string]map[string]byte{
	"es": {
		"loan_amount": 'R', "loan_period_days": 'R', "first_name": 'R', "last_name": 'R', "second_last_name": 'o',
		"gender": 'R', "birth_date": 'R', "email": 'R', "mobile_phone": 'R', "national_id": 'R', "nationality": 'R',
		"marital_status": 'R', "dependants": 'o', "address_line1": 'R', "address_line2": 'o',
		"city": 'R', "postal_code": 'R', "housing": 'R', "income_source": 'R', "employed_since": 'R', "house_number": 'D',
		"monthly_income": 'R', "monthly_expenses": 'R', "next_pay_date": 'R', "iban": 'R', "phone_plan": 'o',
		"car_owner": 'o', "car_plate_number": 'c', "consent_terms": 'R',
		// SPEC §11: optional and unbundled (Casheddy is skipped without it).
		"consent_marketing": 'o',
	},
	"us": {
		"loan_amount": 'R', "first_name": 'R', "middle_name": 'o', "last_name": 'R', "gender": 'o', "birth_date": 'R',
		"email": 'R', "mobile_phone": 'R', "home_phone": 'D', "work_phone": 'R', "ssn": 'R', "is_citizen": 'R',
		"is_military": 'R', "drivers_license_number": 'R', "drivers_license_state": 'D', "address_line1": 'R',
		"address_line2": 'o', "city": 'R', "state": 'D', "postal_code": 'R', "housing": 'R', "months_at_address": 'R',
		"income_source": 'R', "employment_type": 'R', "employer_name": 'R', "job_title": 'o', "employer_phone": 'A',
		"employer_address": 'R', "supervisor_name": 'R', "employed_since": 'R', "monthly_income": 'R',
		"pay_frequency": 'R', "pay_method": 'R', "last_pay_date": 'D', "next_pay_date": 'R', "second_pay_date": 'o',
		"bank_name": 'R', "bank_routing_number": 'R', "bank_account_number": 'R', "bank_account_type": 'R',
		"bank_months": 'R', "best_contact_time": 'o', "consent_terms": 'R', "consent_marketing": 'o', "consent_sms": 'o',
		// SPEC §11: optional (Astoria's tcpa_optin is 0 or 1).
		"consent_tcpa": 'o',
	},
}

func TestRequiredAndConditional(t *testing.T) {
	for name, f := range map[string]*Form{"es": ES, "us": US} {
		want := specFields[name]
		var asked []string
		for _, fd := range f.Fields() {
			asked = append(asked, fd.Name)
			if _, ok := want[fd.Name]; !ok {
				t.Errorf("%s form asks for %s, which SPEC §5 does not list for it", name, fd.Name)
			}
		}
		for field, how := range want {
			if how == 'A' {
				if _, ok := f.Derivations()[field]; !ok || f.Field(field) != nil {
					t.Errorf("%s form: %s is to be asked once under another field, and derived", name, field)
				}
				continue
			}
			if f.Field(field) == nil {
				t.Errorf("%s form does not ask for %s (SPEC §5)", name, field)
			}
		}
		_, problems := f.Validate(Values{}, now, madrid)
		for _, field := range asked {
			// A derived field ('D') is required by the server, which
			// derives it at submit, but not by the page. Left empty with
			// the fields it is derived from, it has no problem of its
			// own: theirs say what to type, and it follows from them.
			required := want[field] == 'R'
			if _, got := problems[field]; got != required {
				t.Errorf("%s form left empty: %s has a problem %v, want %v", name, field, got, required)
			}
			if want[field] == 'D' {
				sources := f.Derivations()[field]
				// A source says it, or is derived in turn from one that
				// does (the licence state, the state, the ZIP code).
				var says func(src string) bool
				says = func(src string) bool {
					_, bad := problems[src]
					return bad || slices.ContainsFunc(f.Derivations()[src], says)
				}
				if !f.Field(field).Required || !slices.ContainsFunc(sources, says) {
					t.Errorf("%s form left empty: %s is not required by the server, or none of %v it is derived from says what to type", name, field, sources)
				}
			}
			if got := f.Field(field).Input(now, madrid).Required; got != (want[field] == 'R') {
				t.Errorf("%s form: %s has the HTML required attribute %v, want %v", name, field, got, required)
			}
		}
	}
	vals := validES()
	delete(vals, "car_plate_number")
	if _, problems := ES.Validate(vals, now, madrid); problems["car_plate_number"].Key != "required" {
		t.Errorf("car owner without plate: got %v", problems)
	}
	vals["car_owner"] = ""
	if _, problems := ES.Validate(vals, now, madrid); len(problems) > 0 {
		t.Errorf("no car, no plate: got %v", problems)
	}
}

func TestDecodeIgnoresUnknownAndBoundsLength(t *testing.T) {
	posted := url.Values{"first_name": {"  Kyle  "}, "is_admin": {"1"}, "city": {strings.Repeat("a", 10000)}}
	v := ES.Decode(posted)
	if v["first_name"] != "Kyle" {
		t.Errorf("got %q", v["first_name"])
	}
	if _, ok := v["is_admin"]; ok {
		t.Error("kept a field the form does not have")
	}
	if n := len(v["city"]); n > maxValue {
		t.Errorf("kept a %d-byte value", n)
	}
}

func TestRestrictDropsWhatTheFormRefuses(t *testing.T) {
	got := ES.Restrict(map[string]string{"first_name": "Hose", "gender": "male", "nationality": "PH", "email": "not-an-email", "ssn": "123456789"}, now, madrid)
	if got["first_name"] != "Hose" || got["nationality"] != "PH" || got["gender"] != "male" {
		t.Errorf("got %v", got)
	}
	if _, ok := got["email"]; ok {
		t.Error("kept an invalid prefill value")
	}
	if _, ok := got["ssn"]; ok {
		t.Error("kept a field the es form does not ask for")
	}
}

func TestValuesRoundTrip(t *testing.T) {
	app, problems := ES.Validate(validES(), now, madrid)
	if problems != nil {
		t.Fatal(problems)
	}
	again, problems := ES.Validate(ValuesOf(&app), now, madrid)
	if problems != nil {
		t.Fatalf("values of a valid application fail: %v", problems)
	}
	if !reflect.DeepEqual(again, app) {
		t.Errorf("round trip changed the application")
	}
}

func TestInputAttributes(t *testing.T) {
	in := ES.Field("birth_date").Input(now, madrid)
	if in.Type != "date" || in.Min != "1945-11-22" || in.Max != "2008-11-21" || !in.Required {
		t.Errorf("birth_date: got %+v", in)
	}
	in = ES.Field("mobile_phone").Input(now, madrid)
	if in.Type != "tel" || in.Pattern == "" || in.Autocomplete != "tel-national" {
		t.Errorf("mobile_phone: got %+v", in)
	}
	// A phone fills what a token names, and only that: a middle name in
	// the second surname (additional-name), the address's country in the
	// nationality (country) were wrong answers sent to the buyer.
	for form, want := range map[*Form]map[string]string{
		ES: {"second_last_name": "", "nationality": "", "last_name": "family-name"},
		US: {"home_phone": "home tel-national", "work_phone": "work tel-national", "mobile_phone": "tel-national"},
	} {
		for field, token := range want {
			if got := form.Field(field).Autocomplete; got != token {
				t.Errorf("%s %s: autocomplete %q, want %q", form.Name, field, got, token)
			}
		}
	}
	in = ES.Field("loan_amount").Input(now, madrid)
	if in.Type != "number" || in.Min != "50" || in.Max != "5000" || in.InputMode != "numeric" {
		t.Errorf("loan_amount: got %+v", in)
	}
}

// TestBrowserPatternsAgreeWithServer runs every HTML pattern through a
// JavaScript engine as a browser compiles it (anchored, with the v flag)
// and checks it gives the server's verdict on each sample that only the
// pattern decides (checksums are the server's alone).
func TestBrowserPatternsAgreeWithServer(t *testing.T) {
	node := nodeFor(t, "check the HTML patterns against a JavaScript engine")
	type probe struct {
		Pattern string `json:"pattern"`
		Value   string `json:"value"`
		Want    bool   `json:"want"`
		Field   string `json:"field"`
	}
	var probes []probe
	type sample struct {
		ruleSample
		form *Form
	}
	var all []sample
	for _, s := range ruleSamples {
		all = append(all, sample{s, ES})
	}
	for _, s := range usRuleSamples {
		all = append(all, sample{s, US}) // postal_code is in both forms, in two shapes
	}
	for _, s := range all {
		fd := s.form.Field(s.field)
		if fd.Format == nil {
			continue
		}
		for _, v := range s.valid {
			probes = append(probes, probe{fd.Format.Pattern(), v, true, s.field})
			// maxlength cuts what is typed: a valid value must fit as typed.
			if max := fd.Input(now, madrid).MaxLength; max > 0 && utf8.RuneCountInString(v) > max {
				t.Errorf("%s: %q is valid, and the page's maxlength of %d cuts it", s.field, v, max)
			}
		}
		for _, v := range s.invalid {
			n := fd.normalize(v)
			if fd.Format.Go.MatchString(n) {
				continue // fails a checksum or a length: the pattern is not what catches it
			}
			probes = append(probes, probe{fd.Format.Pattern(), v, false, s.field})
		}
	}
	in, _ := json.Marshal(probes)
	script := `
const probes = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const bad = [];
for (const p of probes) {
  let re;
  try { re = new RegExp('^(?:' + p.pattern + ')$', 'v'); } catch (e) { bad.push(p.field + ': pattern does not compile: ' + e.message); continue; }
  if (re.test(p.value) !== p.want) bad.push(p.field + ': ' + JSON.stringify(p.value) + ' browser says ' + !p.want);
}
console.log(JSON.stringify(bad));`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var bad []string
	if err := json.Unmarshal(out, &bad); err != nil {
		t.Fatalf("node said %s", out)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// nodeFor is node's path, to do what: missing, the test skips, and fails
// in CI.
func nodeFor(t *testing.T, what string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if testenv.CI() {
			t.Fatal("node is required in CI to " + what)
		}
		t.Skip("node not installed (apt-get install nodejs): cannot " + what)
	}
	return node
}
