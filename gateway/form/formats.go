package form

import (
	"math/big"
	"regexp"
	"strings"
	"unicode"
)

// Format is a named shape of text: the server's Go expression, the same
// rule written for the browser's pattern attribute (which is JavaScript,
// compiled with the v flag and always anchored), and an optional check no
// regexp can express (a checksum, a control letter). Normalize runs before
// both, on the server, so that "612 34 56 78" and "+34612345678" are one phone.
type Format struct {
	Name      string
	Go        *regexp.Regexp
	HTML      string
	Normalize func(string) string
	Check     func(string) bool
	InputMode string
}

// Pattern is the format's rule as the page's pattern attribute: the
// server trims every answer, so the page takes spaces around it too (a
// paste, a phone's autofill leaves one), where it refused a valid value.
func (f *Format) Pattern() string { return `\s*(?:` + f.HTML + `)\s*` }

// Casheddy's letters for city and street: its regexp with /ui flags. The
// browser has no case-insensitive pattern, so both cases are spelt out.
const (
	esLetters      = `a-zA-ZáéèíñóúüçÁÉÈÍÑÓÚÜÇ`
	upperOnlyPlate = `BCDFGHJKLMNPRSTVWXYZ`
	// esTyped is what a consumer writes in a Spanish place or street
	// beyond Casheddy's letters, and esPlace writes in them: the letters
	// of Catalan, Valencian and Galician names, the abbreviations' dots
	// and slash ("C/", "Avda.", "Sta."), a bilingual name's slash
	// ("Alicante/Alacant") and the punt volat ("l·l").
	esTyped = `àòïìùâêîôûÀÒÏÌÙÂÊÎÔÛ.\/·ʼ` + typedApostrophes
	// typedApostrophes are what phones type for an apostrophe: iOS's
	// smart punctuation makes "O'Neil" "O’Neil", and a Spanish
	// keyboard's accent key gives "´". Refused, they stopped consumers at
	// their own name; apostrophes writes them as the one buyers take.
	// (ʼ, U+02BC, is a letter, which a name takes as it is: written as
	// ', it would refuse "ʼOkina"; a place folds it with the rest.)
	typedApostrophes = `’‘´`
)

var apostrophes = strings.NewReplacer("’", "'", "‘", "'", "´", "'")

// typedDashes are the hyphens a phone, a word processor or a web page
// gives for "-": the hyphen and non-breaking hyphen (U+2010, U+2011), the
// figure dash, the en dash, the minus sign, the small and full-width
// hyphen-minus. A phone number or a "Mary‑Jane" pasted with them was
// refused, by the page and by the server; typedText writes them as "-"
// before any rule reads a value, and the patterns take them as typed.
const typedDashes = "‐‑‒–−﹣－"

