package covernode

import (
	"context"
	"time"

	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/mix"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The directions' names, in metrics, logs and round-log file names.
const (
	dirU2J = "u2j"
	dirJ2U = "j2u"
)

// nodeMetrics are the CoverNode's metrics (names in package telemetry):
// inputs taken, inputs no key of the node opens and those of them given up, dead drops published, post retries, how many inputs (real
// and cover alike) wait for the next release beside the thresholds, round
// durations, and the message streams' depth and consumer lag. Nothing says
// how many inputs were real: that is the secret the node keeps.
type nodeMetrics struct {
	inputs, unopened, dropped, published, retries *prometheus.CounterVec
	waiting                                       *prometheus.GaugeVec
	rounds                                        *prometheus.HistogramVec
}

func newNodeMetrics(reg prometheus.Registerer, js jetstream.JetStream, params map[string]mix.Params) (*nodeMetrics, error) {
	m := &nodeMetrics{
		inputs:    telemetry.CoverNodeInputs.CounterVec(),
		unopened:  telemetry.CoverNodeUnopened.CounterVec(),
		dropped:   telemetry.CoverNodeUnopenedDropped.CounterVec(),
		published: telemetry.CoverNodePublished.CounterVec(),
		retries:   telemetry.CoverNodeRetries.CounterVec(),
		waiting:   telemetry.MixWaiting.GaugeVec(),
		rounds:    telemetry.RoundLatency.HistogramVec(telemetry.RoundBuckets),
	}
	if reg == nil {
		return m, nil
	}
	thresholds, timeouts := telemetry.MixThreshold.GaugeVec(), telemetry.MixTimeout.GaugeVec()
	for dir, p := range params {
		thresholds.WithLabelValues(dir, "min").Set(float64(p.ThresholdMin))
		thresholds.WithLabelValues(dir, "max").Set(float64(p.ThresholdMax))
		timeouts.WithLabelValues(dir).Set(p.Timeout.Seconds())
		m.waiting.WithLabelValues(dir).Set(0)
		// Every series exists from the start, so that rates see zeros.
		m.inputs.WithLabelValues(dir)
		m.unopened.WithLabelValues(dir)
		m.dropped.WithLabelValues(dir)
		m.published.WithLabelValues(dir)
		m.retries.WithLabelValues(dir)
		m.rounds.WithLabelValues(dir)
	}
	for _, c := range []prometheus.Collector{m.inputs, m.unopened, m.dropped, m.published, m.retries, m.waiting, m.rounds, thresholds, timeouts, streamCollector{js}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// streamCollector reports, at each scrape, how many messages each message
// stream holds and how many the CoverNodes' consumer has yet to take or to
// acknowledge: whole-stream counts, the same whatever the messages are.
type streamCollector struct{ js jetstream.JetStream }

var (
	streamDepthDesc  = telemetry.StreamDepth.Desc()
	consumerLagDesc  = telemetry.ConsumerLag.Desc()
	consumerAcksDesc = telemetry.ConsumerAcks.Desc()
)

func (streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamDepthDesc
	ch <- consumerLagDesc
	ch <- consumerAcksDesc
}

func (c streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{store.StreamU2C, store.StreamJ2C} {
		st, err := c.js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(streamDepthDesc, prometheus.GaugeValue, float64(info.State.Msgs), name)
		cons, err := st.Consumer(ctx, ConsumerName)
		if err != nil {
			continue // not made yet
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(consumerLagDesc, prometheus.GaugeValue, float64(ci.NumPending), name, ConsumerName)
		ch <- prometheus.MustNewConstMetric(consumerAcksDesc, prometheus.GaugeValue, float64(ci.NumAckPending), name, ConsumerName)
	}
}
