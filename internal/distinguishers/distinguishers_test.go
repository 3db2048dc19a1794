package distinguishers

import (
	"math/rand/v2"
	"testing"
)

func TestKS(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	same1, same2, shifted := make([]float64, 2000), make([]float64, 2000), make([]float64, 2000)
	for i := range same1 {
		same1[i], same2[i], shifted[i] = r.NormFloat64(), r.NormFloat64(), r.NormFloat64()+0.2
	}
	if _, p := KS(same1, same2); p < 0.01 {
		t.Fatalf("same distribution: p = %g", p)
	}
	if d, p := KS(same1, shifted); p > 1e-6 {
		t.Fatalf("shifted by 0.2 sd: D = %g, p = %g", d, p)
	}
}

func TestLogistic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	make_ := func(n int, sep float64) ([][]float64, []bool) {
		var x [][]float64
		var y []bool
		for i := range n {
			pos := i%10 == 0 // a few positives, as sources among readers
			v := r.NormFloat64()
			if pos {
				v += sep
			}
			x = append(x, []float64{v, r.NormFloat64()})
			y = append(y, pos)
		}
		return x, y
	}
	// Separable: far above chance.
	x, y := make_(4000, 2)
	acc, lower := FitLogistic(x, y).BalancedAccuracy(make_(4000, 2))
	if lower < 0.8 {
		t.Fatalf("separable data: accuracy %.3f (lower bound %.3f)", acc, lower)
	}
	// Identical: no better than chance.
	x, y = make_(4000, 0)
	acc, lower = FitLogistic(x, y).BalancedAccuracy(make_(4000, 0))
	if lower > 0.51 {
		t.Fatalf("identical data: accuracy %.3f (lower bound %.3f)", acc, lower)
	}
}