// typedText writes the dashes of typedDashes as "-", and the spaces that
// are not ASCII (the no-break space of a pasted statement, a thin
// space, a pasted tab) as " ": the server's rules spell both the ASCII
// way, the page's patterns take both (\s is every space in JavaScript).
func typedText(s string) string {
	if printableASCII(s) {
		return s // nearly every value: nothing to look up rune by rune
	}
	return strings.Map(func(r rune) rune {
		switch {
		case strings.ContainsRune(typedDashes, r):
			return '-'
		case r != ' ' && unicode.IsSpace(r):
			return ' '
		}
		return r
	}, s)
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// esAbbreviations are the street types and saints a Spanish address
// abbreviates, written out: Casheddy's alphabet has no "/" and no ".".
var esAbbreviations = []struct {
	re *regexp.Regexp
	to string
}{
	{regexp.MustCompile(`(?i)^c\s*/\s*`), "Calle "},
	{regexp.MustCompile(`(?i)^(avda|avd|av)(\.\s*|\s+)`), "Avenida "},
	{regexp.MustCompile(`(?i)^(pza|plza|pl)(\.\s*|\s+)`), "Plaza "},
	{regexp.MustCompile(`(?i)^ctra(\.\s*|\s+)`), "Carretera "},
	{regexp.MustCompile(`(?i)^(p\.?\s*[º°]|pso)(\.\s*|\s+)`), "Paseo "},
	{regexp.MustCompile(`(?i)(^|\s)sta\.\s*`), "${1}Santa "},
	{regexp.MustCompile(`(?i)(^|\s)sto\.\s*`), "${1}Santo "},
}

// esFold writes the letters outside Casheddy's alphabet as the nearest in
// it, a bilingual name's slash as a hyphen, and drops what is left of
// the dots.
var esFold = strings.NewReplacer("à", "a", "ò", "o", "ï", "i", "ì", "i", "ù", "u", "â", "a", "ê", "e", "î", "i", "ô", "o", "û", "u",
	"À", "A", "Ò", "O", "Ï", "I", "Ì", "I", "Ù", "U", "Â", "A", "Ê", "E", "Î", "I", "Ô", "O", "Û", "U",
	"·", "", "/", "-", ".", " ", "’", "'", "‘", "'", "ʼ", "'", "´", "'")

// esPlace is a Spanish place or street as typed ("C/ Mayor", "Sant Adrià
// de Besòs", "Sta. Cruz de Tenerife") in Casheddy's alphabet ("Calle
// Mayor", "Sant Adria de Besos", "Santa Cruz de Tenerife"): refused as
// typed, these stopped consumers at the address step.
func esPlace(s string) string {
	for _, a := range esAbbreviations {
		s = a.re.ReplaceAllString(s, a.to)
	}
	return strings.Join(strings.Fields(esFold.Replace(s)), " ")
}

// esFlat is a floor and door as typed ("2º B", "4ª planta", "Piso 2,
// puerta B") in Casheddy's letters, digits and spaces.
var esFlat = func() func(string) string {
	r := strings.NewReplacer("º", " ", "ª", " ", "°", " ", ",", " ", ".", " ", "-", " ", "/", " ")
	return func(s string) string { return strings.Join(strings.Fields(r.Replace(s)), " ") }
}()

var formats = map[string]*Format{
	// A place's name: a us city.
	"name": {
		Go:        regexp.MustCompile(`^\p{L}[\p{L} '.-]*$`),
		HTML:      `\p{L}[\p{L}\s'` + typedApostrophes + `.\-` + typedDashes + `]*`,
		Normalize: apostrophes.Replace,
	},
	// A person's name, as "name", and with a suffix written after a comma
	// ("Smith, Jr.", "King, III"): refused, it stopped consumers at their
	// own name. It is sent without the comma ("Smith Jr."), as the
	// buyers' names take it. (Not a city's: "Austin, TX" is not one.)
	"person": {
		Go:   regexp.MustCompile(`^\p{L}[\p{L} '.-]*$`),
		HTML: `\p{L}[\p{L}\s',` + typedApostrophes + `.\-` + typedDashes + `]*`,
		Normalize: func(s string) string {
			// A comma before the name is no suffix's: left, and refused.
			if s = apostrophes.Replace(s); strings.Contains(s, ",") && !strings.HasPrefix(s, ",") {
				s = strings.Join(strings.Fields(strings.ReplaceAll(s, ",", " ")), " ")
			}
			return s
		},
	},
	// Casheddy: phone regex /^[67][0-9]{2}\s[0-9]{3}\s[0-9]{3}$/. We keep
	// nine digits and format them for Casheddy in its adapter.
	"es_phone": {
		Go:        regexp.MustCompile(`^[67]\d{8}$`),
		HTML:      `(\+34|0034)?` + sep + `[67](` + sep + `\d){8}`,
		Normalize: spanishPhone,
		InputMode: "tel",
	},
	// Casheddy's personal_id: DNI /^(([KLM]\d{7})|(\d{8}))([A-Z])$/, its
	// "NIE" /^([ABCDEFGHJNPQRSUVW])(\d{7})([0-9A-J])$/ (the shape of a CIF)
	// and its "CIF" /^([XYZ])(\d{7,8})([A-Z])$/ (the shape of an NIE): the
	// document swaps the two names; the three shapes are what count.
	"es_id": {
		Go: regexp.MustCompile(`^((([KLM]\d{7})|(\d{8}))[A-Z]|[ABCDEFGHJNPQRSUVW]\d{7}[0-9A-J]|[XYZ]\d{7,8}[A-Z])$`),
		HTML: `([KLMklm]` + sep + `(\d` + sep + `){7}|(\d` + sep + `){8})[A-Za-z]|[ABCDEFGHJNPQRSUVWabcdefghjnpqrsuvw]` + sep + `(\d` + sep + `){7}[0-9A-Ja-j]|[XYZxyz]` +
			sep + `(\d` + sep + `){7,8}[A-Za-z]`,
		Normalize: compactUpper,
		Check:     validSpanishID,
	},
	// Casheddy: bank_account /^ES[0-9]*/, which any "ES" passes; a Spanish
	// IBAN is ES + 2 check digits + 20 digits, and its checksum is checked.
	"es_iban": {
		Go:        regexp.MustCompile(`^ES\d{22}$`),
		HTML:      `[Ee][Ss](` + sep + `\d){22}`,
		Normalize: compactUpper,
		Check:     validIBAN,
	},
	// Casheddy: /^(0[1-9]|[1-4][0-9]|5[0-2])[-]{0,1}\d{3}$/ (a province
	// 01-52 and three digits). The dash it allows is dropped.
	"es_postal": {
		Go:        regexp.MustCompile(`^(0[1-9]|[1-4][0-9]|5[0-2])\d{3}$`),
		HTML:      `(0[1-9]|[1-4][0-9]|5[0-2])[\-` + typedDashes + `]?\d{3}`,
		Normalize: func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "-", "") },
		InputMode: "numeric",
	},
	// Casheddy: address[city] and address[street] /^[a-záéèíñóúüç\s'-]+$/ui.
	"es_place": {
		Go:        regexp.MustCompile(`(?i)^[a-záéèíñóúüç\s'-]+$`),
		HTML:      `[` + esLetters + esTyped + `\s'\-` + typedDashes + `]+`,
		Normalize: esPlace,
	},
	// The street as Casheddy takes it (es_place), checked after the house
	// number is split off; the page also lets the number be typed in it
	// ("Calle Mayor 5"), which the server splits (derive.go).
	"es_street": {
		Go:        regexp.MustCompile(`(?i)^[a-záéèíñóúüç\s'-]+$`),
		HTML:      `[` + esLetters + esTyped + `º°\s'\-` + typedDashes + `]+(,?\s*([nN][º°oO]\.?\s*)?\d+[` + esLetters + `]?)?`,
		Normalize: esPlace,
	},
	// Casheddy: address[house_number] /^\d+[a-záéèíñóúüç]?$/ui.
	"es_house": {
		Go:   regexp.MustCompile(`(?i)^\d+[a-záéèíñóúüç]?$`),
		HTML: `\d+[` + esLetters + `]?`,
	},
	// Casheddy: address[flat_number] /^[a-zA-ZÀ-ÖØ-öø-ÿ0-9 ]+$/i.
	"es_flat": {
		Go:        regexp.MustCompile(`^[a-zA-ZÀ-ÖØ-öø-ÿ0-9 ]+$`),
		HTML:      `[a-zA-ZÀ-ÖØ-öø-ÿ0-9\sºª°,.\-` + typedDashes + `\/]+`,
		Normalize: esFlat,
	},
	// Casheddy: car_plate_number /^\d{4}\s*[BCDFGHJKLMNPRSTVWXYZ]{3}|[A-Z]{2,3}\s*\d{4}\s*[A-Z]{2}$/.
	// As written, ^ and $ bind to one alternative each, so "1234BCD<junk>"
	// would pass; we anchor both (current and old provincial plates).
	"es_plate": {
		Go:        regexp.MustCompile(`^(\d{4}\s*[` + upperOnlyPlate + `]{3}|[A-Z]{2,3}\s*\d{4}\s*[A-Z]{2})$`),
		HTML:      `\d{4}\s*[` + upperOnlyPlate + strings.ToLower(upperOnlyPlate) + `]{3}|[A-Za-z]{2,3}\s*\d{4}\s*[A-Za-z]{2}`,
		Normalize: func(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) },
	},
	// United States (SPEC §5 us column; Lokyata and Astoria rules).
	// Phones: 10 digits, as both buyers want them; a NANP area code and
	// exchange never start with 0 or 1. "+1", brackets and dashes are
	// dropped.
	"us_phone": {
		Go:        regexp.MustCompile(`^[2-9]\d{2}[2-9]\d{6}$`),
		HTML:      `(\+?1` + sep1 + `)?\(?[2-9]\d{2}\)?` + sep1 + `[2-9]\d{2}` + sep1 + `\d{4}`,
		Normalize: usPhone,
		InputMode: "tel",
	},
	// A work phone as a switchboard's is written, with its extension
	// ("(512) 555-0100 ext. 214", "x214", "#214"): refused, it stopped
	// consumers at the employment step. The number is checked and sent
	// as a phone; the extension is kept apart (work_phone_ext, derived),
	// for Lokyata's employment_phone_ext.
	"us_work_phone": {
		Go:   regexp.MustCompile(`^[2-9]\d{2}[2-9]\d{6}$`),
		HTML: `(\+?1` + sep1 + `)?\(?[2-9]\d{2}\)?` + sep1 + `[2-9]\d{2}` + sep1 + `\d{4}(\s*([,;#xX]|[eE][xX][tT]\.?|[eE][xX][tT][eE][nN][sS][iI][oO][nN])\s*\d{1,6})?`,
		Normalize: func(s string) string {
			if strings.ContainsAny(s, ",;#xXtT") { // an extension's marks: most numbers have none
				s = extension.ReplaceAllString(s, "")
			}
			return usPhone(s)
		},
		InputMode: "tel",
	},
	// A 5-digit zip or ZIP+4 (Lokyata: nnnnn or nnnnn-nnnn), kept as digits;
	// typed with any separators ("78702 1234" is how some print it).
	"us_zip": {
		Go:        regexp.MustCompile(`^\d{5}(\d{4})?$`),
		HTML:      `(\d` + sep + `){4}\d(` + sep + `(\d` + sep + `){3}\d)?`,
		Normalize: unseparated,
		InputMode: "numeric",
	},
	// SSN: 9 digits (both buyers: "all digits; no dashes"), and not one the
	// SSA never issues (area 000, 666 or 9xx, group 00, serial 0000).
	"ssn": {
		Go:        regexp.MustCompile(`^\d{9}$`),
		HTML:      `(\d` + sep + `){8}\d`,
		Normalize: unseparated,
		Check:     validSSN,
		InputMode: "numeric",
	},
	// ABA routing number: 9 digits whose weighted sum (3, 7, 1) is a
	// multiple of 10.
	"aba": {
		Go:        regexp.MustCompile(`^\d{9}$`),
		HTML:      `(\d` + sep + `){8}\d`,
		Normalize: unseparated,
		Check:     validABA,
		InputMode: "numeric",
	},
	// Bank account: 4 to 17 digits (Lokyata's length), with any
	// separators a statement prints between them.
	"us_account": {
		Go:        regexp.MustCompile(`^\d{4,17}$`),
		HTML:      `(\d` + sep + `){3,16}\d`,
		Normalize: unseparated,
		InputMode: "numeric",
	},
	// Driver's license: letters and digits (Lokyata: "no special
	// characters", 20 at most); spaces and dashes typed are dropped.
	"us_license": {
		Go:        regexp.MustCompile(`^[A-Z0-9]{1,20}$`),
		HTML:      `([A-Za-z0-9]` + sep + `){0,19}[A-Za-z0-9]`,
		Normalize: compactUpper,
	},
	// Free text of addresses and employers: letters, digits and the
	// punctuation addresses use; no markup characters.
	// A phone's apostrophe ("McDonald’s", "1 O’Hare St") is written as
	// the one buyers take, as in names.
	"us_text": {
		Go:        regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} '.,#&/\-]*$`),
		HTML:      `[\p{L}\p{N}][\p{L}\p{N}\s'` + typedApostrophes + `.,#&\/\-` + typedDashes + `]*`,
		Normalize: apostrophes.Replace,
	},
}

