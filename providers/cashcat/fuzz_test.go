package cashcat

import (
	"os"
	"regexp"
	"testing"
)

// FuzzParse: whatever Cashcat answers, the parser returns a lead or an
// error, never panics, and a lead it returns is usable for prefill.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/lead_inside.json", "testdata/lead_beside.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"lead":{"firstName":"Ana","loan":{"requestedAmount":"1e400"}}}`))
	f.Add([]byte(`{'error': {'code': 50003, 'message': 'action not found'}}`))
	f.Add([]byte(`{"firstName":null,"loan":{"requestedAmount":null},"balance":{"amount":"-0"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := Parse(body)
		if err != nil {
			return
		}
		l.Prefill("EUR")
		l.Prefill("PHP")
	})
}

func FuzzValidToken(f *testing.F) {
	for _, s := range []string{"p47m6005xhf0f6z6", "", "p47m6005xhf0f6z!", "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ"} {
		f.Add(s)
	}
	// The hand-written loop must agree with the shape as a regexp states it.
	shape := regexp.MustCompile(`^[A-Za-z0-9]{16}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidToken(s), shape.MatchString(s); got != want {
			t.Errorf("ValidToken(%q) = %v, want %v", s, got, want)
		}
	})
}
