// Package distinguishers holds the distinguishers of the traffic-analysis tests: a
// two-sample Kolmogorov–Smirnov test and a logistic-regression classifier
// with a confidence bound on its accuracy.
package distinguishers

import (
	"math"
	"sort"
)

// KS returns the two-sample Kolmogorov–Smirnov statistic D of a and b and
// its asymptotic p-value.
func KS(a, b []float64) (d, p float64) {
	x := append([]float64(nil), a...)
	y := append([]float64(nil), b...)
	sort.Float64s(x)
	sort.Float64s(y)
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		v := math.Min(x[i], y[j])
		for i < len(x) && x[i] <= v {
			i++
		}
		for j < len(y) && y[j] <= v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(x))-float64(j)/float64(len(y))))
	}
	n := float64(len(x)) * float64(len(y)) / float64(len(x)+len(y))
	return d, ksProb((math.Sqrt(n) + 0.12 + 0.11/math.Sqrt(n)) * d)
}

// ksProb is the Kolmogorov distribution's tail Q(λ) = 2 Σ (-1)^(k-1) e^(-2k²λ²).
func ksProb(lambda float64) float64 {
	if lambda < 1e-9 {
		return 1
	}
	sum, sign := 0.0, 1.0
	for k := 1; k <= 100; k++ {
		term := sign * 2 * math.Exp(-2*float64(k*k)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-12 {
			break
		}
		sign = -sign
	}
	return math.Min(1, math.Max(0, sum))
}

// Logistic is a logistic-regression classifier over standardised features.
type Logistic struct {
	w          []float64
	mean, sdev []float64
}

// FitLogistic trains on rows x with labels y (true = positive) by gradient
// descent.
func FitLogistic(x [][]float64, y []bool) *Logistic {
	m := len(x[0])
	l := &Logistic{w: make([]float64, m+1), mean: make([]float64, m), sdev: make([]float64, m)}
	for k := range m {
		for _, r := range x {
			l.mean[k] += r[k]
		}
		l.mean[k] /= float64(len(x))
		for _, r := range x {
			l.sdev[k] += (r[k] - l.mean[k]) * (r[k] - l.mean[k])
		}
		l.sdev[k] = math.Sqrt(l.sdev[k]/float64(len(x))) + 1e-12
	}
	// Balance the classes so that predicting the majority is not a win.
	pos := 0
	for _, v := range y {
		if v {
			pos++
		}
	}
	wPos, wNeg := 0.5/float64(max(pos, 1)), 0.5/float64(max(len(y)-pos, 1))
	for range 500 {
		grad := make([]float64, m+1)
		for i, r := range x {
			z := l.score(r)
			t, wt := 0.0, wNeg
			if y[i] {
				t, wt = 1, wPos
			}
			g := wt * (sigmoid(z) - t)
			grad[m] += g
			for k := range m {
				grad[k] += g * (r[k] - l.mean[k]) / l.sdev[k]
			}
		}
		for k := range l.w {
			l.w[k] -= 0.5 * grad[k]
		}
	}
	return l
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func (l *Logistic) score(r []float64) float64 {
	z := l.w[len(l.w)-1]
	for k := range l.mean {
		z += l.w[k] * (r[k] - l.mean[k]) / l.sdev[k]
	}
	return z
}

// Predict says whether a row is classified positive.
func (l *Logistic) Predict(r []float64) bool { return l.score(r) > 0 }

// BalancedAccuracy is the mean of the true-positive and true-negative
// rates on x, y (0.5 is chance), with the lower end of its 95% confidence
// interval (normal approximation, per class).
func (l *Logistic) BalancedAccuracy(x [][]float64, y []bool) (acc, lower float64) {
	pred := make([]bool, len(x))
	for i, r := range x {
		pred[i] = l.Predict(r)
	}
	return balanced(pred, y)
}

// balanced scores predictions against labels: balanced accuracy and the
// lower end of its 95% confidence interval.
func balanced(pred, y []bool) (acc, lower float64) {
	var tp, pos, tn, neg float64
	for i, p := range pred {
		if y[i] {
			pos++
			if p {
				tp++
			}
		} else {
			neg++
			if !p {
				tn++
			}
		}
	}
	tpr, tnr := tp/pos, tn/neg
	acc = (tpr + tnr) / 2
	se := 0.5 * math.Sqrt(tpr*(1-tpr)/pos+tnr*(1-tnr)/neg)
	return acc, acc - 1.96*se
}

// CrossValidated trains on each of two folds and predicts the other,
// pooling the predictions: every row is predicted by a model that did not
// see it. inFirst says which fold a row belongs to. It returns the pooled
// balanced accuracy and the lower end of its 95% confidence interval.
func CrossValidated(x [][]float64, y []bool, inFirst func(i int) bool) (acc, lower float64) {
	var ax, bx [][]float64
	var ay, by []bool
	for i := range x {
		if inFirst(i) {
			ax, ay = append(ax, x[i]), append(ay, y[i])
		} else {
			bx, by = append(bx, x[i]), append(by, y[i])
		}
	}
	ma, mb := FitLogistic(ax, ay), FitLogistic(bx, by)
	pred := make([]bool, len(x))
	for i := range x {
		m := ma
		if inFirst(i) {
			m = mb
		}
		pred[i] = m.Predict(x[i])
	}
	return balanced(pred, y)
}
