package api_test

import (
	"math"
	"testing"

	"github.com/chaffhq/chaff/internal/api"
)

func TestParseRate(t *testing.T) {
	for s, want := range map[string]float64{"2": 2, "0.5": 0.5, "2/h": 2.0 / 3600, "30/m": 0.5, "5/s": 5, " 1e6 ": 1e6} {
		if got, err := api.ParseRate(s); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseRate(%q) = %g, %v; want %g", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1", "2/d", "/h", "x/h", "NaN", "Inf", "2/h/h"} {
		if _, err := api.ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q) accepted", s)
		}
	}
	if got, _ := api.ParseRate(api.DefaultIngestRateText); got != api.DefaultIngestRate {
		t.Errorf("the default's text reads as %g, not %g", got, api.DefaultIngestRate)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"2/h", "1e6", "0.5/m", "-1/s", "1e309/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := api.ParseRate(s)
		if err == nil && (r <= 0 || math.IsInf(r, 0) || math.IsNaN(r)) {
			t.Fatalf("ParseRate(%q) = %g", s, r)
		}
	})
}
