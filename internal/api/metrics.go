package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// metrics are counts and latencies per route, never per client. The
// names are defined in package telemetry.
type metrics struct {
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	appended       *prometheus.CounterVec
	published      *prometheus.CounterVec
	ingestLatency  *prometheus.HistogramVec
	ingestFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, error) {
	m := &metrics{
		requests:       telemetry.APIRequests.CounterVec(),
		latency:        telemetry.APILatency.HistogramVec(telemetry.LatencyBuckets),
		appended:       telemetry.Appended.CounterVec(),
		published:      telemetry.Stored.CounterVec(),
		ingestLatency:  telemetry.IngestLatency.HistogramVec(telemetry.LatencyBuckets),
		ingestFailures: telemetry.IngestFailures.CounterVec(),
	}
	// Every series of a closed label set exists from the start, so that
	// rates and alerts see zeros rather than nothing.
	for _, dir := range []string{"u2c", "j2c"} {
		m.appended.WithLabelValues(dir)
		m.ingestFailures.WithLabelValues(dir)
		m.ingestLatency.WithLabelValues(dir)
	}
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		m.published.WithLabelValues(kind.String())
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.appended, m.published, m.ingestLatency, m.ingestFailures, stateCollector{s}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// appendTimed appends one message through appendFn and records how long
// it took, or that it failed, for the direction (u2c or j2c).
func (s *Server) appendTimed(ctx context.Context, direction string, appendFn func(context.Context, []byte) error, msg []byte) error {
	start := time.Now()
	err := appendFn(ctx, msg)
	if err != nil {
		s.metrics.ingestFailures.WithLabelValues(direction).Inc()
		return err
	}
	s.metrics.ingestLatency.WithLabelValues(direction).Observe(time.Since(start).Seconds())
	s.metrics.appended.WithLabelValues(direction).Inc()
	return nil
}

// stateCollector reports, at each scrape, the age of the newest dead drop
// of each kind and the expiry and renewal dates of the newest published
// key of each role and owner (journalist or CoverNode id). All of it is
// public data, the same for every reader.
type stateCollector struct{ s *Server }

var (
	deadDropAgeDesc = telemetry.DeadDropAge.Desc()
	keyExpiryDesc   = telemetry.KeyExpiry.Desc()
	keyRenewalDesc  = telemetry.KeyRenewal.Desc()
)

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deadDropAgeDesc
	ch <- keyExpiryDesc
	ch <- keyRenewalDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	now := s.cfg.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for kind, x := range s.deadDrops {
		_, last := x.bounds(ctx)
		if last == 0 {
			continue // none yet
		}
		r, err := x.get(ctx, last)
		if err != nil {
			s.log.Warn("metrics: reading the newest dead drop", "kind", kind.String(), "err", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(deadDropAgeDesc, prometheus.GaugeValue, now.Sub(r.createdAt).Seconds(), kind.String())
	}
	v := s.hierarchy().verified
	if v == nil {
		return
	}
	for _, k := range v.Newest() {
		ch <- prometheus.MustNewConstMetric(keyExpiryDesc, prometheus.GaugeValue, k.NotValidAfter.Sub(now).Seconds(), k.Role.String(), k.Owner)
		if due, ok := k.RenewalDue(); ok {
			ch <- prometheus.MustNewConstMetric(keyRenewalDesc, prometheus.GaugeValue, due.Sub(now).Seconds(), k.Role.String(), k.Owner)
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts and times a route, recovers from panics with a 500,
// and logs requests at debug level without addresses or bodies.
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panic", "route", route, "panic", p)
				if rec.code == 0 {
					writeError(rec, http.StatusInternalServerError, apiclient.MsgInternal)
				}
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			s.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
			s.log.Debug("request", "route", route, "status", code, "duration", d)
		}()
		h(rec, r)
	})
}

// clientLimiter is a token bucket per client address, forgotten after a
// few minutes of silence. Addresses live only in memory.
type clientLimiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	return &clientLimiter{rate: rate.Limit(perSecond), burst: burst, clients: map[string]*clientBucket{}}
}

func (l *clientLimiter) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		// A client is forgotten only once its bucket has filled up again:
		// forgetting it sooner would hand it a fresh burst.
		idle := max(5*time.Minute, time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)))
		for k, c := range l.clients {
			if now.Sub(c.seen) > idle {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	c, ok := l.clients[client]
	if !ok {
		c = &clientBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[client] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}

func (s *Server) clientKey(r *http.Request) string {
	if h := s.cfg.ClientIPHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
