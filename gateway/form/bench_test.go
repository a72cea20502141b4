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
