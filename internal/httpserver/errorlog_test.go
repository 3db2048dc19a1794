package httpserver_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/chaffhq/chaff/internal/httpserver"
)

// TestErrorLogRedactsAddresses: net/http's messages reach the log
// without the client addresses they name.
func TestErrorLogRedactsAddresses(t *testing.T) {
	var buf bytes.Buffer
	l := httpserver.ErrorLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.Printf("http: TLS handshake error from 192.0.2.17:51234: EOF")
	l.Printf("http: panic serving [2001:db8::1]:443: oops")
	l.Printf("http: Accept error: too many open files; retrying in 5ms")
	out := buf.String()
	for _, addr := range []string{"192.0.2.17", "2001:db8::1", "51234"} {
		if strings.Contains(out, addr) {
			t.Errorf("%q logged:\n%s", addr, out)
		}
	}
	if strings.Count(out, "[client]") != 2 || !strings.Contains(out, "TLS handshake error") || !strings.Contains(out, "too many open files") {
		t.Errorf("log:\n%s", out)
	}
}
