package mix_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/chaffhq/chaff/mix"
)

// TestFloodDelayMatchesSimulation: the computed wait of a genuine message
// behind a flood agrees, within one release interval, with running the
// flood through a Mixer input by input, with and without a bound on the
// messages held, for floods below and above what the releases carry away.
func TestFloodDelayMatchesSimulation(t *testing.T) {
	p := mix.Params{ThresholdMin: 20, ThresholdMax: 400, Timeout: 10 * time.Minute, OutputSize: 5}
	for _, maxWaiting := range []int{math.MaxInt, 0, 12} {
		for _, clients := range []int{1, 3, 10, 40} {
			for _, forTime := range []time.Duration{25 * time.Minute, 63 * time.Minute, 3*time.Hour + 4*time.Minute} {
				p.MaxWaiting = maxWaiting
				f := mix.Flood{Params: p, Clients: clients, Rate: 1.0 / 300, Burst: 2, OthersPerHour: 600, For: forTime}
				want, wantHeld := f.Delay()
				got, held := f.Simulate(30 * 24 * time.Hour)
				name := fmt.Sprintf("max %d, %d clients, after %s", maxWaiting, clients, forTime)
				if held != wantHeld {
					t.Errorf("%s: simulated held=%v, computed %v", name, held, wantHeld)
					continue
				}
				if d := got - want; d > 10*time.Minute || d < -10*time.Minute {
					t.Errorf("%s: simulated wait %s, computed %s", name, got, want)
				}
			}
		}
	}
}

// Before and after: the ingest's per-client limit (2 a second, bursts of
// 20, before; 2 an hour, bursts of 4, after) and the bound on messages
// held (none before; mix.DefaultWaitReleases releases' worth after), with
// upstream's production U2J thresholds and 100,000 other inputs an hour
// (threshold_min: the least traffic that releases hourly).
var (
	floodBefore = mix.Flood{Rate: 2, Burst: 20, OthersPerHour: 100_000}
	floodAfter  = mix.Flood{Rate: 2.0 / 3600, Burst: 4, OthersPerHour: 100_000}
)

func floodFigure(f mix.Flood, maxWaiting, clients int, d time.Duration) (time.Duration, bool) {
	f.Params = mix.ProductionU2J
	f.Params.MaxWaiting = maxWaiting
	f.Clients, f.For = clients, d
	return f.Delay()
}

// TestFloodFigures prints the wait of a genuine message sent after K
// clients flooded for an hour, before and after (docs/PERFORMANCE.md), and
// checks the after column against the bound: no message held waits more
// than DefaultWaitReleases releases, however long the flood.
//
//	go test -run TestFloodFigures -v ./mix
func TestFloodFigures(t *testing.T) {
	show := func(d time.Duration, held bool) string {
		if !held {
			return "not held (taken as cover)"
		}
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	for _, k := range []int{1, 10, 1000} {
		b, bh := floodFigure(floodBefore, math.MaxInt, k, time.Hour+time.Minute)
		a, ah := floodFigure(floodAfter, 0, k, time.Hour+time.Minute)
		long, lh := floodFigure(floodAfter, 0, k, 7*24*time.Hour+time.Minute)
		t.Logf("K=%d: before %s; after %s; after, flooding for a week %s", k, show(b, bh), show(a, ah), show(long, lh))
		bound := time.Duration(mix.DefaultWaitReleases) * mix.ProductionU2J.Timeout
		for _, d := range []time.Duration{time.Hour + time.Minute, 7*24*time.Hour + time.Minute} {
			for _, r := range []float64{floodAfter.Rate, 1000 * floodAfter.Rate} {
				f := floodAfter
				f.Rate = r
				if w, held := floodFigure(f, 0, k, d); held && w > bound {
					t.Errorf("K=%d, %s, rate %g/s: waits %s, above the bound %s", k, d, r, w, bound)
				}
			}
		}
	}
	// The finding: ten clients at the old default, after an hour,
	// delayed a genuine message by about six days.
	if d, _ := floodFigure(floodBefore, math.MaxInt, 10, time.Hour+time.Minute); d < 5*24*time.Hour || d > 7*24*time.Hour {
		t.Errorf("before, K=10: %s, not the six days the issue measured", d)
	}
}
