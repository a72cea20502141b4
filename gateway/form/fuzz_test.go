package form

import (
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeValidate: any posted body decodes and validates without a
// panic; what validates round-trips; every value kept is bounded.
func FuzzDecodeValidate(f *testing.F) {
	f.Add(url.Values(map[string][]string{}).Encode())
	vals := url.Values{}
	for k, v := range validES() {
		vals.Set(k, v)
	}
	f.Add(vals.Encode())
	f.Add("iban=ES00%00&national_id=X&birth_date=31/02/2000&loan_amount=99999999999999999999&dependants=-0")
	f.Fuzz(func(t *testing.T, body string) {
		posted, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		v := ES.Decode(posted)
		for k, s := range v {
			if utf8.RuneCountInString(s) > maxValue {
				t.Errorf("%s kept %d runes", k, utf8.RuneCountInString(s))
			}
		}
		app, problems := ES.Validate(v, now, madrid)
		if len(problems) > 0 {
			return
		}
		if _, again := ES.Validate(ValuesOf(&app), now, madrid); len(again) > 0 {
			t.Errorf("valid application does not validate again: %v", again)
		}
	})
}
