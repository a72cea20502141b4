// Package providertest is what the upstream clients' tests share: golden
// files, compared by meaning and rewritten with `go test -update`, and
// dates written as the wire writes them. Only tests import it.
package providertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
)

var update = flag.Bool("update", false, "rewrite the golden files from what the code sends")

// Day parses a YYYY-MM-DD date, panicking on a typo in a test.
func Day(s string) time.Time {
	t, err := time.Parse(providers.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// USSubmission is a complete us application, as the us form produces it,
// with its dates around today (a pay date in the past is refused).
func USSubmission(id, email, zip string) *providers.Submission {
	months, bank := 30, 40
	d := func(days int) time.Time { return providers.Today(time.Now(), time.UTC).AddDate(0, 0, days) }
	return &providers.Submission{
		ID: id, Flow: "us", Currency: "USD", IPAddress: "203.0.113.9", UserAgent: "Mozilla/5.0 (test)",
		PageURL: "http://localhost:8080/", SubmittedAt: time.Now().UTC(),
		Attribution: providers.Attribution{Source: "cashcat.ph", Campaign: "us-spring"},
		Consents:    []providers.Consent{{Field: "consent_tcpa", Text: "I agree to be called.", Given: true}},
		Application: providers.Application{
			LoanAmount: 500, FirstName: "John", LastName: "Smith", Gender: "male", BirthDate: d(-365 * 40),
			SSN: "876543210", IsCitizen: true, DriversLicenseNumber: "D1234567", DriversLicenseState: "TX",
			Email: email, MobilePhone: "5125550134", HomePhone: "5125550135", WorkPhone: "5125550136",
			AddressLine1: "1 Congress Ave", City: "Austin", State: "TX", PostalCode: zip, Housing: "rent",
			MonthsAtAddress: &months, IncomeSource: "employed", EmploymentType: "full_time", EmployerName: "Acme",
			EmployerPhone: "5125550100", EmployerAddress: "2 Main St", SupervisorName: "Jane Roe",
			EmployedSince: d(-800), MonthlyIncome: 3500, PayFrequency: "biweekly", PayMethod: "direct_deposit",
			LastPayDate: d(-5), NextPayDate: d(9), BankName: "Bank", BankRoutingNumber: "021000021",
			BankAccountNumber: "12345678", BankAccountType: "checking", BankMonths: &bank,
			ConsentTerms: true, ConsentTCPA: true,
		},
	}
}

// ESSubmission is a complete es application, as the es form produces it
// (the Casheddy document's example consumer), with its dates around today.
func ESSubmission(id, email string) *providers.Submission {
	one := 1
	d := func(days int) time.Time { return providers.Today(time.Now(), time.UTC).AddDate(0, 0, days) }
	return &providers.Submission{
		ID: id, Flow: "es", Currency: "EUR", IPAddress: "180.190.166.143", UserAgent: "Mozilla/5.0 (test)",
		PageURL: "http://localhost:8080/", SubmittedAt: time.Now().UTC(),
		Attribution: providers.Attribution{Source: "cashcat.es", Campaign: "es-spring"},
		Application: providers.Application{
			LoanAmount: 200, LoanPeriodDays: 91, FirstName: "Kyle", LastName: "Trazo", SecondLastName: "Pogi",
			NationalID: "60604016M", Email: email, MobilePhone: "608819736", ConsentTerms: true, ConsentMarketing: true,
			PostalCode: "33560", City: "Ribadesella", AddressLine1: "Maestro Puig Valera", HouseNumber: "35", AddressLine2: "13",
			Housing: "rent_room", Gender: "male", BirthDate: d(-365 * 38), Nationality: "ES", MaritalStatus: "married",
			PhonePlan: "contract", IncomeSource: "employed", MonthlyIncome: 1800, MonthlyExpenses: 600,
			EmployedSince: d(-900), NextPayDate: d(12), Dependants: &one,
			CarOwner: true, CarPlateNumber: "1234 RST", IBAN: "ES5020803294338752239563",
		},
	}
}

// NoPersonalData fails t if text holds any of s's personal values (names,
// ids, contact, address, birth date, employer, bank, plate, IP address,
// browser), as sent or as a buyer's format writes it. Values of two
// characters or fewer (a flat "13") are not looked for: they would be
// found in any number.
func NoPersonalData(t testing.TB, text string, s *providers.Submission) {
	t.Helper()
	a := &s.Application
	values := []string{a.FirstName, a.MiddleName, a.LastName, a.SecondLastName, a.Email, a.MobilePhone, a.HomePhone, a.WorkPhone,
		a.NationalID, a.SSN, a.DriversLicenseNumber, a.AddressLine1, a.HouseNumber, a.AddressLine2, a.City, a.PostalCode,
		a.EmployerName, a.EmployerPhone, a.EmployerAddress, a.SupervisorName, a.IBAN, a.BankRoutingNumber, a.BankAccountNumber,
		a.CarPlateNumber, s.IPAddress, s.UserAgent}
	if !a.BirthDate.IsZero() {
		values = append(values, a.BirthDate.Format(providers.DateLayout), a.BirthDate.Format("01/02/2006"), a.BirthDate.Format("01-02-2006"))
	}
	if local, _, ok := strings.Cut(a.Email, "@"); ok {
		values = append(values, local)
	}
	if len(a.SSN) == 9 {
		values = append(values, a.SSN[:3]+"-"+a.SSN[3:5]+"-"+a.SSN[5:])
	}
	for _, v := range values {
		if len(v) > 2 && (strings.Contains(text, v) || strings.Contains(strings.ToLower(text), strings.ToLower(v))) {
			t.Errorf("%q is in the clear in:\n%s", v, text)
		}
	}
}

// SameJSON fails t unless got and want are the same JSON value (key order
// and spacing aside).
func SameJSON(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

// GoldenJSON compares got with the JSON golden file at path; with
// -update it writes got there first, indented.
func GoldenJSON(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		var b bytes.Buffer
		if err := json.Indent(&b, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		write(t, path, append(b.Bytes(), '\n'))
	}
	SameJSON(t, got, read(t, path))
}

// GoldenText compares got, byte for byte, with the golden file at path
// (its final newline aside); with -update it writes got there first.
func GoldenText(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		write(t, path, []byte(got+"\n"))
	}
	if want := string(bytes.TrimSuffix(read(t, path), []byte("\n"))); got != want {
		t.Errorf("differs from %s\n got: %s\nwant: %s", path, got, want)
	}
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
