// Package httpserver makes the http.Servers of every Chaff listener (the
// API, its ingest and admin listeners, chaff up's, the identity API, the
// journalist's web UI, the CoverNode's health endpoint, chaff bench's):
// each with every timeout set, so that a client sending a byte every few
// seconds is cut off instead of holding a connection, and with net/http's
// own messages logged without client addresses.
package httpserver

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts bound how long a connection may take over each part of its
// life (see http.Server).
type Timeouts struct {
	// ReadHeader bounds reading a request's headers; Read, the whole
	// request with its body.
	ReadHeader, Read time.Duration
	// Write bounds a response, from the end of the request's headers.
	Write time.Duration
	// Idle bounds the wait for the next request on a kept-alive
	// connection.
	Idle time.Duration
}

// DefaultTimeouts are chaff api's: generous for a phone on a slow network
// sending a few KiB, short enough that idle or trickling connections do
// not pile up.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 2 * time.Minute}

// Options configure New. Zero fields take their defaults.
type Options struct {
	// Timeouts default, field by field, to DefaultTimeouts.
	Timeouts Timeouts
	// Logger receives net/http's messages (through ErrorLog); by default
	// they are discarded.
	Logger *slog.Logger
}

// New returns a server for h with every timeout set and net/http's
// messages going to o.Logger without client addresses.
func New(h http.Handler, o Options) *http.Server {
	t, d := o.Timeouts, DefaultTimeouts
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&t.ReadHeader, d.ReadHeader}, {&t.Read, d.Read}, {&t.Write, d.Write}, {&t.Idle, d.Idle},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          ErrorLog(l),
	}
}
