package providers

import (
	"strings"
	"testing"
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
	// Without an application, the patterns alone.
	if got := ScrubReason("dup of x@y.example, ssn 876-54-3210", nil); strings.ContainsAny(got, "@0123456789") {
		t.Errorf("got %q", got)
	}
}
