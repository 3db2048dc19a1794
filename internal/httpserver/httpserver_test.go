package httpserver_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/internal/testnet"
)

// serve runs hs on a loopback port until the test ends.
func serve(t *testing.T, hs *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

var short = httpserver.Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond, Write: time.Second, Idle: 600 * time.Millisecond}

// readsBody reads every request's body, as the ingest does.
var readsBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })

// TestSlowClientCutOff: a client trickling its request's headers, or its
// body, or keeping an idle connection, is cut off by a server from New.
// Negative control: a server without timeouts keeps each one for as long
// as the client likes.
func TestSlowClientCutOff(t *testing.T) {
	const limit = 4 * time.Second
	hardened := serve(t, httpserver.New(readsBody, httpserver.Options{Timeouts: short}))
	bare := serve(t, &http.Server{Handler: readsBody})

	if held, closed := testnet.SlowClient(t, hardened, 100*time.Millisecond, limit); !closed {
		t.Errorf("trickled headers: held for %v", held)
	}
	if held, closed := testnet.SlowClient(t, bare, 100*time.Millisecond, 2*time.Second); closed {
		t.Errorf("negative control: a server without timeouts closed a trickling client after %v", held)
	}
	for _, c := range []struct {
		name, start string
		trickle     bool
	}{
		{"trickled body", "POST / HTTP/1.1\r\nHost: chaff\r\nContent-Length: 100000\r\n\r\n", true},
		{"idle connection", "GET / HTTP/1.1\r\nHost: chaff\r\n\r\n", false},
	} {
		if held, closed := slowAfter(t, hardened, c.start, c.trickle, limit); !closed {
			t.Errorf("%s: held for %v", c.name, held)
		}
		if held, closed := slowAfter(t, bare, c.start, c.trickle, 2*time.Second); closed {
			t.Errorf("negative control, %s: a server without timeouts closed after %v", c.name, held)
		}
	}
}

// slowAfter sends start at once, then (trickle) a byte every 100ms or
// nothing, until the server closes the connection or limit passes.
func slowAfter(t *testing.T, addr, start string, trickle bool, limit time.Duration) (time.Duration, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, start); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // a response, if any, then the close
		close(gone)
	}()
	for time.Since(begin) < limit {
		select {
		case <-gone:
			return time.Since(begin), true
		case <-time.After(100 * time.Millisecond):
		}
		if trickle {
			c.Write([]byte{'x'})
		}
	}
	return time.Since(begin), false
}

// TestNewDefaults: every timeout is set, field by field from
// DefaultTimeouts where the options leave it zero, and net/http's
// messages have a logger.
func TestNewDefaults(t *testing.T) {
	d := httpserver.DefaultTimeouts
	hs := httpserver.New(readsBody, httpserver.Options{})
	if hs.ReadHeaderTimeout != d.ReadHeader || hs.ReadTimeout != d.Read || hs.WriteTimeout != d.Write || hs.IdleTimeout != d.Idle || hs.ErrorLog == nil {
		t.Errorf("defaults: %+v", hs)
	}
	for _, v := range []time.Duration{d.ReadHeader, d.Read, d.Write, d.Idle} {
		if v <= 0 {
			t.Fatal("a default timeout is not set")
		}
	}
	hs = httpserver.New(readsBody, httpserver.Options{Timeouts: httpserver.Timeouts{ReadHeader: time.Second}})
	if hs.ReadHeaderTimeout != time.Second || hs.ReadTimeout != d.Read || hs.WriteTimeout != d.Write || hs.IdleTimeout != d.Idle {
		t.Errorf("one option: %+v", hs)
	}
}
