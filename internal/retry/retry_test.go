package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fakeTime is a clock that only sleep moves.
type fakeTime struct {
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeTime) install(o *Options) {
	o.now = func() time.Time { return f.t }
	o.sleep = func(_ context.Context, d time.Duration) {
		f.sleeps = append(f.sleeps, d)
		f.t = f.t.Add(d)
	}
}

// TestUntilRetriesWithCappedBackoff: transient failures are retried, the
// waits double from Min up to Max (each between half and all of it), the
// log has the first failure, then a line at most every LogEvery, then the
// success; Failed sees every failure.
func TestUntilRetriesWithCappedBackoff(t *testing.T) {
	var logs bytes.Buffer
	ft := &fakeTime{t: time.Unix(1e9, 0)}
	var failed int
	o := Options{What: "the thing", Logger: slog.New(slog.NewTextHandler(&logs, nil)), Min: 100 * time.Millisecond, Max: 2 * time.Second,
		LogEvery: 10 * time.Second, Failed: func(error) { failed++ }}
	ft.install(&o)
	const failures = 40
	calls := 0
	err := Until(context.Background(), o, func(context.Context) error {
		calls++
		if calls <= failures {
			return fmt.Errorf("creating a stream: %w", context.DeadlineExceeded)
		}
		return nil
	})
	if err != nil || calls != failures+1 || failed != failures {
		t.Fatalf("err %v after %d calls, %d reported", err, calls, failed)
	}
	want := 100 * time.Millisecond
	for i, d := range ft.sleeps {
		if d < want/2 || d > want {
			t.Fatalf("wait %d is %s, not within [%s, %s]", i, d, want/2, want)
		}
		want = min(2*want, 2*time.Second)
	}
	if want != 2*time.Second {
		t.Fatalf("the waits never reached the cap: %v", ft.sleeps)
	}
	var total time.Duration
	for _, d := range ft.sleeps {
		total += d
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	// The first failure, one line per 10 s of failures at most, the success.
	if most := 2 + int(total/(10*time.Second)); len(lines) < 3 || len(lines) > most {
		t.Fatalf("%d log lines for %d failures over %s (want 3 to %d):\n%s", len(lines), failures, total, most, logs.String())
	}
	if !strings.Contains(lines[0], "the thing not ready") || !strings.Contains(lines[1], "still not ready") || !strings.Contains(lines[len(lines)-1], "the thing ready") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// TestUntilStopsOnPermanentError: an error Retryable refuses ends Until
// at once, returned as is.
func TestUntilStopsOnPermanentError(t *testing.T) {
	ft := &fakeTime{}
	o := Options{}
	ft.install(&o)
	bad := errors.New("this CoverNode has no identity key yet")
	calls := 0
	err := Until(context.Background(), o, func(context.Context) error { calls++; return bad })
	if err != bad || calls != 1 || len(ft.sleeps) != 0 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// TestUntilStopsWithContext: when ctx ends while retrying, Until returns
// an error that wraps ctx's and says what it waited for and the last
// failure.
func TestUntilStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Until(ctx, Options{What: "NATS JetStream", Min: time.Millisecond}, func(context.Context) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nats.ErrNoServers
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped before NATS JetStream was ready (3 attempts") ||
		!strings.Contains(err.Error(), nats.ErrNoServers.Error()) {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	// Ended before the first attempt.
	if err := Until(ctx, Options{What: "x"}, func(context.Context) error { t.Fatal("called"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestUntilBoundsAttempts: an attempt that hangs is ended after Attempt
// and retried.
func TestUntilBoundsAttempts(t *testing.T) {
	calls := 0
	err := Until(context.Background(), Options{Attempt: 10 * time.Millisecond, Min: time.Millisecond}, func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("stream CHAFF_U2C: %w", context.DeadlineExceeded), true},
		{nats.ErrTimeout, true},
		{fmt.Errorf("connecting to NATS at x: %w", nats.ErrNoServers), true},
		{nats.ErrNoResponders, true},
		{jetstream.ErrJetStreamNotEnabled, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10023, Description: "insufficient resources"}, true},
		{&apiclient.Error{Status: 502}, true},
		{&apiclient.Error{Status: 503}, true},
		{&apiclient.Error{Status: 429}, true},
		{fmt.Errorf("cannot reach the API at x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{syscall.ECONNRESET, true},
		{io.ErrUnexpectedEOF, true},
		{&net.DNSError{Err: "no such host", Name: "api", IsNotFound: true}, true},

		{nil, false},
		{context.Canceled, false},
		{errors.New("this CoverNode has no identity key yet: give it the setup bundle"), false},
		{&apiclient.Error{Status: 400, Message: "bad"}, false},
		{&apiclient.Error{Status: 409}, false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"}, false},
		{errors.New(`unsupported protocol scheme "htp"`), false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v", c.err, got)
		}
	}
}
