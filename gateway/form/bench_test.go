package form

import "testing"

// BenchmarkValidateES: validation of a complete es form (the apply hot path).
func BenchmarkValidateES(b *testing.B) {
	v := validES()
	b.ReportAllocs()
	for b.Loop() {
		if _, p := ES.Validate(v, now, madrid); p != nil {
			b.Fatal(p)
		}
	}
}

// BenchmarkValidateUS: validation of a us form as the load test's
// consumers send it, the state, licence state and last pay date left to
// be derived (the apply hot path).
func BenchmarkValidateUS(b *testing.B) {
	v := validUS()
	for _, name := range []string{"state", "drivers_license_state", "last_pay_date"} {
		delete(v, name)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, p := US.Validate(v, now, newYork); p != nil {
			b.Fatal(p)
		}
	}
}
