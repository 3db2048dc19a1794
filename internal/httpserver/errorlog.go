package httpserver

import (
	"log"
	"log/slog"
	"regexp"
	"strings"
)

// ErrorLog is an http.Server's ErrorLog for Chaff's listeners (New sets
// it): it hands net/http's own messages (a failed TLS handshake, an
// accept error, a malformed request it answered itself) to the structured
// log, with the client addresses that some of them carry replaced.
// Clients' addresses are never logged.
func ErrorLog(l *slog.Logger) *log.Logger {
	return log.New(addressRedactor{l}, "", 0)
}

// clientAddress matches an IPv4 or bracketed IPv6 address with its port,
// as net/http prints a peer.
var clientAddress = regexp.MustCompile(`(\[[0-9A-Fa-f:.%a-zA-Z]+\]|\d{1,3}(\.\d{1,3}){3}):\d+`)

type addressRedactor struct{ l *slog.Logger }

func (w addressRedactor) Write(p []byte) (int, error) {
	w.l.Warn("http server", "detail", clientAddress.ReplaceAllString(strings.TrimSpace(string(p)), "[client]"))
	return len(p), nil
}