func init() {
	for name, f := range formats {
		f.Name = name
	}
}

// spanishPhone keeps the nine national digits of a Spanish number written
// with spaces, dots, dashes or a +34 / 0034 prefix.
func spanishPhone(s string) string {
	d := digits(s)
	switch {
	case len(d) == 11 && strings.HasPrefix(d, "34"):
		d = d[2:]
	case len(d) == 13 && strings.HasPrefix(d, "0034"):
		d = d[4:]
	}
	if d == "" {
		return strings.TrimSpace(s)
	}
	return d
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if !unicode.IsSpace(r) && !strings.ContainsRune("+-.()/", r) {
			return "" // letters: not a phone; leave it to fail the rule
		}
	}
	return b.String()
}

// unseparated is s without what consumers and their phones put between
// digits: spaces of any kind (the browser's \s, which the patterns' sep
// is, takes a no-break space from a pasted IBAN as it takes a space),
// dashes and dots.
func unseparated(s string) string {
	return strings.Map(func(r rune) rune {
		if isSpace(r) || r == '-' || r == '.' {
			return -1
		}
		return r
	}, s)
}

// isSpace is a space as the page's patterns read one (JavaScript's \s):
// Unicode's, and the byte order mark a paste from some documents leaves.
func isSpace(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }

// sep is the patterns' "any separators here": what unseparated drops.
const (
	sep  = `[\s.\-` + typedDashes + `]*`
	sep1 = `[\s.\-` + typedDashes + `]?` // at most one
)

