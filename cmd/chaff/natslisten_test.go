package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/natsconn"
	"github.com/chaffhq/chaff/internal/retry"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// apiArgs are chaff api's arguments for a test newsroom's anchor in dir,
// every HTTP listener on a free loopback port.
func apiArgs(t *testing.T, dir string, more ...string) []string {
	t.Helper()
	n := testnet.NewNewsroom(t, time.Now())
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	if err := os.WriteFile(anchor, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--anchor", anchor, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0", "--ingest-listen", "127.0.0.1:0"}, more...)
}

// TestNATSListenRefusedBeyondLoopback: chaff api refuses to expose its
// embedded NATS beyond loopback without TLS, before it creates anything.
func TestNATSListenRefusedBeyondLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:4222", "[::]:0", "192.0.2.1:4222", "example.org:4222"} {
		dir := t.TempDir()
		var out syncBuffer
		code := run(context.Background(), append([]string{"api"}, apiArgs(t, dir, "--nats-listen", listen)...), &out, &out)
		if code == 0 || !strings.Contains(out.String(), "reachable from other machines") {
			t.Errorf("--nats-listen %s: exit %d\n%s", listen, code, out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			t.Errorf("--nats-listen %s: the data directory was created before the refusal", listen)
		}
	}
	var out syncBuffer
	if code := run(context.Background(), append([]string{"api"}, apiArgs(t, t.TempDir(), "--nats-listen", "0.0.0.0:4222", "--nats-listen-tls-cert", "c.pem")...), &out, &out); code == 0 {
		t.Errorf("a certificate without its key was taken:\n%s", out.String())
	}
}

// TestNATSListenToken: on loopback, chaff api's embedded NATS requires the
// token it creates (mode 0600) in the data directory: a client without it,
// or with another, is refused; one with it (as chaff covernode connects,
// --nats-token-file) reaches JetStream. Negative control: a server started
// without a token lets the same unauthenticated client in.
func TestNATSListenToken(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	_, done := startAPI(t, ctx, apiArgs(t, dir, "--nats-listen", "127.0.0.1:0"), &logs)
	defer func() { cancel(); <-done }()
	var url string
	waitUntil(t, "the NATS listener in the log", func() bool {
		m := regexp.MustCompile(`"listen":"(nats://127\.0\.0\.1:\d+)"`).FindStringSubmatch(logs.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	tokenFile := filepath.Join(dir, "data", natsconn.ListenTokenFile)
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if strings.Contains(logs.String(), mustRead(t, tokenFile)) {
		t.Error("the token was logged")
	}
	for name, opts := range map[string][]nats.Option{
		"no token":      nil,
		"another token": {nats.Token(strings.Repeat("ab", embeddednats.TokenSize))},
	} {
		if nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(0))...); err == nil {
			nc.Close()
			t.Errorf("a client with %s was let in", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v", name, err)
		}
	}
	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: url, TokenFile: tokenFile}, "test", slog.New(slog.DiscardHandler), retry.Options{})
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc.Conn)
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream with the token: %v", err)
	}

	// Negative control.
	open, err := embeddednats.Start(embeddednats.Options{StoreDir: t.TempDir(), Name: "open", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Shutdown()
	nc2, err := nats.Connect(open.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("negative control: a server without a token refused an unauthenticated client: %v", err)
	}
	nc2.Close()
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
