package form

import (
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
)

var newYork, _ = time.LoadLocation("America/New_York")

// validUS is a complete us form built on Lokyata's example payload.
func validUS() Values {
	return Values{
		"loan_amount": "500", "first_name": "Charlie", "middle_name": "Albert", "last_name": "Chaplin",
		"gender": "male", "birth_date": "1994-03-07", "ssn": "876-54-3210", "is_citizen": "1", "is_military": "0",
		"drivers_license_number": "10637365", "drivers_license_state": "PA",
		"email": "charliechappie@gmail.com", "mobile_phone": "(215) 792-4680", "home_phone": "+1 215 456 7890",
		"work_phone": "999.888.7770", "best_contact_time": "morning",
		"address_line1": "123 Main Street", "address_line2": "Apt 301", "city": "Philadelphia", "state": "PA",
		"postal_code": "19104", "housing": "rent", "months_at_address": "48",
		"income_source": "employed", "employment_type": "full_time", "employer_name": "Anime Pub",
		"job_title": "Bartender", "employer_phone": "2158887776", "employer_address": "West block, Clinton Lane",
		"supervisor_name": "William Hill", "employed_since": "2024-08-01", "monthly_income": "3,500",
		"pay_frequency": "twice_monthly", "pay_method": "direct_deposit", "last_pay_date": "2026-11-15",
		"next_pay_date": "2026-11-30", "second_pay_date": "2026-12-15",
		"bank_name": "ABCD bank", "bank_routing_number": "021000021", "bank_account_number": "98765432",
		"bank_account_type": "checking", "bank_months": "36",
		"consent_terms": "1", "consent_tcpa": "1", "consent_sms": "1",
	}
}

func TestValidUSForm(t *testing.T) {
	vals := validUS()
	vals["monthly_income"] = "3500"
	app, problems := US.Validate(vals, now, newYork)
	if len(problems) > 0 {
		t.Fatalf("got problems %v", problems)
	}
	if app.SSN != "876543210" || app.MobilePhone != "2157924680" || app.HomePhone != "2154567890" || app.WorkPhone != "9998887770" ||
		!app.IsCitizen || app.IsMilitary || *app.MonthsAtAddress != 48 || app.State != "PA" || !app.ConsentTCPA || app.ConsentMarketing {
		t.Errorf("got %+v", app)
	}
}

func TestUSRules(t *testing.T) {
	tests := []struct {
		field       string
		valid       []string
		invalid     []string
		wantProblem string
	}{
		{"bank_routing_number", []string{"021000021", "011000015", "122105155"}, []string{"123456789", "02100002", "0210000210"}, ""},
		{"ssn", []string{"876543210", "876-54-3210", "123 45 6789"}, []string{"000123456", "666123456", "912345678", "123004567", "123450000"}, "check.ssn"},
		{"mobile_phone", []string{"2155550134", "(215) 555-0134", "+1 215 555 0134", "1-215-555-0134"}, []string{"1155550134", "2150550134", "215555013", "phone"}, "format.us_phone"},
		{"postal_code", []string{"19104", "19104-1234", "191041234"}, []string{"1910", "19104-12", "ABCDE"}, "format.us_zip"},
		{"state", []string{"PA", "DC", "WY"}, []string{"pa", "XX", "Pennsylvania"}, "choose"},
		{"drivers_license_number", []string{"10637365", "d123-456-789", "A1B2 C3"}, []string{"12#45", "<b>"}, "format.us_license"},
		{"bank_account_number", []string{"98765432", "0000 1234 5678"}, []string{"123", "12345678901234567890", "abc12345"}, "format.us_account"},
		{"employer_address", []string{"West block, Clinton Lane", "1145 8th floor #4", "P.O. Box 12"}, []string{"<script>", "\"quoted\""}, "format.us_text"},
		{"is_citizen", []string{"1", "0"}, []string{"maybe"}, "choose"},
		{"next_pay_date", []string{"2026-11-22", "2027-05-01"}, []string{"2026-11-21", "2026-11-01"}, "date.future"},
		{"last_pay_date", []string{"2026-11-21", "2026-11-20", "2026-10-01"}, []string{"2026-11-22", "2026-12-01"}, "date.paid"},
	}
	for _, tt := range tests {
		for _, v := range tt.valid {
			vals := validUS()
			vals[tt.field] = v
			if _, p := US.Validate(vals, now, newYork); p[tt.field].Key != "" {
				t.Errorf("%s=%q: got problem %v, want none", tt.field, v, p[tt.field])
			}
		}
		for _, v := range tt.invalid {
			vals := validUS()
			vals[tt.field] = v
			_, p := US.Validate(vals, now, newYork)
			got, ok := p[tt.field]
			if !ok {
				t.Errorf("%s=%q: accepted, want a problem", tt.field, v)
			} else if tt.wantProblem != "" && got.Key != tt.wantProblem && got.Key != "format."+tt.field {
				// ssn and routing fail either their format or their check
				if !(tt.field == "ssn" || tt.field == "bank_routing_number") {
					t.Errorf("%s=%q: got %s, want %s", tt.field, v, got.Key, tt.wantProblem)
				}
			}
		}
	}
}

