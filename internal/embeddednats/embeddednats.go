// Package embeddednats starts embedded NATS servers with JetStream: the default
// single-process deployment, and loopback clusters for tests.
package embeddednats

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure an embedded server.
type Options struct {
	// StoreDir holds JetStream's files.
	StoreDir string
	// Name is the server's name, unique within a cluster.
	Name string
	// Host and Port of the client listener; Port -1 picks a free one.
	// Port 0 runs without a client listener (in-process connections only).
	Host string
	Port int
	// Cluster, when set, joins a cluster: ClusterName, this server's
	// route listener and the routes to the others.
	ClusterName string
	ClusterPort int
	Routes      []string
	// Token, when set, is the secret every client must present (in-process
	// ones too: pass nats.Token to ConnectInProcess).
	Token string
	// TLS, when set, is required of every client connection.
	TLS *tls.Config
}

// IsLoopback reports whether host (as Options.Host: empty means
// 127.0.0.1) names this machine's loopback interface only.
func IsLoopback(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrExposed is returned by Start for a client listener beyond loopback
// without both TLS and a token, or a cluster listening beyond loopback
// (its routes are not authenticated).
var ErrExposed = errors.New("embeddednats: a NATS server reachable from other machines needs TLS and a token (and no cluster routes)")

// Start starts an embedded NATS server with JetStream and waits until it
// accepts connections.
//
// Whoever reaches a server's client listener can read and write every
// stream and bucket (the replay guard included), so a listener beyond
// loopback is refused without TLS and a token (ErrExposed).
func Start(o Options) (*server.Server, error) {
	if o.Port != 0 && !IsLoopback(o.Host) && (o.TLS == nil || o.Token == "" || o.ClusterName != "") {
		return nil, ErrExposed
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               o.Host,
		Port:               o.Port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		NoSigs:             true,
		NoLog:              true,
		DontListen:         o.Port == 0,
		JetStreamMaxMemory: 64 << 20,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if o.Token != "" {
		opts.Authorization = o.Token
	}
	if o.TLS != nil {
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = o.TLS, true, 5
	}
	if o.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: opts.Host, Port: o.ClusterPort}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("nats: embedded server did not start within 30s")
	}
	return s, nil
}

// ConnectInProcess connects to an embedded server without a socket, with
// opts added (nats.Token for a server with a token).
func ConnectInProcess(s *server.Server, name string, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect("", append([]nats.Option{nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1)}, opts...)...)
}

// TokenSize is the number of random bytes in a token LoadOrCreateToken
// makes (hex-encoded in the file).
const TokenSize = 32

// LoadOrCreateToken reads the token in path, creating the file (mode
// 0600, a fresh random token of TokenSize bytes) when it does not exist.
// A file others may read, or a token shorter than TokenSize hex digits,
// is refused. created reports a new file.
func LoadOrCreateToken(path string) (token string, created bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, TokenSize)
		if _, err := rand.Read(b); err != nil {
			return "", false, err
		}
		token = hex.EncodeToString(b)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", false, fmt.Errorf("embeddednats: %w", err)
		}
		_, err = f.WriteString(token + "\n")
		if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
			return "", false, fmt.Errorf("embeddednats: %w", err)
		}
		return token, true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("embeddednats: %w", err)
	}
	token, err = ReadToken(path)
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = fmt.Errorf("embeddednats: the NATS token %s can be read by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return token, false, err
}

// ReadToken reads a token file made by LoadOrCreateToken (for a client).
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("embeddednats: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 2*TokenSize {
		return "", fmt.Errorf("embeddednats: the NATS token in %s is shorter than %d characters", path, 2*TokenSize)
	}
	return token, nil
}

// Shutdown drains nc (waiting up to 10 seconds for what it has in flight),
// then shuts the embedded server down and waits for it.
func Shutdown(nc *nats.Conn, srv *server.Server) {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err == nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}
