package trafficanalysis

import (
	"fmt"
	"testing"

	"github.com/chaffhq/chaff/internal/distinguishers"
)

// ksAlpha is the significance below which a KS test counts as a
// distinguisher: 1e-4 over four features keeps a false alarm in CI below
// one run in 2,500, while the negative control's p-values are far smaller.
const ksAlpha = 1e-4

// verdict is what the distinguishers make of labelled rows: the smallest
// KS p-value over the features (and its feature), and the cross-validated
// classifier's balanced accuracy with its 95% lower bound.
type verdict struct {
	minP       float64
	worst      string
	acc, lower float64
}

// judge runs the distinguishers over rows of the named features: a KS
// test per feature, the labelled rows against the others, and a logistic
// regression trained on the rows fold puts on one side and tested on the
// others.
func judge(rows [][]float64, labels []bool, names []string, fold func(i int) bool) verdict {
	v := verdict{minP: 1}
	for f, name := range names {
		var a, b []float64
		for i, r := range rows {
			if labels[i] {
				a = append(a, r[f])
			} else {
				b = append(b, r[f])
			}
		}
		if _, p := distinguishers.KS(a, b); p < v.minP {
			v.minP, v.worst = p, name
		}
	}
	v.acc, v.lower = distinguishers.CrossValidated(rows, labels, fold)
	return v
}

func (v verdict) String() string {
	return fmt.Sprintf("smallest KS p-value %.3g (%s); classifier balanced accuracy %.3f, 95%% lower bound %.3f", v.minP, v.worst, v.acc, v.lower)
}

// wantIndistinguishable fails t if the distinguishers tell what apart.
func (v verdict) wantIndistinguishable(t *testing.T, what string) {
	t.Helper()
	if v.minP < ksAlpha {
		t.Errorf("the KS test tells %s apart by %s (p = %.3g)", what, v.worst, v.minP)
	}
	if v.lower > 0.51 {
		t.Errorf("the classifier beats chance by more than 1 point on %s: accuracy %.3f, lower bound %.3f", what, v.acc, v.lower)
	}
}

// wantCaught fails t unless the distinguishers tell what apart (a
// negative control).
func (v verdict) wantCaught(t *testing.T, what string) {
	t.Helper()
	if v.minP >= ksAlpha && v.lower <= 0.51 {
		t.Errorf("%s were not caught: p = %.3g, accuracy lower bound %.3f", what, v.minP, v.lower)
	}
}
