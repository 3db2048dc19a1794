package mix

import (
	"math"
	"time"
)

// Flood describes clients flooding a CoverNode with real-looking messages
// (sealed to a journalist that exists, so that the CoverNode must queue
// them), each as fast as the ingest's per-client limit lets it, while
// everyone else's messages arrive at a steady rate. It answers: how long
// does a genuine message sent after the flood has run For wait for its
// dead drop? docs/PERFORMANCE.md gives the figures.
type Flood struct {
	Params Params
	// Clients is the number of flooding clients (addresses, for the
	// ingest's per-client limit).
	Clients int
	// Rate is each client's sustained messages per second, after a first
	// Burst sent at once: the ingest's per-client limit.
	Rate  float64
	Burst int
	// OthersPerHour is every other input: readers' cover and messages.
	OthersPerHour float64
	// For is how long the flood has run when the genuine message is sent.
	For time.Duration
}

// interval is the time between releases: the time to gather ThresholdMax
// inputs, or the timeout once ThresholdMin have come, whichever is first.
func (f Flood) interval() time.Duration {
	perSec := f.OthersPerHour/3600 + float64(f.Clients)*f.Rate
	toMax := time.Duration(float64(f.Params.ThresholdMax) / perSec * float64(time.Second))
	toMin := time.Duration(float64(f.Params.ThresholdMin) / perSec * float64(time.Second))
	return min(toMax, max(f.Params.Timeout, toMin))
}

// Delay computes how long the genuine message waits (from the thresholds
// and rates, as a steady flow), and whether the CoverNode holds it at all:
// it does not when MaxWaiting real messages already wait, and then takes
// it as cover. The flood's first burst is counted as messages waiting,
// not as inputs that hasten a release.
func (f Flood) Delay() (time.Duration, bool) {
	i := f.interval()
	limit := float64(f.Params.maxWaiting())
	perRelease := float64(f.Clients) * f.Rate * i.Seconds()
	out := float64(f.Params.OutputSize)
	// Real messages waiting just after each release, up to the last
	// release before the genuine message.
	waiting := math.Min(limit, float64(f.Clients)*float64(f.Burst))
	releases := int(f.For / i)
	for range releases {
		waiting = math.Max(0, math.Min(limit, waiting+perRelease)-out)
	}
	since := f.For - time.Duration(releases)*i
	waiting = math.Min(limit, waiting+float64(f.Clients)*f.Rate*since.Seconds())
	if waiting >= limit {
		return 0, false
	}
	rounds := int(waiting)/f.Params.OutputSize + 1 // the release that takes it
	return i - since + time.Duration(rounds-1)*i, true
}

// Simulate runs the flood through a Mixer input by input, as the CoverNode
// does (a real input is held only while the mixer has Room), and returns
// the genuine message's wait and whether it was held; it gives up (false)
// after limit of simulated time.
func (f Flood) Simulate(limit time.Duration) (time.Duration, bool) {
	m := New[bool](f.Params, time.Time{})
	t0 := time.Time{}
	add := func(genuine, real bool, at time.Time) (released bool) {
		if real && m.Room() == 0 {
			real = false // taken as cover
		}
		if m.Add(genuine, real, at) {
			reals, _ := m.Release(at)
			for _, g := range reals {
				if g {
					return true
				}
			}
		}
		return false
	}
	for range f.Clients * f.Burst {
		add(false, true, t0)
	}
	// The clients' messages are spread evenly: one every 1/(Clients×Rate).
	floodEvery := time.Duration(float64(time.Second) / f.Rate / float64(f.Clients))
	othersEvery := time.Duration(3600 / f.OthersPerHour * float64(time.Second))
	nextFlood, nextOther := floodEvery, othersEvery
	sent := false
	var sentAt time.Duration
	for now := time.Duration(0); now <= f.For+limit; {
		if !sent && f.For < min(nextFlood, nextOther) {
			sent, sentAt, now = true, f.For, f.For
			if m.Room() == 0 {
				return 0, false
			}
			if add(true, true, t0.Add(now)) {
				return 0, true
			}
			continue
		}
		if nextFlood <= nextOther {
			now = nextFlood
			nextFlood += floodEvery
			if add(false, true, t0.Add(now)) {
				return now - sentAt, true
			}
		} else {
			now = nextOther
			nextOther += othersEvery
			if add(false, false, t0.Add(now)) {
				return now - sentAt, true
			}
		}
	}
	return 0, false
}
