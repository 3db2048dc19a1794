// Package natsconn connects a long-running Chaff command (the API, a
// CoverNode) to the JetStream it runs on: a NATS cluster, waited for
// until it answers, or a server embedded in the process, optionally
// reachable by other processes behind a token and, beyond loopback, TLS.
package natsconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/retry"
	"github.com/nats-io/nats.go"
)

// ListenTokenFile is where the token a listening embedded server requires
// is kept by default, in Config.DataDir.
const ListenTokenFile = "nats-listen.token"

// Config says which JetStream to run on. The messages name the chaff
// flags each field comes from.
type Config struct {
	// URL of a NATS cluster; empty runs an embedded server.
	URL string
	// Credentials to present to the cluster: a creds file, a token file,
	// a CA to verify it with, a client certificate and key.
	Creds, TokenFile, CA, Cert, Key string

	// DataDir holds an embedded server's files.
	DataDir string
	// Listen lets other processes reach the embedded server at host:port
	// (empty: in-process only). Its clients present the token in
	// ListenTokenFile (default DataDir/ListenTokenFile, created if
	// missing); beyond loopback ListenCert and ListenKey are required.
	Listen, ListenTokenFile, ListenCert, ListenKey string

	// Replicas of each stream and bucket; 0 is 1 embedded, 3 on a
	// cluster.
	Replicas int
}

// Conn is a connection to JetStream.
type Conn struct {
	*nats.Conn
	// Replicas the streams and buckets should have.
	Replicas int
	close    func()
}

// Close drains the connection and shuts an embedded server down
// gracefully.
func (c *Conn) Close() { c.close() }

// Connect connects as name. A cluster that does not answer yet is waited
// for as wait says (retry.Until) until ctx ends.
func Connect(ctx context.Context, cfg Config, name string, log *slog.Logger, wait retry.Options) (*Conn, error) {
	if cfg.URL != "" {
		return connectCluster(ctx, cfg, name, wait)
	}
	o := embeddednats.Options{StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Name: "chaff"}
	var inProcess []nats.Option
	if cfg.Listen != "" {
		if err := listenOptions(cfg, &o, log); err != nil {
			return nil, err
		}
		inProcess = append(inProcess, nats.Token(o.Token))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	srv, err := embeddednats.Start(o)
	if err != nil {
		return nil, err
	}
	nc, err := embeddednats.ConnectInProcess(srv, name, inProcess...)
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	listening := ""
	if cfg.Listen != "" {
		listening = srv.ClientURL()
	}
	log.Info("embedded NATS JetStream started", "dir", o.StoreDir, "listen", listening)
	return &Conn{Conn: nc, Replicas: orDefault(cfg.Replicas, 1), close: func() { embeddednats.Shutdown(nc, srv) }}, nil
}

func connectCluster(ctx context.Context, cfg Config, name string, wait retry.Options) (*Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TokenFile != "" {
		tok, err := embeddednats.ReadToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	}
	if cfg.CA != "" {
		opts = append(opts, nats.RootCAs(cfg.CA))
	}
	if cfg.Cert != "" || cfg.Key != "" {
		opts = append(opts, nats.ClientCert(cfg.Cert, cfg.Key))
	}
	var nc *nats.Conn
	err := retry.Until(ctx, wait, func(context.Context) (err error) {
		if nc, err = nats.Connect(cfg.URL, opts...); err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", cfg.URL, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: nc, Replicas: orDefault(cfg.Replicas, 3), close: func() { nc.Drain() }}, nil
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// listenOptions sets the embedded server's client listener from
// cfg.Listen: every client presents the token (created on first use), and
// beyond loopback TLS is required as well.
func listenOptions(cfg Config, o *embeddednats.Options, log *slog.Logger) error {
	host, port, err := net.SplitHostPort(cfg.Listen)
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
	if (cfg.ListenCert == "") != (cfg.ListenKey == "") {
		return errors.New("--nats-listen-tls-cert and --nats-listen-tls-key go together")
	}
	if !embeddednats.IsLoopback(host) && cfg.ListenCert == "" {
		return fmt.Errorf("--nats-listen %s is reachable from other machines: whoever reaches it reads and writes every stream and bucket; give it --nats-listen-tls-cert and --nats-listen-tls-key (its clients then use --nats-tls-ca and --nats-token-file), or listen on 127.0.0.1", cfg.Listen)
	}
	if cfg.ListenCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ListenCert, cfg.ListenKey)
		if err != nil {
			return fmt.Errorf("--nats-listen-tls-cert: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	path := cfg.ListenTokenFile
	if path == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		path = filepath.Join(cfg.DataDir, ListenTokenFile)
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
