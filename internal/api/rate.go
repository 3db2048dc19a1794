package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The ingest's default per-client limit (Config.IngestRate, in requests a
// second, and Config.IngestBurst) follows the app's cadence: a
// background run sends two messages, and runs are at least an hour
// apart. A client (an address) may send DefaultIngestBurst at once, then
// DefaultIngestRate a second. It bounds how fast one address can fill the
// CoverNode's queue of real messages (see mix.Flood and
// docs/PERFORMANCE.md); readers sharing an address (carrier-grade NAT)
// share it too, so a deployment behind such networks raises it, or keys
// it on a CDN's client header.
const (
	DefaultIngestRate  = 2.0 / 3600
	DefaultIngestBurst = 4
)

// DefaultIngestRateText is DefaultIngestRate as ParseRate reads it.
const DefaultIngestRateText = "2/h"

// ParseRate reads a rate: a count per second ("2", "0.5"), or a count per
// unit ("2/h", "30/m", "5/s"). It must be positive and finite.
func ParseRate(s string) (perSecond float64, err error) {
	count, unit, per := strings.Cut(strings.TrimSpace(s), "/")
	d := time.Second
	if per {
		switch unit {
		case "s":
		case "m":
			d = time.Minute
		case "h":
			d = time.Hour
		default:
			return 0, fmt.Errorf("rate %q: the unit after / is s, m or h", s)
		}
	}
	n, err := strconv.ParseFloat(count, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("rate %q must be positive: a number, then optionally /s, /m or /h", s)
	}
	return n / d.Seconds(), nil
}
