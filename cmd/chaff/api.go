package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/httpserver"
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

// natsFlags select the JetStream the command runs on.
type natsFlags struct {
	url, creds, token, ca, cert, key   string
	dataDir, listen                    string
	listenToken, listenCert, listenKey string
	replicas                           int
}

func (n *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.url, "nats", "", "URL of an external NATS cluster (default: an embedded server)")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&n.token, "nats-token-file", "", "file holding the token to present to NATS (an embedded server's --nats-listen-token-file)")
	fs.StringVar(&n.ca, "nats-tls-ca", "", "CA certificate to verify the NATS servers with")
	fs.StringVar(&n.cert, "nats-tls-cert", "", "client certificate for NATS (with --nats-tls-key)")
	fs.StringVar(&n.key, "nats-tls-key", "", "client key for NATS")
	fs.StringVar(&n.dataDir, "data-dir", "chaff-data", "where the embedded NATS server keeps its files")
	fs.StringVar(&n.listen, "nats-listen", "", "let other processes reach the embedded NATS server at this host:port (default: in-process only); they present the token in --nats-listen-token-file, and beyond loopback need TLS")
	fs.StringVar(&n.listenToken, "nats-listen-token-file", "", "the token --nats-listen requires of every client (default DATA-DIR/"+natsListenTokenFile+", created if missing)")
	fs.StringVar(&n.listenCert, "nats-listen-tls-cert", "", "TLS certificate of --nats-listen (required beyond loopback, with --nats-listen-tls-key)")
	fs.StringVar(&n.listenKey, "nats-listen-tls-key", "", "TLS key of --nats-listen")
	fs.IntVar(&n.replicas, "replicas", 0, "replicas of each stream and bucket (default 1 embedded, 3 on a cluster)")
}

