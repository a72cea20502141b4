package casheddy

import (
	"encoding/json"
	"testing"
)

// BenchmarkMapping: canonical application → Casheddy's JSON body.
func BenchmarkMapping(b *testing.B) {
	s := documentExample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(toWire(s)); err != nil {
			b.Fatal(err)
		}
	}
}
