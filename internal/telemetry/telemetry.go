// Package telemetry names every metric Chaff exports, once: the API and the
// CoverNode build their collectors from these definitions, the listener
// test checks that what they serve is exactly this list, and the alert
// rules and dashboard under deploy/ are checked against it.
//
// The metrics are for running a newsroom and reveal no reader: counts,
// latencies and ages per route, direction, kind, stream, key role and
// owner (a journalist or CoverNode id), never per client, message or
// reader, and never how many of the inputs were real.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Type is a metric's Prometheus type.
type Type int

const (
	Counter Type = iota
	Gauge
	Histogram
)

// Label names. Each has a closed set of values that say nothing about a
// reader (see the listener test).
const (
	LabelRoute     = "route"     // a route pattern of the API's mux
	LabelCode      = "code"      // an HTTP status code
	LabelDirection = "direction" // u2c, j2c (ingest); u2j, j2u (CoverNode)
	LabelKind      = "kind"      // a dead-drop kind: user, journalist
	LabelRole      = "role"      // a key role (upstream's entity name)
	LabelOwner     = "owner"     // a journalist or CoverNode id; empty for organisation keys
	LabelStream    = "stream"    // a JetStream stream name
	LabelConsumer  = "consumer"  // a JetStream durable consumer name
	LabelBound     = "bound"     // min or max
	LabelLeg       = "leg"       // a canary leg: to_journalist, round_trip
)

// Metric is one metric family.
type Metric struct {
	Name   string
	Help   string
	Type   Type
	Labels []string
}

// The API's metrics, on `chaff api --admin-listen`.
var (
	APIRequests = Metric{"chaff_api_requests_total", "HTTP requests by route and status code.", Counter, []string{LabelRoute, LabelCode}}
	APILatency  = Metric{"chaff_api_request_duration_seconds", "HTTP request latency by route.", Histogram, []string{LabelRoute}}
	Appended    = Metric{"chaff_api_messages_appended_total", "Messages durably appended for the CoverNodes, by direction.", Counter, []string{LabelDirection}}
	Stored      = Metric{"chaff_api_dead_drops_stored_total", "Dead drops stored, by kind.", Counter, []string{LabelKind}}
	// IngestLatency is how long a message's durable append took (real and
	// cover alike: the API cannot tell them apart).
	IngestLatency  = Metric{"chaff_ingest_append_duration_seconds", "Time to durably append a message to its stream, by direction.", Histogram, []string{LabelDirection}}
	IngestFailures = Metric{"chaff_ingest_append_failures_total", "Messages whose durable append failed (answered 500), by direction.", Counter, []string{LabelDirection}}
	DeadDropAge    = Metric{"chaff_dead_drop_age_seconds", "Seconds since the newest dead drop of each kind was made.", Gauge, []string{LabelKind}}
	KeyExpiry      = Metric{"chaff_key_expiry_seconds", "Seconds until the newest published key of each role and owner expires.", Gauge, []string{LabelRole, LabelOwner}}
	KeyRenewal     = Metric{"chaff_key_renewal_due_seconds", "Seconds until the newest organisation or provisioning key is due for renewal (negative: overdue).", Gauge, []string{LabelRole, LabelOwner}}
)

