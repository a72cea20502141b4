// Package stats is the arithmetic of the dashboard's experiments: an
// interval for a conversion rate, the chance one variant beats another on
// accepted leads per visit and on earnings per click, and when there is
// too little traffic to say anything. Plain Go, no external service; the
// Monte Carlo parts use a fixed seed so a page shows the same figure on
// every reload.
package stats

import (
	"math"
	"math/rand/v2"
)

// Z95 is the normal quantile of a two-sided 95 % interval.
const Z95 = 1.959963984540054

// Wilson is the Wilson score interval of successes out of n at the
// normal quantile z (Z95 for 95 %). Unlike the textbook p ± z·se, it
// stays within 0..1 and is honest at 0 and n successes, which small
// campaigns hit all the time. n = 0 gives 0..1: nothing is known.
func Wilson(successes, n int64, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	successes = min(max(successes, 0), n)
	nf, p := float64(n), float64(successes)/float64(n)
	z2 := z * z
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, centre-half), min(1, centre+half)
}

// Normal is the standard normal distribution function Φ(x).
func Normal(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// BeatsRate is the probability, by the pooled two-proportion z-test, that
// B's rate is above A's: Φ(z) with z = (pB − pA) / se. It is 0.5 when the
// test has nothing to go on (no visits, or no variation at all).
func BeatsRate(successA, nA, successB, nB int64) float64 {
	if nA <= 0 || nB <= 0 {
		return 0.5
	}
	pA, pB := float64(successA)/float64(nA), float64(successB)/float64(nB)
	pool := float64(successA+successB) / float64(nA+nB)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(nA) + 1/float64(nB)))
	if se == 0 {
		return 0.5
	}
	return Normal((pB - pA) / se)
}

// Arm is one variant's money: its visits and the revenue of each sale
// (a visit without a sale earned 0).
type Arm struct {
	Visits int64
	Sales  []float64
}

// EPC is the arm's earnings per click (per visit).
func (a Arm) EPC() float64 {
	if a.Visits <= 0 {
		return 0
	}
	var sum float64
	for _, s := range a.Sales {
		sum += s
	}
	return sum / float64(a.Visits)
}

// Draws is how many posterior draws BeatsEPC takes: its answer moves by
// about ±0.01 with this many.
const Draws = 4000

// BeatsEPC is the probability that B's earnings per visit are above A's,
// by the Bayesian bootstrap (Rubin 1981): each draw weighs every visit by
// a flat Dirichlet weight and compares the weighted means. Visits without
// a sale all earn 0, so their weights enter as one Gamma(visits − sales)
// draw: a draw costs the number of sales, not of visits. Seeded: the same
// counts always give the same answer.
func BeatsEPC(a, b Arm) float64 {
	if a.Visits <= 0 || b.Visits <= 0 {
		return 0.5
	}
	r := rand.New(rand.NewPCG(15, 2026))
	wins, ties := 0, 0
	for range Draws {
		ea, eb := drawMean(r, a), drawMean(r, b)
		switch {
		case eb > ea:
			wins++
		case eb == ea:
			ties++
		}
	}
	return (float64(wins) + float64(ties)/2) / Draws
}

// drawMean is one Bayesian-bootstrap draw of an arm's mean per visit.
func drawMean(r *rand.Rand, a Arm) float64 {
	sales := min(int64(len(a.Sales)), a.Visits)
	var num, den float64
	for _, s := range a.Sales[:sales] {
		g := r.ExpFloat64() // Gamma(1): one visit's Dirichlet weight
		num += g * s
		den += g
	}
	den += gamma(r, float64(a.Visits-sales))
	if den == 0 {
		return 0
	}
	return num / den
}

// gamma draws from Gamma(shape, 1) (Marsaglia and Tsang 2000); shape 0
// is the point 0.
func gamma(r *rand.Rand, shape float64) float64 {
	if shape <= 0 {
		return 0
	}
	if shape < 1 {
		// Boost: Gamma(a) = Gamma(a+1) · U^(1/a).
		return gamma(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// MinVisits and MinEvents are the "too few visits to tell" rule: below
// 100 visits per variant, or fewer than 5 successes or 5 failures in
// either, the normal approximation behind the z-test does not hold and a
// percentage would only look precise.
const (
	MinVisits = 100
	MinEvents = 5
)

// TooFew says whether two variants' counts are too small to compare.
func TooFew(successA, nA, successB, nB int64) bool {
	for _, c := range [][2]int64{{successA, nA}, {successB, nB}} {
		s, n := c[0], c[1]
		if n < MinVisits || s < MinEvents || n-s < MinEvents {
			return true
		}
	}
	return false
}
