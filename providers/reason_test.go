package providers

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A buyer that echoes the consumer's data in its reason has it taken out;
// what the reason says of itself stays readable.
func TestScrubReason(t *testing.T) {
	a := &Application{FirstName: "Jane", LastName: "O'Neil", Email: "jane.oneil@example.com", MobilePhone: "5125550134",
		SSN: "876543210", BankAccountNumber: "12345678", AddressLine1: "1 Congress Ave", EmployerName: "Acme", IBAN: "ES5020803294338752239563"}
	for _, tc := range []struct{ in, want string }{
		{"lokyata: Duplicate: jane.oneil@example.com 5125550134 ssn 876543210", "lokyata: Duplicate: ••• ••• ssn •••"},
		{"astoria: JANE o'neil already applied (512-555-0134)", "astoria: ••• ••• already applied (•••)"},
		{"bank account 12345678 closed; employer ACME unknown", "bank account ••• closed; employer ••• unknown"},
		{"lives at 1 congress ave; IBAN ES50 2080 3294 3387 5223 9563", "lives at •••; IBAN ES•••"},
		{"someone.else@mail.example has this phone: +1 (512) 555 0199", "••• has this phone: •••"},
		{"casheddy: Denied (R12), amount over 500", "casheddy: Denied (R12), amount over 500"},
		{"", ""},
	} {
		if got := ScrubReason(tc.in, a); got != tc.want {
			t.Errorf("ScrubReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// However a buyer spaces the consumer's numbers; only whole words of
	// their names (a first name "Ali" is not in "Invalid"); a value that
	// is not UTF-8 is no pattern, and no panic.
	b := &Application{FirstName: "Ali", LastName: "Ted", MobilePhone: "5125550134", EmployerName: "Bank\xff"}
	for _, tc := range []struct{ in, want string }{
		{"call (512)  555-0134 or 512 - 555 - 0134", "call (••• or •••"},
		{"Invalid state; Rejected: ALI ted, bank account", "Invalid state; Rejected: ••• •••, bank account"},
		{"ali-ted@x", "•••"},
	} {
		if got := ScrubReason(tc.in, b); got != tc.want {
			t.Errorf("ScrubReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// What an attacker's re-check made a buyer write: a name without its
	// accents or with combining ones, the email as a URL writes it and
	// its local part, the birth date as people write it, digits spaced
	// wide.
	z := &Application{FirstName: "Zébulon", LastName: "Quixworth", Email: "zeb.quix+mk1@example.com", MobilePhone: "5125550134",
		BankAccountNumber: "12345678", BirthDate: time.Date(1985, 7, 4, 0, 0, 0, 0, time.UTC)}
	for _, in := range []string{"Duplicate of Zebulon QUIXWORTH", "dup: ZE\u0301BULON", "(zeb.quix%2Bmk1%40example.com)", "user zeb.quix+mk1 known",
		"born 7/4/85", "born Jul 4, 1985", "born 1985-07-04", "call 512    555    0134", "acct 1234 -- 5678"} {
		got := ScrubReason(in, z)
		for _, leak := range []string{"ebulon", "EBULON", "QUIX", "quix", "7/4", "Jul 4", "1985", "0134", "5678"} {
			if strings.Contains(got, leak) {
				t.Errorf("ScrubReason(%q) = %q: %q left", in, got, leak)
			}
		}
	}
	// Case as a case-insensitive match has it (Greek's final sigma, the
	// long s), and a value run into another that goes first.
	g := &Application{FirstName: "Ραλλης", LastName: "Joſef", EmployerName: "Acme", MobilePhone: "5125550134", SSN: "876543210", CarPlateNumber: "ABC123"}
	for in, want := range map[string]string{
		"dup ΡΑΛΛΗΣ":              "dup •••",
		"dup josef":               "dup •••",
		"Acme5125550134":          "••••••",
		"876543210ABC123 on file": "•••••• on file",
	} {
		if got := ScrubReason(in, g); got != want {
			t.Errorf("ScrubReason(%q) = %q, want %q", in, got, want)
		}
	}
	// Without an application, the patterns alone.
	if got := ScrubReason("dup of x@y.example, ssn 876-54-3210", nil); strings.ContainsAny(got, "@0123456789") {
		t.Errorf("got %q", got)
	}
}

// A buyer's reason of any length comes back short and scrubbed, and is
// read only as far as it is kept: a Casheddy decline of 200 KB was logged
// whole and took the request 0.46 s to scrub.
func TestScrubReasonOfAnyLength(t *testing.T) {
	a := &Application{Email: "john.smith@example.com", SSN: "876543210", FirstName: "Johnathan"}
	word := "declined because of john.smith@example.com and 876543210 Johnathan; "
	long := strings.Repeat(word, 200_000/len(word))
	got := ScrubReason(long, a)
	if n := utf8.RuneCountInString(got); n > ReasonMax || n < ReasonMax/2 {
		t.Errorf("a reason of %d bytes came back with %d characters, want at most %d", len(long), n, ReasonMax)
	}
	for _, v := range []string{"john", "876543", "Johnathan", "example.com"} {
		if strings.Contains(got, v) {
			t.Errorf("the cut reason still holds %q: %q", v, got)
		}
	}
	// However the words fall on the point where the reading stops, no
	// piece of an address or a number is left.
	for k := range len(word) {
		if got := ScrubReason(strings.Repeat("x", k)+" "+long, a); strings.Contains(got, "example") || strings.Contains(got, "john") || strings.Contains(got, "8765") {
			t.Fatalf("shifted by %d: %q", k, got)
		}
	}
}

// A reason with no space where the reading stops (minified JSON echoing
// the post), and long numbers before it that shrink to "•••": a value
// split by the cut must not come into what is kept.
func TestScrubReasonValueStraddlingTheCut(t *testing.T) {
	cjk := strings.Repeat("東京都港区六本木", 12) // 96 characters, 288 bytes
	a := &Application{Email: "lgarcia84@correo.es", FirstName: "Lucía", LastName: "García", AddressLine1: "Calle de Alcala", EmployerAddress: cjk}
	for _, piece := range []string{`{"email":"lgarcia`, `{"street":"Calle de Alc`, `{"employer_address":"` + cjk[:len(cjk)-9]} {
		// One long run of digits: scrubbed, it is "•••", and what follows
		// it comes within the 500 characters kept.
		n := readMax - len(`{"errors":["",`) - len(piece)
		head := `{"errors":["` + strings.Repeat("1234567890", readMax/10)[:n] + `",`
		got := ScrubReason(head+piece+`a84@correo.es","street":"Calle de Alcala"}]}`, a)
		if strings.Contains(got, "lgarcia") || strings.Contains(got, "Calle de") || strings.Contains(got, "東京") {
			t.Errorf("kept a piece of the consumer's data: ...%s", got[max(0, len(got)-60):])
		}
	}
}

// BenchmarkScrubReason: a buyer's short answer scrubbed of a us
// application's values, as every attempt's reason is.
func BenchmarkScrubReason(b *testing.B) {
	a := &Application{FirstName: "John", LastName: "Smith", Email: "john.smith@example.com", SSN: "876543210", MobilePhone: "5125550134",
		AddressLine1: "1 Congress Ave", City: "Austin", PostalCode: "78702", EmployerName: "Acme Corp", BankAccountNumber: "12345678",
		BirthDate: time.Date(1985, 7, 4, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if ScrubReason("Lead did not meet the lender's criteria (John Smith, 512-555-0134)", a) != "Lead did not meet the lender's criteria (••• •••, •••)" {
			b.Fatal("not scrubbed")
		}
	}
}
