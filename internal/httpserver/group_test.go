package httpserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestAdminHandler(t *testing.T) {
	var sick error
	h := AdminHandler(prometheus.NewRegistry(), func() error { return sick })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	sick = errors.New("NATS not connected")
	if code, body := get("/healthz"); code != 503 || body != "NATS not connected\n" {
		t.Fatalf("unhealthy: %d %q", code, body)
	}
	if code, _ := get("/metrics"); code != 200 {
		t.Fatalf("metrics: %d", code)
	}
}

// Serve serves every listener until ctx ends, and fails at once on an
// address it cannot listen on.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan net.Addr, 2)
	done := make(chan error, 1)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	go func() {
		done <- Serve(ctx, []Listener{{"a", "127.0.0.1:0", ok}, {"b", "127.0.0.1:0", ok}}, Options{}, func(_ string, a net.Addr) { addrs <- a })
	}()
	for range 2 {
		res, err := http.Get("http://" + (<-addrs).String())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Serve(t.Context(), []Listener{{"taken", ln.Addr().String(), ok}}, Options{}, nil); err == nil {
		t.Fatal("served on a taken address")
	}
}

// Readiness: not ready while starting, with the last failure; after Ready,
// the check's answer; a failure after Ready changes nothing.
func TestReadiness(t *testing.T) {
	var r Readiness
	if err := r.Healthy(); err == nil || err.Error() != "starting" {
		t.Fatalf("at first: %v", err)
	}
	r.Failed(errors.New("nats: no servers available for connection"))
	if err := r.Healthy(); err == nil || err.Error() != "starting: nats: no servers available for connection" {
		t.Fatalf("after a failure: %v", err)
	}
	r.Ready(nil)
	if err := r.Healthy(); err != nil {
		t.Fatalf("ready: %v", err)
	}
	r.Failed(errors.New("late"))
	if err := r.Healthy(); err != nil {
		t.Fatalf("ready, after a late failure: %v", err)
	}
	sick := errors.New("NATS not connected")
	r.Ready(func() error { return sick })
	if err := r.Healthy(); err != sick {
		t.Fatalf("ready with a check: %v", err)
	}
}
