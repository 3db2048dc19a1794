package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/internal/natsconn"
	"github.com/chaffhq/chaff/internal/retry"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const apiUsage = `usage: chaff api --anchor ORG.pub.json [flags]

Serves the public API and the message ingest. State lives in NATS
JetStream: an embedded server with its files in --data-dir, or a cluster
with --nats. Until NATS answers and the streams and buckets are set up
(a cluster may be electing leaders) it keeps trying, /healthz on
--admin-listen answering 503; the API listens once it can serve. Stops
gracefully on SIGINT or SIGTERM, finishing every request in flight.

flags:
`

// registerNATS registers the flags that select the JetStream a command
// runs on.
func registerNATS(fs *flag.FlagSet, c *natsconn.Config) {
	fs.StringVar(&c.URL, "nats", "", "URL of an external NATS cluster (default: an embedded server)")
	fs.StringVar(&c.Creds, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&c.TokenFile, "nats-token-file", "", "file holding the token to present to NATS (an embedded server's --nats-listen-token-file)")
	fs.StringVar(&c.CA, "nats-tls-ca", "", "CA certificate to verify the NATS servers with")
	fs.StringVar(&c.Cert, "nats-tls-cert", "", "client certificate for NATS (with --nats-tls-key)")
	fs.StringVar(&c.Key, "nats-tls-key", "", "client key for NATS")
	fs.StringVar(&c.DataDir, "data-dir", "chaff-data", "where the embedded NATS server keeps its files")
	fs.StringVar(&c.Listen, "nats-listen", "", "let other processes reach the embedded NATS server at this host:port (default: in-process only); they present the token in --nats-listen-token-file, and beyond loopback need TLS")
	fs.StringVar(&c.ListenTokenFile, "nats-listen-token-file", "", "the token --nats-listen requires of every client (default DATA-DIR/"+natsconn.ListenTokenFile+", created if missing)")
	fs.StringVar(&c.ListenCert, "nats-listen-tls-cert", "", "TLS certificate of --nats-listen (required beyond loopback, with --nats-listen-tls-key)")
	fs.StringVar(&c.ListenKey, "nats-listen-tls-key", "", "TLS key of --nats-listen")
	fs.IntVar(&c.Replicas, "replicas", 0, "replicas of each stream and bucket (default 1 embedded, 3 on a cluster)")
}

// waitFor are the options with which a long-running command waits for
// what it needs to start (retry.Until): NATS, the JetStream store, the
// API. failed hears of each failure (the readiness endpoint).
func waitFor(what string, log *slog.Logger, failed func(error)) retry.Options {
	o := retry.Options{What: what, Logger: log, Failed: failed}
	if testHookGiveUp {
		o.Retryable = func(error) bool { return false }
	}
	return o
}

// testHookGiveUp makes the commands give up at the first failure to
// start, as they did before they waited; set only by tests (negative
// controls).
var testHookGiveUp bool

// startAdmin serves the metrics and health endpoints on addr, /healthz
// answering as ready says; the returned function stops it gracefully.
func startAdmin(addr string, reg *prometheus.Registry, ready *httpserver.Readiness, log *slog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("admin listener: %w", err)
	}
	srv := newServer(httpserver.AdminHandler(reg, ready.Healthy), log)
	go srv.Serve(ln)
	return ln.Addr(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), httpserver.ShutdownGrace)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// newRegistry is a metrics registry with the Go runtime's and the
// process's collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %v", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})), lv, nil
}

// apiOptions are chaff api's flags.
type apiOptions struct {
	nats                              natsconn.Config
	anchors                           multiFlag
	listen, ingestListen, adminListen string
	logLevel                          string
	retention                         time.Duration
	cfg                               api.Config // its Anchors, Logger, LogLevel and Registry are set when it starts
	ingestRateText                    string
}

