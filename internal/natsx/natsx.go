// Package natsx starts embedded NATS servers with JetStream: the default
// single-process deployment, and loopback clusters for tests.
package natsx

import (
	"errors"
	"fmt"
	"net/url"
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
}

// Start starts an embedded NATS server with JetStream and waits until it
// accepts connections.
func Start(o Options) (*server.Server, error) {
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

// ConnectInProcess connects to an embedded server without a socket.
func ConnectInProcess(s *server.Server, name string) (*nats.Conn, error) {
	return nats.Connect("", nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1))
}
