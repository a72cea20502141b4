package providers

import (
	"net/url"
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
	if len(reason) <= readMax {
		return Cut(scrub(reason, a), ReasonMax)
	}
	// Read only so far (a 200 KB decline took 0.46 s to scrub). A value
	// the cut splits is no longer recognised, and ends within the last
	// valueMax bytes of what was read (no value of an application is
	// longer): that tail is never kept, scrubbed or not.
	s := scrub(strings.ToValidUTF8(reason[:readMax], ""), a)
	s = strings.ToValidUTF8(s[:max(0, len(s)-valueMax)], "")
	return Cut(s, ReasonMax)
}

// valueMax bounds the length of an application's value in bytes: the
// form's longest is 254 characters (an email), or 100 in any script (4
// bytes a character at most). readMax is how much of a reason is read.
const (
	valueMax = 1024
	readMax  = 8 * ReasonMax
)

// ReasonMax is how many characters of a reason are kept.
const ReasonMax = 500

func scrub(reason string, a *Application) string {
	if reason == "" {
		return ""
	}
	if a != nil {
		values := []string{a.Email, a.FirstName, a.MiddleName, a.LastName, a.SecondLastName, a.MobilePhone, a.HomePhone,
			a.WorkPhone, a.NationalID, a.SSN, a.DriversLicenseNumber, a.AddressLine1, a.AddressLine2, a.PostalCode, a.EmployerName,
			a.EmployerPhone, a.EmployerAddress, a.SupervisorName, a.IBAN, a.BankRoutingNumber, a.BankAccountNumber, a.CarPlateNumber}
		if local, _, ok := strings.Cut(a.Email, "@"); ok {
			// The email as a URL writes it, and its local part alone.
			values = append(values, url.QueryEscape(a.Email), url.PathEscape(a.Email), local)
		}
		if !a.BirthDate.IsZero() {
			d := a.BirthDate
			values = append(values, d.Format("2006-01-02"), d.Format("01/02/2006"), d.Format("02/01/2006"), d.Format("1/2/06"),
				d.Format("2/1/06"), d.Format("1/2/2006"), d.Format("2/1/2006"), d.Format("Jan 2, 2006"), d.Format("January 2, 2006"),
				d.Format("2 Jan 2006"), d.Format("2 January 2006"))
		}
		for _, v := range values {
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
	// Whole words only: a first name "Ali" must not eat "Invalid". With
	// or without its accents: "José" is "Jose" and "JOSÉ".
	if re, err := regexp.Compile(`(?i)(^|[^\p{L}\p{N}])` + anyAccents(v) + `($|[^\p{L}\p{N}])`); err == nil {
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
		if re, err := regexp.Compile(strings.Join(digits, `[^\p{L}\p{N}]{0,6}`)); err == nil {
			reason = re.ReplaceAllLiteralString(reason, scrubbed)
		}
	}
	return reason
}

// anyAccents is the pattern of v that matches it with or without the
// accents of its Latin letters, precomposed or combining.
func anyAccents(v string) string {
	var b strings.Builder
	for _, r := range v {
		base := r
		for plain, accented := range accents {
			if strings.ContainsRune(accented, unicode.ToLower(r)) {
				base = plain
			}
		}
		if class, ok := accents[unicode.ToLower(base)]; ok {
			b.WriteString("[" + string(unicode.ToLower(base)) + class + "]\\p{Mn}*")
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
	}
	return b.String()
}

// accents are the accented forms of the Latin letters buyers drop.
var accents = map[rune]string{'a': "áàâäãå", 'e': "éèêë", 'i': "íìîï", 'o': "óòôöõ", 'u': "úùûü", 'n': "ñ", 'c': "ç", 'y': "ýÿ"}

const scrubbed = "•••"

var (
	anyEmail   = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	longNumber = regexp.MustCompile(`\+?\d(?:[\s.\-/()]{0,3}\d){4,}`)
)