func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apiUsage); fs.PrintDefaults() }
	var o apiOptions
	registerNATS(fs, &o.nats)
	fs.Var(&o.anchors, "anchor", "organisation trust anchor file (repeatable; required)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the API (and of the ingest, unless --ingest-listen)")
	fs.StringVar(&o.ingestListen, "ingest-listen", "", "serve the ingest (POST /user/messages) on this address instead")
	fs.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:9090", "address of the metrics and health endpoints (keep it private)")
	fs.DurationVar(&o.retention, "retention", store.DefaultRetention, "how long dead drops are kept")
	fs.StringVar(&o.cfg.DefaultJournalistID, "default-journalist", "", "journalist id the apps select by default")
	fs.IntVar(&o.cfg.UserDeadDropLimit, "user-dead-drops-limit", api.DefaultUserDeadDropLimit, "most user dead drops per GET")
	fs.IntVar(&o.cfg.JournalistDeadDropLimit, "journalist-dead-drops-limit", api.DefaultJournalistDeadDropLimit, "most journalist dead drops per GET")
	fs.StringVar(&o.ingestRateText, "ingest-rate", api.DefaultIngestRateText, "ingest requests allowed per client: a number a second, or N/s, N/m, N/h (the app sends 2 an hour)")
	fs.IntVar(&o.cfg.IngestBurst, "ingest-burst", api.DefaultIngestBurst, "ingest requests a client may send at once")
	fs.StringVar(&o.cfg.ClientIPHeader, "client-ip-header", "", "header a trusted CDN sets to the client address, for the rate limit")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaff api: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	var err error
	if o.cfg.IngestRate, err = api.ParseRate(o.ingestRateText); err != nil {
		fmt.Fprintf(stderr, "chaff api: --ingest-rate: %v\n", err)
		return errUsage
	}
	if o.cfg.UserDeadDropLimit < 1 || o.cfg.JournalistDeadDropLimit < 1 || o.cfg.IngestBurst < 1 || o.retention <= 0 {
		fmt.Fprintln(stderr, "chaff api: the page limits, --ingest-burst and --retention must be positive")
		return errUsage
	}
	return serveAPI(ctx, &o, stdout, stderr)
}

// serveAPI runs an API replica until ctx ends.
func serveAPI(ctx context.Context, o *apiOptions, stdout, stderr io.Writer) error {
	log, lv, err := newLogger(stderr, o.logLevel)
	if err != nil {
		return err
	}
	if o.cfg.Anchors, err = loadAnchors(o.anchors); err != nil {
		return err
	}
	reg := newRegistry()
	o.cfg.Logger, o.cfg.LogLevel, o.cfg.Registry = log, lv, reg
	// The admin listener first: while NATS and the store are waited for,
	// /healthz says so (503, with the last failure). The API's listeners
	// open only once it can serve, so that a load balancer passes over it.
	var ready httpserver.Readiness
	adminAddr, stopAdmin, err := startAdmin(o.adminListen, reg, &ready, log)
	if err != nil {
		return err
	}
	defer stopAdmin()
	fmt.Fprintf(stdout, "admin listening on http://%s\n", adminAddr)

	nc, err := natsconn.Connect(ctx, o.nats, "chaff-api", log, waitFor("NATS at "+o.nats.URL, log, ready.Failed))
	if err != nil {
		return err
	}
	defer nc.Close()
	// The replica's state follows NATS under bg, which outlives ctx: a
	// graceful stop finishes the requests in flight first.
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := openAPI(ctx, bg, nc, o, waitFor("the JetStream store", log, ready.Failed))
	if err != nil {
		return err
	}
	ready.Ready(func() error {
		if nc.Status() != nats.CONNECTED {
			return errors.New("NATS not connected")
		}
		return nil
	})

	listeners := []httpserver.Listener{{Name: "api", Addr: o.listen, Handler: srv.Handler(o.ingestListen == "")}}
	if o.ingestListen != "" {
		listeners = append(listeners, httpserver.Listener{Name: "ingest", Addr: o.ingestListen, Handler: srv.IngestHandler()})
	}
	log.Info("api started", "replicas", nc.Replicas)
	// Graceful stop: finish every request in flight (each append waits for
	// its acknowledgement), then stop following NATS, then drain it.
	err = httpserver.Serve(ctx, listeners, httpserver.Options{Timeouts: listenerTimeouts, Logger: log}, func(name string, addr net.Addr) {
		fmt.Fprintf(stdout, "%s listening on http://%s\n", name, addr)
	})
	log.Info("api stopping")
	stop()
	log.Info("api stopped")
	return err
}

// openAPI sets up the streams and buckets and the replica that follows
// them (under bg), retrying until it succeeds or ctx ends: on a cluster
// electing leaders a step can time out for a while, and exiting would only
// make a supervisor start the process again.
func openAPI(ctx, bg context.Context, nc *natsconn.Conn, o *apiOptions, wait retry.Options) (*api.Server, error) {
	var srv *api.Server
	wait.Attempt = storeAttempt
	err := retry.Until(ctx, wait, func(actx context.Context) error {
		st, err := store.Open(actx, nc.Conn, store.Config{Replicas: nc.Replicas, DeadDropRetention: o.retention})
		if err != nil {
			return fmt.Errorf("opening the JetStream store: %w", err)
		}
		sctx, cancel := context.WithCancel(bg)
		// Bounded like the attempt while it runs; on success it lives on.
		attemptOver := context.AfterFunc(actx, cancel)
		s, err := api.New(sctx, st, o.cfg)
		if !attemptOver() && err == nil {
			err = actx.Err() // the attempt ended as New returned: sctx is gone
		}
		if err != nil {
			cancel() // stops what the failed New started
			return err
		}
		srv = s
		return nil
	})
	return srv, err
}

// storeAttempt bounds one attempt at opening the store and following it
// (store.Open bounds each of its steps to a few seconds and retries them).
const storeAttempt = time.Minute
