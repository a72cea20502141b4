package providers

import (
	"regexp"
	"strings"
	"unicode"
)

// ScrubReason takes out of a buyer's free-text reason what may be the
// consumer's personal data, before the reason is logged, stored or shown
// to an operator. A buyer's words are not ours to trust: a "Duplicate:
// jane@example.com 5125550134" was logged, kept in clear and shown on the
// admin's page. What goes:
//   - the application's own identifying values (names, email, phones, ids,
//     address, employer, bank details, plate) as whole words, in any case;
//     a value with five digits or more wherever its digits appear, however
//     they are spaced ("512 - 555 - 0134");
//   - any email address;
//   - any run of five digits or more (a phone, an SSN, an account, an IP
//     address, a date written as digits), with up to three spaces, dots,
//     dashes, slashes or brackets between two of them.
//
// Codes and short numbers stay: "Denied (R12)", "amount over 500". What
// is lost with them: a buyer's long lead number, an amount of five
// digits, a timestamp; the operator finds those in the buyer's own
// records by the application id.
func ScrubReason(reason string, a *Application) string {
	if reason == "" {
		return ""
	}
	if a != nil {
		for _, v := range []string{a.Email, a.FirstName, a.MiddleName, a.LastName, a.SecondLastName, a.MobilePhone, a.HomePhone,
			a.WorkPhone, a.NationalID, a.SSN, a.DriversLicenseNumber, a.AddressLine1, a.AddressLine2, a.PostalCode, a.EmployerName,
			a.EmployerPhone, a.EmployerAddress, a.SupervisorName, a.IBAN, a.BankRoutingNumber, a.BankAccountNumber, a.CarPlateNumber} {
			reason = scrubValue(reason, strings.TrimSpace(v))
		}
	}
	reason = anyEmail.ReplaceAllLiteralString(reason, scrubbed)
	return longNumber.ReplaceAllLiteralString(reason, scrubbed)
}

// scrubValue takes v out of reason: as a whole word, and when v holds
// five digits or more, its digits however spaced.
func scrubValue(reason, v string) string {
	// Two letters would take words out of every reason ("Al").
	if len(v) < 3 {
		return reason
	}
	// Whole words only: a first name "Ali" must not eat "Invalid".
	if re, err := regexp.Compile(`(?i)(^|[^\p{L}\p{N}])` + regexp.QuoteMeta(v) + `($|[^\p{L}\p{N}])`); err == nil {
		for range 2 { // the boundary one match takes is the next one's
			reason = re.ReplaceAllString(reason, "${1}"+scrubbed+"${2}")
		}
	}
	var digits []string
	for _, r := range v {
		if unicode.IsDigit(r) {
			digits = append(digits, string(r))
		}
	}
	if len(digits) >= 5 {
		if re, err := regexp.Compile(strings.Join(digits, `[^\p{L}\p{N}]{0,3}`)); err == nil {
			reason = re.ReplaceAllLiteralString(reason, scrubbed)
		}
	}
	return reason
}

const scrubbed = "•••"

var (
	anyEmail   = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	longNumber = regexp.MustCompile(`\+?\d(?:[\s.\-/()]{0,3}\d){4,}`)
)