func compactUpper(s string) string { return strings.ToUpper(unseparated(s)) }

const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// validSpanishID checks the control character of a DNI, NIE or CIF.
func validSpanishID(id string) bool {
	if len(id) < 9 {
		return false
	}
	first, body, control := id[0], id[1:len(id)-1], id[len(id)-1]
	switch {
	case first >= '0' && first <= '9': // DNI: 8 digits, letter of number mod 23
		return dniLetters[atoi(id[:len(id)-1])%23] == control
	case first == 'K' || first == 'L' || first == 'M': // DNI of minors and foreigners without NIE
		return dniLetters[atoi(body)%23] == control
	case first == 'X' || first == 'Y' || first == 'Z': // NIE: X=0, Y=1, Z=2 in front
		return dniLetters[atoi(string('0'+first-'X')+body)%23] == control
	default:
		return validCIF(id)
	}
}

// validCIF checks a company id: letter, 7 digits, a control digit or letter.
func validCIF(id string) bool {
	sum := 0
	for i, c := range id[1:8] {
		n := int(c - '0')
		if i%2 == 0 { // odd positions (1st, 3rd, ...) are doubled
			n *= 2
			n = n/10 + n%10
		}
		sum += n
	}
	d := (10 - sum%10) % 10
	digit, letter := byte('0'+d), "JABCDEFGHI"[d]
	c := id[8]
	switch id[0] {
	case 'P', 'Q', 'R', 'S', 'N', 'W': // always a letter
		return c == letter
	case 'A', 'B', 'E', 'H': // always a digit
		return c == digit
	}
	return c == digit || c == letter
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// validIBAN is the ISO 13616 mod-97 check (no IBAN library is served here).
func validIBAN(iban string) bool {
	if len(iban) < 15 {
		return false
	}
	var b strings.Builder
	for _, r := range iban[4:] + iban[:4] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteString(itoa(int(r-'A') + 10))
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

// usPhone keeps the ten digits of a US number written with +1, brackets,
// spaces, dots or dashes.
func usPhone(s string) string {
	d := digits(s)
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	if d == "" {
		return strings.TrimSpace(s)
	}
	return d
}

// extension is a phone's extension at its end, as us_work_phone takes it.
var extension = regexp.MustCompile(`(?i)\s*([,;#x]|ext\.?|extension)\s*(\d{1,6})\s*$`)

// validSSN refuses the numbers the SSA never issues.
func validSSN(s string) bool {
	area, group, serial := s[:3], s[3:5], s[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// validABA is the routing number checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) +
// (d3+d6+d9) must be a multiple of 10.
func validABA(s string) bool {
	if len(s) != 9 {
		return false
	}
	weights := [3]int{3, 7, 1}
	sum := 0
	for i, c := range s {
		sum += weights[i%3] * int(c-'0')
	}
	return sum%10 == 0
}