func TestSecondPayDateAfterNext(t *testing.T) {
	vals := validUS()
	vals["second_pay_date"] = "2026-11-30" // same day as the next one
	_, p := US.Validate(vals, now, newYork)
	if p["second_pay_date"].Key != "date.after.next_pay_date" {
		t.Errorf("got %v, want date.after.next_pay_date", p["second_pay_date"])
	}
	delete(vals, "second_pay_date") // optional
	if _, p := US.Validate(vals, now, newYork); len(p) > 0 {
		t.Errorf("without a second pay date: got %v", p)
	}
}

func TestUSConsents(t *testing.T) {
	vals := validUS()
	delete(vals, "consent_terms")
	if _, p := US.Validate(vals, now, newYork); p["consent_terms"].Key != "must_accept" {
		t.Errorf("terms: got %v, want must_accept", p["consent_terms"])
	}
	vals = validUS()
	delete(vals, "consent_tcpa")
	delete(vals, "consent_sms")
	delete(vals, "consent_marketing")
	if _, p := US.Validate(vals, now, newYork); len(p) > 0 {
		t.Errorf("optional consents: got %v", p)
	}
}

// An iPhone types "O’Connor" (its smart punctuation) and a Spanish
// keyboard "D´Angelo": both are the consumer's apostrophe, taken and
// sent to buyers as the one they read.
func TestPhonesApostrophesAreApostrophes(t *testing.T) {
	vals := validUS()
	vals["last_name"], vals["supervisor_name"] = "O’Connor", "Mary D´Angelo"
	vals["employer_name"], vals["address_line1"], vals["bank_name"] = "McDonald’s", "1 O’Hare St", "People’s Bank"
	app, problems := US.Validate(vals, now, newYork)
	if len(problems) > 0 || app.LastName != "O'Connor" || app.SupervisorName != "Mary D'Angelo" {
		t.Errorf("got %q, %q, problems %v; want O'Connor, Mary D'Angelo", app.LastName, app.SupervisorName, problems)
	}
	if app.EmployerName != "McDonald's" || app.AddressLine1 != "1 O'Hare St" || app.BankName != "People's Bank" {
		t.Errorf("got %q, %q, %q; want McDonald's, 1 O'Hare St, People's Bank", app.EmployerName, app.AddressLine1, app.BankName)
	}
	es := validES()
	es["first_name"] = "Ne‘ma"
	if app, problems := ES.Validate(es, now, madrid); len(problems) > 0 || app.FirstName != "Ne'ma" {
		t.Errorf("es: got %q, problems %v; want Ne'ma", app.FirstName, problems)
	}
}