// The CoverNode's metrics, on `chaff covernode --admin-listen`.
var (
	CoverNodeInputs = Metric{"chaff_covernode_inputs_total", "Messages taken from the streams, by direction (real and cover alike).", Counter, []string{LabelDirection}}
	// CoverNodeUnopened counts inputs that none of the node's messaging
	// keys opens. Cover opens like real, so this says nothing of which
	// inputs were real; it rises when senders seal to keys the node lacks
	// (a view of the published keys fetched before the node published
	// its own) or send garbage. Such an input is handed back to JetStream
	// for another CoverNode while one is published, up to a bound of
	// deliveries (it may be counted by several nodes); a node whose every
	// input is unopened does no work for its senders.
	CoverNodeUnopened = Metric{"chaff_covernode_unopened_inputs_total", "Inputs (deliveries) no messaging key of this node opens, by direction (real and cover alike: sealed to other keys, or garbage); handed on to another CoverNode or given up.", Counter, []string{LabelDirection}}
	// CoverNodeUnopenedDropped counts the unopened inputs a node gave up
	// and took as cover: delivered as often as the bound allows, or with
	// no other CoverNode published. Garbage ends here; so would a genuine
	// input sealed to keys no running node holds, which is lost.
	CoverNodeUnopenedDropped = Metric{"chaff_covernode_unopened_dropped_total", "Inputs no CoverNode opened within the bound of deliveries (or with no other CoverNode published), taken as cover, by direction (real and cover alike).", Counter, []string{LabelDirection}}
	CoverNodePublished       = Metric{"chaff_covernode_dead_drops_published_total", "Dead drops published, by direction.", Counter, []string{LabelDirection}}
	CoverNodeRetries         = Metric{"chaff_covernode_post_retries_total", "Failed dead-drop posts that were retried, by direction.", Counter, []string{LabelDirection}}
	// MixWaiting counts inputs seen since the last release, real and cover
	// alike: how close the next release is, never how many are real.
	MixWaiting   = Metric{"chaff_covernode_mix_inputs_waiting", "Inputs (real and cover alike) seen since the last release, by direction.", Gauge, []string{LabelDirection}}
	MixThreshold = Metric{"chaff_covernode_mix_threshold", "The mixing thresholds (bound min or max), by direction.", Gauge, []string{LabelDirection, LabelBound}}
	MixTimeout   = Metric{"chaff_covernode_mix_timeout_seconds", "The mixing timeout, by direction.", Gauge, []string{LabelDirection}}
	RoundLatency = Metric{"chaff_covernode_round_duration_seconds", "Time to build, sign, log and post one dead drop, by direction.", Histogram, []string{LabelDirection}}
	StreamDepth  = Metric{"chaff_jetstream_stream_messages", "Messages held in each message stream (taken ones are removed).", Gauge, []string{LabelStream}}
	ConsumerLag  = Metric{"chaff_jetstream_consumer_pending_messages", "Messages of each stream not yet delivered to the CoverNodes' consumer.", Gauge, []string{LabelStream, LabelConsumer}}
	ConsumerAcks = Metric{"chaff_jetstream_consumer_ack_pending_messages", "Messages delivered to the CoverNodes' consumer and not yet acknowledged.", Gauge, []string{LabelStream, LabelConsumer}}
)

// The canary's metrics, on `chaff canary --admin-listen`: one synthetic
// reader and one canary journalist, so nothing here is about a reader.
var (
	CanarySuccesses   = Metric{"chaff_canary_successes_total", "Canary round trips (reader to canary journalist and back) completed within the deadline.", Counter, nil}
	CanaryFailures    = Metric{"chaff_canary_failures_total", "Canary round trips that did not complete within the deadline.", Counter, nil}
	CanaryLatency     = Metric{"chaff_canary_latency_seconds", "Time from queueing the canary message to the canary journalist receiving it (leg to_journalist) and to the reader receiving the reply (leg round_trip).", Histogram, []string{LabelLeg}}
	CanaryLastSuccess = Metric{"chaff_canary_last_success_timestamp_seconds", "Unix time of the last successful canary round trip (0: none since the canary started).", Gauge, nil}
)

// API, CoverNode and Canary list each listener's metrics.
var (
	API       = []Metric{APIRequests, APILatency, Appended, Stored, IngestLatency, IngestFailures, DeadDropAge, KeyExpiry, KeyRenewal}
	CoverNode = []Metric{CoverNodeInputs, CoverNodeUnopened, CoverNodeUnopenedDropped, CoverNodePublished, CoverNodeRetries, MixWaiting, MixThreshold, MixTimeout, RoundLatency, StreamDepth, ConsumerLag, ConsumerAcks}
	Canary    = []Metric{CanarySuccesses, CanaryFailures, CanaryLatency, CanaryLastSuccess}
)

// All is every metric Chaff exports besides the Go runtime's and the
// process's (go_*, process_*).
func All() []Metric { return append(append(append([]Metric{}, API...), CoverNode...), Canary...) }

// Series returns the names a scrape shows for m: a histogram's _bucket,
// _sum and _count, or the name itself.
func (m Metric) Series() []string {
	if m.Type == Histogram {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// Desc describes m for a custom collector.
func (m Metric) Desc() *prometheus.Desc { return prometheus.NewDesc(m.Name, m.Help, m.Labels, nil) }

// CounterVec, GaugeVec and HistogramVec make m's collector.
func (m Metric) CounterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.Name, Help: m.Help}, m.Labels)
}

func (m Metric) GaugeVec() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: m.Name, Help: m.Help}, m.Labels)
}

func (m Metric) HistogramVec(buckets []float64) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: m.Name, Help: m.Help, Buckets: buckets}, m.Labels)
}

// CanaryBuckets are the buckets of canary latencies: 1 s to about 9 h
// (production mixing releases at least hourly in each direction).
var CanaryBuckets = prometheus.ExponentialBuckets(1, 2, 16)

// LatencyBuckets are the buckets of the request and append latencies:
// 0.5 ms to about 4 s.
var LatencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 14)

// RoundBuckets are the buckets of CoverNode round durations: 10 ms to
// about 80 s (a round posts with retries).
var RoundBuckets = prometheus.ExponentialBuckets(0.01, 2, 14)
