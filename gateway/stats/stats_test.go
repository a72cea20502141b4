package stats

import (
	"math"
	"testing"
)

// The intervals of Newcombe (1998), "Two-sided confidence intervals for
// the single proportion", Statistics in Medicine 17, table I, method 3.
func TestWilsonMatchesNewcombe(t *testing.T) {
	tests := []struct {
		s, n   int64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{29, 29, 0.8830, 1},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.s, tt.n, Z95)
		if math.Abs(lo-tt.lo) > 0.00005 || math.Abs(hi-tt.hi) > 0.00005 {
			t.Errorf("Wilson(%d/%d) = %.4f–%.4f, want %.4f–%.4f", tt.s, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	if lo, hi := Wilson(0, 0, Z95); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0/0) = %v–%v, want 0–1 (nothing known)", lo, hi)
	}
}

// 100/1000 against 130/1000: pooled p = 0.115, se = √(0.115·0.885·2/1000)
// = 0.014267, z = 0.03/0.014267 = 2.1027, and Φ(2.10) = 0.9821 in any
// normal table.
func TestBeatsRateIsTheZTest(t *testing.T) {
	if got := BeatsRate(100, 1000, 130, 1000); math.Abs(got-0.98226) > 0.00005 {
		t.Errorf("BeatsRate(100/1000, 130/1000) = %.5f, want 0.98226", got)
	}
	if got := BeatsRate(130, 1000, 100, 1000); math.Abs(got-0.01774) > 0.00005 {
		t.Errorf("BeatsRate(130/1000, 100/1000) = %.5f, want 0.01774", got)
	}
	for _, c := range [][4]int64{{0, 0, 0, 0}, {0, 50, 0, 50}, {10, 10, 5, 5}} {
		if got := BeatsRate(c[0], c[1], c[2], c[3]); got != 0.5 {
			t.Errorf("BeatsRate%v = %v, want 0.5 (no variation, nothing to tell)", c, got)
		}
	}
}

// With every sale at the same price, the Bayesian bootstrap's mean per
// visit is exactly Beta(sales, visits − sales) distributed, and P(B > A)
// of two Betas has Evan Miller's closed form: the Monte Carlo must agree.
func TestBeatsEPCMatchesTheBetaClosedForm(t *testing.T) {
	tests := []struct{ sa, na, sb, nb int }{
		{20, 400, 30, 400},
		{30, 400, 20, 400},
		{12, 150, 14, 160},
		{50, 1000, 50, 1000},
	}
	for _, tt := range tests {
		got := BeatsEPC(arm(tt.sa, tt.na, 25), arm(tt.sb, tt.nb, 25))
		want := betaBeats(tt.sa, tt.na-tt.sa, tt.sb, tt.nb-tt.sb)
		// 4000 draws: a standard error of at most 0.008.
		if math.Abs(got-want) > 0.03 {
			t.Errorf("BeatsEPC(%d/%d, %d/%d) = %.3f, want %.3f (closed form)", tt.sa, tt.na, tt.sb, tt.nb, got, want)
		}
	}
}

func TestBeatsEPCWeighsPrices(t *testing.T) {
	// Same conversion, B's sales pay three times as much.
	a, b := arm(40, 500, 10), arm(40, 500, 30)
	if got := BeatsEPC(a, b); got < 0.99 {
		t.Errorf("BeatsEPC with B paying 3× = %.3f, want > 0.99", got)
	}
	if got := BeatsEPC(a, b); got != BeatsEPC(a, b) {
		t.Error("BeatsEPC is not repeatable: a reload would show another figure")
	}
	if got := BeatsEPC(Arm{}, b); got != 0.5 {
		t.Errorf("BeatsEPC without visits = %v, want 0.5", got)
	}
	if got := (Arm{Visits: 4, Sales: []float64{10, 2}}).EPC(); got != 3 {
		t.Errorf("EPC of 12 over 4 visits = %v, want 3", got)
	}
}

func TestTooFew(t *testing.T) {
	tests := []struct {
		sa, na, sb, nb int64
		want           bool
	}{
		{10, 99, 10, 200, true}, // under 100 visits
		{4, 300, 10, 300, true}, // under 5 accepted
		{10, 300, 10, 300, false},
		{298, 300, 100, 300, true}, // under 5 not accepted
		{0, 0, 0, 0, true},
	}
	for _, tt := range tests {
		if got := TooFew(tt.sa, tt.na, tt.sb, tt.nb); got != tt.want {
			t.Errorf("TooFew(%d/%d, %d/%d) = %v, want %v", tt.sa, tt.na, tt.sb, tt.nb, got, tt.want)
		}
	}
}

func arm(sales, visits int, price float64) Arm {
	a := Arm{Visits: int64(visits)}
	for range sales {
		a.Sales = append(a.Sales, price)
	}
	return a
}

// betaBeats is P(X_B > X_A) for X_A ~ Beta(aA, bA), X_B ~ Beta(aB, bB),
// integer aB (Evan Miller, "Formulas for Bayesian A/B testing", 2015).
func betaBeats(aA, bA, aB, bB int) float64 {
	lbeta := func(x, y float64) float64 {
		a, _ := math.Lgamma(x)
		b, _ := math.Lgamma(y)
		c, _ := math.Lgamma(x + y)
		return a + b - c
	}
	var p float64
	for i := range aB {
		fi := float64(i)
		p += math.Exp(lbeta(float64(aA)+fi, float64(bB+bA)) - math.Log(float64(bB)+fi) -
			lbeta(1+fi, float64(bB)) - lbeta(float64(aA), float64(bA)))
	}
	return p
}