// usRuleSamples are the us fields' rules as consumers type them: the
// separators the server drops, and numbers it refuses.
var usRuleSamples = []ruleSample{
	{"ssn", []string{"876-54-3210", "876 54 3210", "876543210", "876 - 54 - 3210", " 876-54-3210 ", "876\u201154\u20113210", "876–54–3210"}, []string{"876-54-321", "87654321a", "900-12-3456"}, ""},
	{"bank_routing_number", []string{"021000021", "021-000-021", "021 000 021", "021 - 000 - 021"}, []string{"02100002", "0210000211", "021000022"}, ""},
	{"employer_name", []string{"McDonald’s", "Lowe’s", "Macy’s, Inc.", "AT&T", "Kohl's", "Coca\u2011Cola", "Rolls–Royce", "Home\u00a0Depot"}, []string{"<b>Acme</b>", "’Acme"}, ""},
	{"postal_code", []string{"78702", "78702-1234", "78702 1234", "787021234", " 78702-1234 ", "78702–1234", "78702\u20111234"}, []string{"7870", "78702-123", "78702-12345", "7870a"}, ""},
	{"bank_account_number", []string{"12345678", "1234 5678 9012", "1234-5678", "1234.5678", "12345678901234567", " 0012 3456 7890 1234 5 "},
		[]string{"123", "123456789012345678", "1234a678", "1234#5678"}, ""},
	{"last_name", []string{"Smith, Jr.", "Smith Jr.", "King, III", "O’Neil,Sr."}, []string{"Smith; Jr.", ", Jr."}, ""},
	{"city", []string{"Austin", "Winston-Salem", "Coeur d’Alene"}, []string{"Austin, TX"}, ""}, // a place has no suffix
	{"work_phone", []string{"(512) 555-0100 ext. 214", "512-555-0100 x214", "512 555 0100 #214", "5125550100 Ext 21", "(512) 555-0100, 214",
		"+1 512 555 0100 extension 9", "(512) 555-0100"}, []string{"512-555-0100 ext. abc", "512-555-0100 ext. 1234567", "ext. 214"}, ""},
	{"mobile_phone", []string{"(215) 555\u20110134", "215–555–0134", "+1\u00a0215\u00a0555\u00a00134"}, []string{"215 555 013"}, ""},
	{"drivers_license_number", []string{"D1234567", "d123-456-789", "D123 456 789", "A12.345.678", "ABCDEFGHIJ0123456789", "1"},
		[]string{"ABCDEFGHIJ01234567890", "D123#456"}, ""},
}

func TestUSRulesAsTyped(t *testing.T) { checkRules(t, US, validUS, newYork, usRuleSamples) }

// A name's suffix after a comma is taken, and sent without the comma.
func TestNameSuffixAfterAComma(t *testing.T) {
	v := validUS()
	v["last_name"] = "Smith,  Jr."
	if app, problems := US.Validate(v, now, newYork); len(problems) > 0 || app.LastName != "Smith Jr." {
		t.Errorf("last name with a suffix: %v, sent %q", problems, app.LastName)
	}
}

// A work phone typed with its extension is taken: the number is the work
// and the employer's phone, the extension kept apart (for Lokyata).
func TestWorkPhoneExtensionDropped(t *testing.T) {
	v := validUS()
	v["work_phone"] = "(512) 555-0100 ext. 214"
	app, problems := US.Validate(v, now, newYork)
	if len(problems) > 0 || app.WorkPhone != "5125550100" || app.EmployerPhone != "5125550100" || app.WorkPhoneExt != "214" {
		t.Errorf("work phone with an extension: %v, work %q, employer %q, extension %q", problems, app.WorkPhone, app.EmployerPhone, app.WorkPhoneExt)
	}
	v["work_phone"] = "512 555 0100"
	if app, _ := US.Validate(v, now, newYork); app.WorkPhoneExt != "" || app.EmployerPhone != "5125550100" {
		t.Errorf("work phone without an extension: employer %q, extension %q", app.EmployerPhone, app.WorkPhoneExt)
	}
}

