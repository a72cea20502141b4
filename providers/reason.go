package providers

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
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
		return "" // most answers, and every acceptance but Casheddy's: nothing to read a's values for
	}
	return knownOf(a).reason(reason)
}

// reason is ScrubReason with the application's values read already.
func (k *known) reason(reason string) string {
	if len(reason) <= readMax {
		return Cut(k.scrub(reason), ReasonMax)
	}
	// Read only so far (a 200 KB decline took 0.46 s to scrub). A value
	// the cut splits is no longer recognised, and ends within the last
	// valueMax bytes of what was read (no value of an application is
	// longer): that tail is never kept, scrubbed or not.
	s := k.scrub(strings.ToValidUTF8(reason[:readMax], ""))
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

// scrub applies every rule of ScrubReason to reason.
func (k *known) scrub(reason string) string {
	if reason == "" {
		return ""
	}
	reason = k.values(reason)
	reason = anyEmail.ReplaceAllLiteralString(reason, scrubbed)
	return longNumber.ReplaceAllLiteralString(reason, scrubbed)
}

// known are an application's own identifying values, folded to be looked
// for: as words, and as digits when a value holds five or more.
type known struct{ words, digits [][]rune }

// knownOf reads a's values once, for every text to be scrubbed of them.
// Of a nil application nothing is known.
func knownOf(a *Application) *known {
	k := &known{}
	if a == nil {
		return k
	}
	values := []string{a.Email, a.FirstName, a.MiddleName, a.LastName, a.SecondLastName, a.MobilePhone, a.HomePhone,
		a.WorkPhone, a.NationalID, a.SSN, a.DriversLicenseNumber, a.AddressLine1, a.AddressLine2, a.City, a.PostalCode, a.EmployerName,
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
		v = strings.TrimSpace(v)
		// Two letters would take words out of every reason ("Al").
		if len(v) < 3 {
			continue
		}
		k.words = append(k.words, foldText(v).runes)
		var digits []rune
		for _, r := range v {
			if unicode.IsDigit(r) {
				digits = append(digits, r)
			}
		}
		if len(digits) >= 5 {
			k.digits = append(k.digits, digits)
		}
	}
	return k
}

// values takes each known value out of s: as a whole word, in any case,
// with or without the accents of its Latin letters (precomposed or
// combining); and a value's digits however spaced (up to six characters
// that are neither letters nor digits between two of them). Other
// numbers and addresses stay. s is folded once and searched; no pattern
// is compiled: a regular expression per value, each letter a class with
// its combining marks, took 6.6 ms a reason, on every buyer's answer.
func (k *known) values(s string) string {
	// A value taken out leaves a boundary: "Acme5125550134" is a word
	// until the phone in it goes, then "Acme" is one. Again until
	// nothing changes (a value per pass at worst, and three is plenty).
	for range 3 {
		next := k.once(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func (k *known) once(s string) string {
	if s == "" || len(k.words) == 0 {
		return s
	}
	text := foldText(s)
	var cuts [][2]int // byte ranges of s to take out
	for _, w := range k.words {
		cuts = append(cuts, text.words(w)...)
	}
	for _, d := range k.digits {
		cuts = append(cuts, text.digits(d)...)
	}
	if len(cuts) == 0 {
		return s
	}
	slices.SortFunc(cuts, func(x, y [2]int) int { return x[0] - y[0] })
	var b strings.Builder
	at := 0
	for i := 0; i < len(cuts); {
		from, to := cuts[i][0], cuts[i][1]
		for i++; i < len(cuts) && cuts[i][0] <= to; i++ {
			to = max(to, cuts[i][1])
		}
		b.WriteString(s[at:from])
		b.WriteString(scrubbed)
		at = to
	}
	b.WriteString(s[at:])
	return b.String()
}

// folded is a text as values are looked for in it: each character lower
// case and without its accent, combining marks dropped, with the byte
// range it came from (its marks included).
type folded struct {
	runes      []rune
	start, end []int
}

func foldText(s string) folded {
	var f folded
	for i, r := range s {
		size := max(1, utf8.RuneLen(r)) // a byte that is not UTF-8 is one
		// Combining marks, and the invisible characters (a soft hyphen,
		// a zero-width space) that would split a value, belong to the
		// character before them.
		if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r) {
			if n := len(f.end); n > 0 {
				f.end[n-1] = i + size
			}
			continue
		}
		f.runes = append(f.runes, fold(r))
		f.start = append(f.start, i)
		f.end = append(f.end, i+size)
	}
	return f
}

// fold is r without its case, a Latin letter without its accent. The
// case goes as a case-insensitive regular expression's does: every letter
// of a case orbit is one (Σ, σ and ς; K and the Kelvin sign), so a name
// typed "Ραλλης" is found written "ΡΑΛΛΗΣ".
func fold(r rune) rune {
	if plain, ok := plainOf[unicode.ToLower(r)]; ok {
		r = plain
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// plainOf maps each accented letter of accents to its plain letter.
var plainOf = func() map[rune]rune {
	m := map[rune]rune{}
	for plain, accented := range accents {
		for _, r := range accented {
			m[r] = plain
		}
	}
	return m
}()

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// words finds v in f as a whole word: a first name "Ali" is not in
// "Invalid".
func (f folded) words(v []rune) [][2]int {
	if len(v) == 0 {
		return nil
	}
	var out [][2]int
	for i := 0; i+len(v) <= len(f.runes); i++ {
		if f.runes[i] != v[0] || !slices.Equal(f.runes[i:i+len(v)], v) {
			continue
		}
		j := i + len(v)
		if (i > 0 && isWordRune(f.runes[i-1])) || (j < len(f.runes) && isWordRune(f.runes[j])) {
			continue
		}
		out = append(out, [2]int{f.start[i], f.end[j-1]})
	}
	return out
}

// digits finds want, a value's digits, in f however they are spaced:
// "512 - 555 - 0134", "(512)  555-0134".
func (f folded) digits(want []rune) [][2]int {
	var out [][2]int
	for i := range f.runes {
		if f.runes[i] != want[0] {
			continue
		}
		k, last := 1, i // want[:k] found, want[k-1] at last
		for j := i + 1; j < len(f.runes) && k < len(want) && j-last-1 <= 6; j++ {
			if r := f.runes[j]; r == want[k] {
				k, last = k+1, j
			} else if isWordRune(r) {
				break // another digit or a letter: the run breaks
			}
		}
		if k == len(want) {
			out = append(out, [2]int{f.start[i], f.end[last]})
		}
	}
	return out
}

// accents are the accented forms of the Latin letters buyers drop.
var accents = map[rune]string{'a': "áàâäãå", 'e': "éèêë", 'i': "íìîï", 'o': "óòôöõ", 'u': "úùûü", 'n': "ñ", 'c': "ç", 'y': "ýÿ"}

const scrubbed = "•••"

var (
	anyEmail   = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	longNumber = regexp.MustCompile(`\+?\d(?:[\s.\-/()]{0,3}\d){4,}`)
)
