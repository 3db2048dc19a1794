package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// slowClientCut checks that the listener at addr closes a client that
// trickles its request's headers (TestMain shortens the header timeout of
// every listener chaff opens; internal/httpserver's tests hold the
// negative control, a server without timeouts keeping the client).
func slowClientCut(t *testing.T, name, addr string) {
	t.Helper()
	if held, closed := testnet.SlowClient(t, addr, 200*time.Millisecond, 5*listenerTimeouts.ReadHeader); !closed {
		t.Errorf("%s (%s) kept a slow client for %v", name, addr, held)
	}
}

// TestListenersCutSlowClients: chaff covernode's health endpoint, chaff
// identity-api and chaff journalist serve cut off a slow client (chaff
// api's listeners: TestAPICommand; chaff up's: TestUpEndToEnd).
func TestListenersCutSlowClients(t *testing.T) {
	dir := t.TempDir()
	srv, nc := startNATSListening(t, dir, "slow")
	n := testnet.NewNewsroom(t, time.Now())
	a := testnet.StartAPI(t, nc, n, api.Config{})
	_, cnBundle := testnet.Bootstrap(t, a.URL, n, dir)
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	if err := os.WriteFile(anchor, b, 0o644); err != nil {
		t.Fatal(err)
	}
	keysDir := filepath.Join(dir, "keys")
	os.MkdirAll(keysDir, 0o700)
	for role, kp := range map[keys.Role]*keys.KeyPair{keys.CoverNodeProvisioning: n.CNProv, keys.JournalistProvisioning: n.JProv} {
		if _, err := keys.WriteKeyPairFile(keysDir, role, kp); err != nil {
			t.Fatal(err)
		}
	}
	n.AddJournalist("carol")
	vault := filepath.Join(dir, "carol.vault")
	var out syncBuffer
	if code := run(context.Background(), []string{"journalist", "init", "--bundle", n.JournalistBundle("carol", a.URL, dir), "--vault", vault}, &out, &out); code != 0 {
		t.Fatalf("journalist init: %s", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"covernode", []string{"covernode", "--state", filepath.Join(dir, "state"), "--state-key-file", filepath.Join(dir, "state.key"), "--bundle", cnBundle,
			"--api", a.URL, "--anchor", anchor, "--nats", srv.ClientURL(), "--admin-listen", "127.0.0.1:0", "--mixing", "test"}},
		{"identity-api", []string{"identity-api", "--keys", keysDir, "--anchor", anchor, "--api", a.URL, "--listen", "127.0.0.1:0"}},
		{"journalist serve", []string{"journalist", "serve", "--vault", vault, "--listen", "127.0.0.1:0"}},
	} {
		var out syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, c.args, &out, &out) }()
		var m []string
		waitUntil(t, c.name+"'s listener", func() bool {
			select {
			case code := <-done:
				t.Fatalf("%s exited %d:\n%s", c.name, code, out.String())
			default:
			}
			m = addr.FindStringSubmatch(out.String())
			return m != nil
		})
		slowClientCut(t, c.name, m[1])
	}
}

// startNATSListening starts an embedded NATS server on a loopback port
// (for chaff processes to reach at srv.ClientURL()) and connects to it
// in-process; both stop when the test ends.
func startNATSListening(t *testing.T, dir, name string) (*server.Server, *nats.Conn) {
	t.Helper()
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: filepath.Join(dir, "nats"), Name: name, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := embeddednats.ConnectInProcess(srv, "api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}
