package testnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// Balancer is a load balancer on loopback in front of API replicas, as a
// deployment puts one (or a CDN) in front of its `chaff api` processes:
// each request goes to the next replica in turn, and to the one after
// when a replica refuses the connection (it is down), so that a replica
// killed or restarting is passed over. A request a replica drops midway
// is answered 502, as a real balancer answers it: it may or may not have
// been handled.
type Balancer struct {
	URL      string
	backends []*url.URL
	next     atomic.Uint64
	// Failovers counts requests passed on because a replica refused the
	// connection.
	Failovers atomic.Int64
}

// StartBalancer starts a balancer in front of the replicas at urls.
func StartBalancer(t testing.TB, urls ...string) *Balancer {
	t.Helper()
	b := &Balancer{}
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		b.backends = append(b.backends, p)
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) {}, // the URL is set by the transport
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) { return b.roundTrip(tr, r) }),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	t.Cleanup(tr.CloseIdleConnections)
	b.URL = srv.URL
	return b
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// roundTrip sends r to the replicas in turn, starting with the next one,
// passing over those that refuse the connection.
func (b *Balancer) roundTrip(tr *http.Transport, r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	first := b.next.Add(1)
	var err error
	for i := range uint64(len(b.backends)) {
		be := b.backends[(first+i)%uint64(len(b.backends))]
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host = be.Scheme, be.Host, be.Host
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		var res *http.Response
		if res, err = tr.RoundTrip(out); err == nil {
			return res, nil
		}
		if !refused(err) {
			return nil, err
		}
		b.Failovers.Add(1)
	}
	return nil, err
}

// refused reports whether err is a replica refusing the connection, so
// that the request never reached it.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