// connect returns a connection to JetStream and a function that closes it
// (and the embedded server) gracefully. A cluster that does not answer
// yet is waited for, as retry.Until does, until ctx ends (failed hears of
// each failure).
func (n *natsFlags) connect(ctx context.Context, name string, log *slog.Logger, failed func(error)) (*nats.Conn, int, func(), error) {
	if n.url != "" {
		opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
		if n.creds != "" {
			opts = append(opts, nats.UserCredentials(n.creds))
		}
		if n.token != "" {
			tok, err := embeddednats.ReadToken(n.token)
			if err != nil {
				return nil, 0, nil, err
			}
			opts = append(opts, nats.Token(tok))
		}
		if n.ca != "" {
			opts = append(opts, nats.RootCAs(n.ca))
		}
		if n.cert != "" || n.key != "" {
			opts = append(opts, nats.ClientCert(n.cert, n.key))
		}
		var nc *nats.Conn
		err := retry.Until(ctx, waitFor("NATS at "+n.url, log, failed), func(context.Context) (err error) {
			if nc, err = nats.Connect(n.url, opts...); err != nil {
				return fmt.Errorf("connecting to NATS at %s: %w", n.url, err)
			}
			return nil
		})
		if err != nil {
			return nil, 0, nil, err
		}
		replicas := n.replicas
		if replicas == 0 {
			replicas = 3
		}
		return nc, replicas, func() { nc.Drain() }, nil
	}
	o := embeddednats.Options{StoreDir: filepath.Join(n.dataDir, "jetstream"), Name: "chaff"}
	var inProcess []nats.Option
	if n.listen != "" {
		if err := n.listenOptions(&o, log); err != nil {
			return nil, 0, nil, err
		}
		inProcess = append(inProcess, nats.Token(o.Token))
	}
	if err := os.MkdirAll(n.dataDir, 0o700); err != nil {
		return nil, 0, nil, err
	}
	srv, err := embeddednats.Start(o)
	if err != nil {
		return nil, 0, nil, err
	}
	nc, err := embeddednats.ConnectInProcess(srv, name, inProcess...)
	if err != nil {
		srv.Shutdown()
		return nil, 0, nil, err
	}
	listening := ""
	if n.listen != "" {
		listening = srv.ClientURL()
	}
	log.Info("embedded NATS JetStream started", "dir", o.StoreDir, "listen", listening)
	replicas := n.replicas
	if replicas == 0 {
		replicas = 1
	}
	return nc, replicas, func() { embeddednats.Shutdown(nc, srv) }, nil
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

// natsListenTokenFile is where --nats-listen's token is kept by default,
// in --data-dir.
const natsListenTokenFile = "nats-listen.token"

// listenOptions sets the client listener of the embedded server from
// --nats-listen: every client presents the token (created on first use),
// and beyond loopback TLS is required as well.
func (n *natsFlags) listenOptions(o *embeddednats.Options, log *slog.Logger) error {
	host, port, err := net.SplitHostPort(n.listen)
	if err != nil {
		return fmt.Errorf("--nats-listen: %w", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("--nats-listen: bad port %q", port)
	}
	o.Host, o.Port = host, int(p)
	if p == 0 {
		o.Port = -1 // any free port (0 would mean no listener)
	}
	if (n.listenCert == "") != (n.listenKey == "") {
		return errors.New("--nats-listen-tls-cert and --nats-listen-tls-key go together")
	}
	if !embeddednats.IsLoopback(host) && n.listenCert == "" {
		return fmt.Errorf("--nats-listen %s is reachable from other machines: whoever reaches it reads and writes every stream and bucket; give it --nats-listen-tls-cert and --nats-listen-tls-key (its clients then use --nats-tls-ca and --nats-token-file), or listen on 127.0.0.1", n.listen)
	}
	if n.listenCert != "" {
		cert, err := tls.LoadX509KeyPair(n.listenCert, n.listenKey)
		if err != nil {
			return fmt.Errorf("--nats-listen-tls-cert: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	path := n.listenToken
	if path == "" {
		if err := os.MkdirAll(n.dataDir, 0o700); err != nil {
			return err
		}
		path = filepath.Join(n.dataDir, natsListenTokenFile)
	}
	tok, created, err := embeddednats.LoadOrCreateToken(path)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the token --nats-listen requires; give it to the other processes with --nats-token-file", "file", path)
	}
	o.Token = tok
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %v", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})), lv, nil
}

func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apiUsage); fs.PrintDefaults() }
	var nf natsFlags
	nf.register(fs)
	var anchors multiFlag
	fs.Var(&anchors, "anchor", "organisation trust anchor file (repeatable; required)")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the API (and of the ingest, unless --ingest-listen)")
	ingestListen := fs.String("ingest-listen", "", "serve the ingest (POST /user/messages) on this address instead")
	adminListen := fs.String("admin-listen", "127.0.0.1:9090", "address of the metrics and health endpoints (keep it private)")
	retention := fs.Duration("retention", store.DefaultRetention, "how long dead drops are kept")
	defaultJournalist := fs.String("default-journalist", "", "journalist id the apps select by default")
	userLimit := fs.Int("user-dead-drops-limit", api.DefaultUserDeadDropLimit, "most user dead drops per GET")
	journalistLimit := fs.Int("journalist-dead-drops-limit", api.DefaultJournalistDeadDropLimit, "most journalist dead drops per GET")
	ingestRateText := fs.String("ingest-rate", api.DefaultIngestRateText, "ingest requests allowed per client: a number a second, or N/s, N/m, N/h (the app sends 2 an hour)")
	ingestBurst := fs.Int("ingest-burst", api.DefaultIngestBurst, "ingest requests a client may send at once")
	clientIPHeader := fs.String("client-ip-header", "", "header a trusted CDN sets to the client address, for the rate limit")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaff api: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	ingestRate, err := api.ParseRate(*ingestRateText)
	if err != nil {
		fmt.Fprintf(stderr, "chaff api: --ingest-rate: %v\n", err)
		return errUsage
	}
	if *userLimit < 1 || *journalistLimit < 1 || *ingestBurst < 1 || *retention <= 0 {
		fmt.Fprintln(stderr, "chaff api: the page limits, --ingest-burst and --retention must be positive")
		return errUsage
	}
	log, lv, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	anchorKeys, err := loadAnchors(anchors)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The admin listener first: while NATS and the store are waited for,
	// /healthz says so (503, with the last failure). The API's listeners
	// open only once it can serve, so that a load balancer passes over it.
	var ready httpserver.Readiness
	adminLn, err := net.Listen("tcp", *adminListen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	adminSrv := newServer(httpserver.AdminHandler(reg, ready.Healthy), log)
	go adminSrv.Serve(adminLn)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), httpserver.ShutdownGrace)
		defer cancel()
		adminSrv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "admin listening on http://%s\n", adminLn.Addr())

	nc, replicas, closeNATS, err := nf.connect(ctx, "chaff-api", log, ready.Failed)
	if err != nil {
		return err
	}
	defer closeNATS()

	// Setting up the streams and buckets, and following them, is retried
	// until it succeeds: on a cluster electing leaders a step can time
	// out for a while, and exiting would only make a supervisor start the
	// process again. The replica's state follows NATS under bg, which
	// outlives ctx: a graceful stop finishes the requests in flight first.
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	var srv *api.Server
	wait := waitFor("the JetStream store", log, ready.Failed)
	wait.Attempt = storeAttempt
	err = retry.Until(ctx, wait, func(actx context.Context) error {
		st, err := store.Open(actx, nc, store.Config{Replicas: replicas, DeadDropRetention: *retention})
		if err != nil {
			return fmt.Errorf("opening the JetStream store: %w", err)
		}
		sctx, cancel := context.WithCancel(bg)
		// Bounded like the attempt while it runs; on success it lives on.
		attemptOver := context.AfterFunc(actx, cancel)
		s, err := api.New(sctx, st, api.Config{
			Anchors: anchorKeys, DefaultJournalistID: *defaultJournalist,
			UserDeadDropLimit: *userLimit, JournalistDeadDropLimit: *journalistLimit,
			IngestRate: ingestRate, IngestBurst: *ingestBurst, ClientIPHeader: *clientIPHeader,
			Logger: log, LogLevel: lv, Registry: reg,
		})
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
	if err != nil {
		return err
	}
	ready.Ready(func() error {
		if nc.Status() != nats.CONNECTED {
			return errors.New("NATS not connected")
		}
		return nil
	})

	listeners := []httpserver.Listener{{Name: "api", Addr: *listen, Handler: srv.Handler(*ingestListen == "")}}
	if *ingestListen != "" {
		listeners = append(listeners, httpserver.Listener{Name: "ingest", Addr: *ingestListen, Handler: srv.IngestHandler()})
	}
	log.Info("api started", "replicas", replicas)
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

// storeAttempt bounds one attempt at opening the store and following it
// (store.Open bounds each of its steps to a few seconds and retries them).
const storeAttempt = time.Minute
