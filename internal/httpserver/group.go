package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Listener is one of a process's listeners.
type Listener struct {
	Name, Addr string
	Handler    http.Handler
}

// ShutdownGrace bounds how long Serve waits for requests in flight once
// it stops.
const ShutdownGrace = 30 * time.Second

// Serve listens on every listener (calling listening with each one's
// address), serves them with servers made by New(…, o) until ctx ends or
// one fails, then shuts them all down, finishing the requests in flight
// within ShutdownGrace. It returns the first server's failure, if any.
func Serve(ctx context.Context, ls []Listener, o Options, listening func(name string, addr net.Addr)) error {
	var running []*http.Server
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		for _, hs := range running {
			hs.Shutdown(sctx)
		}
	}()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", l.Name, err)
		}
		hs := New(l.Handler, o)
		running = append(running, hs)
		if listening != nil {
			listening(l.Name, ln.Addr())
		}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", l.Name, err)
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// AdminHandler serves a process's private endpoints: GET /metrics from
// reg, and GET /healthz, which answers 503 with healthy's error while it
// returns one (healthy may be nil).
func AdminHandler(reg prometheus.Gatherer, healthy func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if healthy != nil {
			if err := healthy(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Readiness is what a process's GET /healthz says (AdminHandler's healthy
// is its Healthy): not ready while it starts, with the last failure it
// met, which Failed records; after Ready, what the check given to Ready
// says. The zero value is starting.
type Readiness struct {
	mu    sync.Mutex
	ready bool
	check func() error // after Ready; nil is healthy
	last  error        // the last failure while starting
}

// Failed records err, met while starting (retry.Options.Failed).
func (r *Readiness) Failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = err
}

// Ready ends the start: Healthy is check's answer from now on (check may
// be nil: healthy).
func (r *Readiness) Ready(check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready, r.check = true, check
}

// Healthy reports an error while starting, and check's after Ready.
func (r *Readiness) Healthy() error {
	r.mu.Lock()
	ready, check, last := r.ready, r.check, r.last
	r.mu.Unlock()
	switch {
	case ready && check != nil:
		return check()
	case ready:
		return nil
	case last != nil:
		return fmt.Errorf("starting: %v", last)
	default:
		return errors.New("starting")
	}
}
