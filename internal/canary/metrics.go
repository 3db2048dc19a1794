package canary

import (
	"context"
	"errors"
	"time"

	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the canary's metrics (telemetry.Canary): counts of rounds
// that succeeded and failed, their latencies and the time of the last
// success. They describe the canary's own messages only.
type Metrics struct {
	Registry            *prometheus.Registry
	successes, failures prometheus.Counter
	latency             *prometheus.HistogramVec
	lastSuccess         prometheus.Gauge
}

// NewMetrics makes the canary's metrics in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	sv, fv := telemetry.CanarySuccesses.CounterVec(), telemetry.CanaryFailures.CounterVec()
	m.latency = telemetry.CanaryLatency.HistogramVec(telemetry.CanaryBuckets)
	lv := telemetry.CanaryLastSuccess.GaugeVec()
	m.Registry.MustRegister(sv, fv, m.latency, lv)
	m.successes, m.failures, m.lastSuccess = sv.WithLabelValues(), fv.WithLabelValues(), lv.WithLabelValues()
	return m
}

// observe records one round; a round cut short by its caller (the
// canary stopping) is neither.
func (m *Metrics) observe(res Result, err error) {
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		m.failures.Inc()
	default:
		m.successes.Inc()
		m.latency.WithLabelValues("to_journalist").Observe(res.ToJournalist.Seconds())
		m.latency.WithLabelValues("round_trip").Observe(res.RoundTrip.Seconds())
		m.lastSuccess.Set(float64(time.Now().Unix()))
	}
}

// Metrics returns the canary's metrics.
func (c *Canary) Metrics() *Metrics { return c.metrics }
