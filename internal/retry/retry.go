// Package retry waits for what a process needs before it can serve: a
// NATS cluster that is still electing leaders, an API with no replica
// answering yet. A daemon that exits instead makes its supervisor restart
// it in a loop (systemd, Kubernetes), each restart paying the whole start
// again; retrying in the process, with a capped back-off and a log line
// now and then, becomes ready as soon as the dependency is.
package retry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"syscall"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Options.
const (
	DefaultMin      = 250 * time.Millisecond
	DefaultMax      = 10 * time.Second
	DefaultLogEvery = 30 * time.Second
)

// Options configure Until. Zero fields take their defaults.
type Options struct {
	// What is waited for, for the log and the final error ("NATS
	// JetStream", "the API").
	What string
	// Logger receives the first failure at once, then one line at most
	// every LogEvery while failures go on, and one when it succeeds
	// after failing. Nil discards them.
	Logger *slog.Logger
	// Min and Max bound the wait between attempts, which doubles from Min
	// up to Max (each wait drawn between half and all of it, so that
	// replicas started together do not retry in step).
	Min, Max time.Duration
	LogEvery time.Duration
	// Attempt bounds one attempt: its context ends then (0: no bound).
	Attempt time.Duration
	// Retryable reports whether an error is worth another attempt; others
	// end Until at once. Nil means Transient.
	Retryable func(error) bool
	// Failed, if set, is called with each failed attempt's error (a
	// readiness endpoint reports it).
	Failed func(error)

	// sleep waits d or until ctx ends (tests replace it).
	sleep func(ctx context.Context, d time.Duration)
	// now is the clock for LogEvery (tests replace it).
	now func() time.Time
}

// Until calls op until it returns nil, an error Retryable refuses (which
// it returns), or ctx ends. When ctx ends first it returns an error that
// says what it was waiting for, for how long, and the last failure, and
// that wraps ctx's error.
func Until(ctx context.Context, o Options, op func(ctx context.Context) error) error {
	o.defaults()
	start := o.now()
	var last error
	var lastLog time.Time
	wait := o.Min
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return o.stopped(ctx, attempt-1, start, last)
		}
		err := o.once(ctx, op)
		if err == nil {
			if last != nil {
				o.Logger.Info(o.What+" ready", "attempts", attempt, "waited", o.now().Sub(start).Round(time.Millisecond).String())
			}
			return nil
		}
		if ctx.Err() != nil {
			if last == nil {
				last = err
			}
			return o.stopped(ctx, attempt, start, last)
		}
		if !o.Retryable(err) {
			return err
		}
		last = err
		if o.Failed != nil {
			o.Failed(err)
		}
		switch now := o.now(); {
		case attempt == 1:
			o.Logger.Warn(o.What+" not ready; retrying until it is", "err", err)
			lastLog = now
		case now.Sub(lastLog) >= o.LogEvery:
			o.Logger.Warn(o.What+" still not ready; retrying", "attempts", attempt, "waited", now.Sub(start).Round(time.Second).String(), "err", err)
			lastLog = now
		}
		o.sleep(ctx, jitter(wait))
		wait = min(2*wait, o.Max)
	}
}

func (o *Options) defaults() {
	if o.What == "" {
		o.What = "a dependency"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Min <= 0 {
		o.Min = DefaultMin
	}
	if o.Max <= 0 {
		o.Max = DefaultMax
	}
	o.Max = max(o.Max, o.Min)
	if o.LogEvery <= 0 {
		o.LogEvery = DefaultLogEvery
	}
	if o.Retryable == nil {
		o.Retryable = Transient
	}
	if o.sleep == nil {
		o.sleep = sleep
	}
	if o.now == nil {
		o.now = time.Now
	}
}

// errAttemptTimeout ends an attempt that took longer than Options.Attempt.
var errAttemptTimeout = errors.New("attempt timed out")

// once runs one attempt, within o.Attempt when it is set.
func (o *Options) once(ctx context.Context, op func(context.Context) error) error {
	if o.Attempt <= 0 {
		return op(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, o.Attempt, errAttemptTimeout)
	defer cancel()
	err := op(actx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) {
		return fmt.Errorf("no success within %s: %w (%w)", o.Attempt, err, context.DeadlineExceeded)
	}
	return err
}

// stopped is Until's error when ctx ended before op succeeded.
func (o *Options) stopped(ctx context.Context, attempts int, start time.Time, last error) error {
	waited := o.now().Sub(start).Round(time.Millisecond)
	if last == nil {
		return fmt.Errorf("stopped before %s was ready: %w", o.What, context.Cause(ctx))
	}
	return fmt.Errorf("stopped before %s was ready (%d attempts in %s; the last: %v): %w", o.What, attempts, waited, last, context.Cause(ctx))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// jitter draws a wait between d/2 and d.
func jitter(d time.Duration) time.Duration {
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	n, err := rand.Int(rand.Reader, big.NewInt(half+1))
	if err != nil {
		return d
	}
	return time.Duration(half + n.Int64())
}

// Transient reports whether err is one a later attempt may not meet: the
// network (a refused connection, a timeout), NATS without a server or a
// responder, JetStream answering that it cannot serve now (a 5xx API
// error: no leader elected yet, not enough peers), an API answering 5xx
// or 429 (a load balancer with no replica behind it answers 502).
// Anything else (a refused key, a malformed answer, a configuration a
// server rejects) is not.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{
		context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoServers, nats.ErrNoResponders,
		nats.ErrConnectionClosed, nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrStaleConnection,
		jetstream.ErrNoStreamResponse, jetstream.ErrServerShutdown, jetstream.ErrAsyncPublishTimeout,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	if je := jetstream.JetStreamError(nil); errors.As(err, &je) && je.APIError() != nil && je.APIError().Code >= 500 {
		return true
	}
	if ae := (*jetstream.APIError)(nil); errors.As(err, &ae) && ae.Code >= 500 {
		return true
	}
	if s := apiclient.StatusOf(err); s >= 500 || s == 429 {
		return true
	}
	// The network: a refused or reset connection, a name not (yet)
	// resolved, a connection closed mid-answer (a replica killed), a
	// timeout. (A malformed URL is none of these.)
	var oe *net.OpError
	var de *net.DNSError
	var ne net.Error
	return errors.As(err, &oe) || errors.As(err, &de) || errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