// A consumer paid today, weekly, whose next pay date is in a week: their
// last pay date is today, which they may type, or leave for the server
// to work out; either way the form takes it (it asked for a date before
// today, and left the field empty, required, and unanswerable).
func TestPaidToday(t *testing.T) {
	today := providers.Today(now, newYork).Format(providers.DateLayout)
	next := providers.Today(now, newYork).AddDate(0, 0, 7).Format(providers.DateLayout)
	for _, last := range []string{today, ""} {
		vals := validUS()
		vals["pay_frequency"], vals["next_pay_date"], vals["last_pay_date"] = "weekly", next, last
		delete(vals, "second_pay_date")
		app, problems := US.Validate(vals, now, newYork)
		if len(problems) > 0 || app.LastPayDate.Format(providers.DateLayout) != today {
			t.Errorf("last pay date %q: got %v, problems %v; want today, %s", last, app.LastPayDate, problems, today)
		}
	}
	if _, hi := US.Field("last_pay_date").DateBounds(now, newYork); hi.Format(providers.DateLayout) != today {
		t.Errorf("the page's max for the last pay date is %v, want today", hi)
	}
	if _, hi := US.Field("employed_since").DateBounds(now, newYork); hi.Format(providers.DateLayout) == today {
		t.Errorf("employed_since takes today: Casheddy and the spec want it before today")
	}
}

// At 10:30 pm in Los Angeles it is already tomorrow in New York, the us
// form's zone: a consumer paid tomorrow, their time, still gives that
// date as their next pay date (it was refused: "after today" was New
// York's today).
func TestNextPayDateFromTheWestCoast(t *testing.T) {
	at := time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC) // Nov 20, 10:30 pm in Los Angeles
	vals := validUS()
	vals["pay_frequency"], vals["next_pay_date"], vals["last_pay_date"] = "weekly", "2026-11-21", "2026-11-14"
	delete(vals, "second_pay_date")
	if _, problems := US.Validate(vals, at, newYork); len(problems) > 0 {
		t.Errorf("next pay date tomorrow in Los Angeles: %v", problems)
	}
	if lo, _ := US.Field("next_pay_date").DateBounds(at, newYork); lo.Format(providers.DateLayout) != "2026-11-21" {
		t.Errorf("the page's min for the next pay date is %v, want 2026-11-21", lo)
	}
}

// A date typed as text, where a browser has no date picker, is read in
// the form's country's order: "07/04/1985" is July 4 on the us form (it
// was stored as April 7) and "12/25/1990" Christmas (it was refused); on
// the es form "18/06/1985" is June 18.
func TestTypedDatesInTheCountrysOrder(t *testing.T) {
	for _, tt := range []struct{ typed, want string }{{"07/04/1985", "1985-07-04"}, {"12/25/1990", "1990-12-25"}, {"1985-07-04", "1985-07-04"}} {
		vals := validUS()
		vals["birth_date"] = tt.typed
		app, problems := US.Validate(vals, now, newYork)
		if got := app.BirthDate.Format(providers.DateLayout); len(problems) > 0 || got != tt.want {
			t.Errorf("us %q: got %s, problems %v; want %s", tt.typed, got, problems, tt.want)
		}
	}
	vals := validUS()
	vals["birth_date"] = "25/12/1990" // day first: not a US date
	if _, problems := US.Validate(vals, now, newYork); problems["birth_date"].Key != "date" {
		t.Errorf("us 25/12/1990: got %v, want a date problem", problems)
	}
	es := validES()
	es["birth_date"] = "18/06/1985"
	if app, problems := ES.Validate(es, now, madrid); len(problems) > 0 || app.BirthDate.Format(providers.DateLayout) != "1985-06-18" {
		t.Errorf("es 18/06/1985: got %v, problems %v", app.BirthDate, problems)
	}
}
