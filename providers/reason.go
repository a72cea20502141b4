package providers

import (
	"regexp"
	"strings"
)

// ScrubReason takes out of a buyer's free-text reason what may be the
// consumer's personal data, before the reason is logged, stored or shown
// to an operator. A buyer's words are not ours to trust: a "Duplicate:
// jane@example.com 5125550134" was logged, kept in clear and shown on the
// admin's page. What goes: the application's own identifying values
// wherever they appear (names, email, phones, ids, address, employer,
// bank details, plate), any email address, and any run of five digits or
// more (a phone, an SSN, an account, a birth date written as digits),
// with the spaces, dots, dashes, slashes and brackets between them. Codes and short numbers stay: "Denied (R12)",
// "amount over 500".
func ScrubReason(reason string, a *Application) string {
	if reason == "" {
		return ""
	}
	if a != nil {
		for _, v := range []string{a.Email, a.FirstName, a.MiddleName, a.LastName, a.SecondLastName, a.MobilePhone, a.HomePhone,
			a.WorkPhone, a.NationalID, a.SSN, a.DriversLicenseNumber, a.AddressLine1, a.AddressLine2, a.PostalCode, a.EmployerName,
			a.EmployerPhone, a.EmployerAddress, a.SupervisorName, a.IBAN, a.BankRoutingNumber, a.BankAccountNumber, a.CarPlateNumber} {
			// Two letters would take words out of every reason ("Al").
			if v = strings.TrimSpace(v); len(v) >= 3 {
				reason = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(v)).ReplaceAllLiteralString(reason, scrubbed)
			}
		}
	}
	reason = anyEmail.ReplaceAllLiteralString(reason, scrubbed)
	return longNumber.ReplaceAllLiteralString(reason, scrubbed)
}

const scrubbed = "•••"

var (
	anyEmail   = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	longNumber = regexp.MustCompile(`\+?\d(?:[\s.\-/()]{0,2}\d){4,}`)
)
